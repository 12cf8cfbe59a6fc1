// One multiplexed stream, no Node stream machinery: send queue and window, receive window with grants,
// half-close and reset, read through one ByteReader (the TCP pipe, or the Duplex adapter of mux-duplex.ts).
// It does not know the scheduler or the id table: it talks to its mux only through the StreamHost below.
import { EventEmitter } from 'node:events';
import { type ErrorCode, isErrorCode } from '../errors.ts';
import type { Clock } from '../util/clock.ts';
import { FrameType, type StreamDataFrame } from '../wire/frame.ts';
import type { ByteReader, ByteStream } from './byte-stream.ts';
import {
  STREAM_INITIAL_WINDOW_BYTES,
  WINDOW_GROWTH_MIN_RTT_MS,
  WINDOW_GROWTH_RTTS,
} from './mux-transport.ts';

/** What a stream needs from its mux. Internal to src/mux/. */
export interface StreamHost {
  readonly clock: Clock;
  /** DATA payload per turn while other streams wait, in bytes (sizes the stream's buffers). */
  readonly chunkSize: number;
  /**
   * Largest DATA payload of this turn, in bytes: MAX_FRAME_PAYLOAD for a stream sending alone, chunkSize
   * while others wait, less when that tops off the link record being filled.
   */
  turnBytes(): number;
  /** True once the transport is gone: no frame can be sent any more. */
  transportClosed(): boolean;
  /** Smoothed round trip of the link in milliseconds, or 0 when unknown. */
  rttMs(): number;
  /** Sends a control frame (WINDOW, FIN, RESET) at once, ahead of queued stream data. */
  sendWindow(streamId: number, delta: number): void;
  sendFin(streamId: number): void;
  sendReset(streamId: number, code: ErrorCode): void;
  /** Hands one DATA frame to the transport; only called from the scheduler's turn. */
  sendData(frame: StreamDataFrame): void;
  /** The stream has data and window: give it turns. */
  schedule(stream: MuxStream): void;
  /** Both FINs crossed or the stream was destroyed: drop it from the id table and the scheduler. */
  release(stream: MuxStream): void;
  /** Asks the session's window budget for up to `bytes` of growth; returns what it grants (may be 0). */
  takeWindowBudget(bytes: number): number;
  /** Gives growth taken with takeWindowBudget back (the stream is done with it). */
  returnWindowBudget(bytes: number): void;
  /** The peer reset this stream (for the mux's counters and log). */
  resetReceived(stream: MuxStream, code: ErrorCode): void;
}

/** Per-stream figures. Bytes are stream payload bytes (no frame headers); times are Clock milliseconds. */
export interface MuxStreamStats {
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly openedAt: number;
  /** Bytes the peer may still send before it must wait for a grant. */
  readonly sendWindow: number;
  /** Current receive window (grows from the initial window up to the maximum while the reader keeps up). */
  readonly recvWindow: number;
  /** Bytes received and not yet read by the application (never above recvWindow). */
  readonly recvBuffered: number;
  /** Highest recvBuffered seen. */
  readonly recvHighWater: number;
}

/** How a stream is built by its mux. */
export interface MuxStreamInit {
  readonly id: number;
  readonly host: StreamHost;
  /** Receive window this side wants, in bytes (>= STREAM_INITIAL_WINDOW_BYTES). */
  readonly initialWindow: number;
  /** Largest receive window, in bytes. */
  readonly maxWindow: number;
}

/**
 * Bytes written and not yet sent at which write() says "stop": one 64 KiB socket read, as a Node
 * Writable's buffer of 4 chunks held before; 'drain' comes once the queue is down to half of it.
 */
export const STREAM_WRITE_HIGH_WATER_BYTES = 64 * 1024;

interface QueuedWrite {
  readonly chunk: Buffer;
  offset: number;
  /** Called once the whole chunk was handed to the transport (the Duplex adapter's write callback). */
  readonly onSent: (() => void) | undefined;
}

/** The reader of a stream nobody reads yet: nothing is delivered to it (setReader replaces it). */
const NO_READER: ByteReader = {
  data: () => false,
  end: () => undefined,
  drain: () => undefined,
  close: () => undefined,
};

/**
 * A tunnelled TCP connection inside a session. write() to send (split into DATA frames within the send
 * window); what the peer sent goes to the reader; end() sends FIN after queued data; reset(code) aborts
 * both ways. Emits only 'close' (once, after the reader's close). A Duplex: duplexOf() in mux-duplex.ts.
 */
export class MuxStream extends EventEmitter implements ByteStream {
  readonly id: number;
  // No copy of the STREAM_OPEN's metadata: the 'stream' event hands it over once, and an idle stream
  // should not keep its buffer (issue 10).
  private readonly host: StreamHost;
  private readonly openedAt: number;
  private _resetCode: ErrorCode | undefined;
  private reader: ByteReader = NO_READER;
  private hasReader = false;

  // Send side: bytes we may still send, and what was written and waits for window or a turn.
  private sendCredit = STREAM_INITIAL_WINDOW_BYTES;
  private readonly sendQueue: QueuedWrite[] = [];
  private sendQueued = 0;
  private needDrain = false;
  private finWanted = false;
  private finSent = false;

  // Receive side (yamux's recvWindow): granted = credited + recvWindow at all times, so what is buffered
  // (received - consumed) can never exceed recvWindow.
  private recvWindow = STREAM_INITIAL_WINDOW_BYTES;
  private readonly maxWindow: number;
  private recvAvailable = STREAM_INITIAL_WINDOW_BYTES;
  /** Growth of recvWindow taken from the session's budget, given back once when the stream is released. */
  private budgetTaken = 0;
  private readonly recvQueue: Buffer[] = [];
  private recvQueued = 0;
  private deliveredBytes = 0;
  private creditedBytes = 0;
  private lastGrantAt: number;
  /** The reader said "no more" (or there is none yet). */
  private readPaused = true;
  private finReceived = false;
  private endDelivered = false;
  private released = false;
  private resetDone = false;
  private over = false;

  private bytesIn = 0;
  private bytesOut = 0;
  private recvHighWater = 0;

  /** @internal Built by Mux only. */
  constructor(init: MuxStreamInit) {
    super();
    this.id = init.id;
    this.host = init.host;
    this.openedAt = init.host.clock.now();
    this.lastGrantAt = this.openedAt;
    this.maxWindow = Math.max(init.maxWindow, init.initialWindow, STREAM_INITIAL_WINDOW_BYTES);
    const extra = Math.max(0, init.initialWindow - STREAM_INITIAL_WINDOW_BYTES);
    this.recvWindow += extra;
    this.recvAvailable += extra;
  }

  /** The code this stream was reset with, by either side or by its session ending; undefined otherwise. */
  get resetCode(): ErrorCode | undefined {
    return this._resetCode;
  }

  /** True once the stream is over: both directions ended, or it was reset or aborted. */
  get destroyed(): boolean {
    return this.over;
  }

  /** The DATA payload per turn while other streams wait (the Duplex adapter sizes its buffers by it). */
  get chunkSize(): number {
    return this.host.chunkSize;
  }

  get stats(): MuxStreamStats {
    return {
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      openedAt: this.openedAt,
      sendWindow: this.sendCredit,
      recvWindow: this.recvWindow,
      recvBuffered: this.recvQueued + (this.reader.buffered?.() ?? 0),
      recvHighWater: this.recvHighWater,
    };
  }

  setReader(reader: ByteReader): void {
    this.reader = reader;
    this.hasReader = true;
    if (this.over) {
      reader.close(this._resetCode);
      return;
    }
    this.readPaused = false;
    this.flushRead();
    this.maybeClose();
  }

  write(chunk: Buffer, onSent?: () => void): boolean {
    if (this.over || this.finWanted) return false;
    if (chunk.length === 0) {
      onSent?.();
      return true;
    }
    this.sendQueue.push({ chunk, offset: 0, onSent });
    this.sendQueued += chunk.length;
    if (this.sendCredit > 0) this.host.schedule(this);
    if (this.sendQueued < STREAM_WRITE_HIGH_WATER_BYTES) return true;
    this.needDrain = true;
    return false;
  }

  end(): void {
    if (this.over || this.finWanted) return;
    this.finWanted = true;
    if (this.sendQueue.length === 0) this.sendFinNow();
  }

  /** Also after the reader consumed buffered bytes (the Duplex adapter's _read): grants follow. */
  resume(): void {
    if (this.over) return;
    this.readPaused = false;
    this.flushRead();
    this.maybeClose();
  }

  /** Aborts the stream both ways: sends STREAM_RESET with `code`; the reader's close gets `code`. Idempotent. */
  reset(code: ErrorCode): void {
    if (this.over) return;
    this._resetCode = code;
    this.sendResetOnce(code);
    this.terminate(code, undefined);
  }

  /**
   * Ends the stream without a code of its own (the Duplex adapter destroyed without an error): when both
   * directions had not ended yet, the peer must not wait forever, so it gets XNAT_ERR_MUX_RESET.
   */
  destroy(): void {
    if (this.over) return;
    if (!(this.finSent && this.finReceived) && !this.host.transportClosed()) {
      this._resetCode ??= 'XNAT_ERR_MUX_RESET';
      this.sendResetOnce('XNAT_ERR_MUX_RESET');
    }
    this.terminate(this._resetCode, undefined);
  }

  // ---- called by the mux

  /** @internal Extra receive window beyond the protocol's initial one, granted right after the open. */
  extraInitialWindow(): number {
    return this.recvWindow - STREAM_INITIAL_WINDOW_BYTES;
  }

  /** @internal First bytes sent inside our STREAM_OPEN: they use send window like DATA. */
  consumeOpenCredit(n: number): void {
    this.sendCredit -= n;
    this.bytesOut += n;
  }

  /** @internal Payload of an OPEN or DATA frame; returns the violated rule's code, or undefined. */
  onData(data: Buffer): ErrorCode | undefined {
    if (this.finReceived) return 'XNAT_ERR_MUX_PROTOCOL';
    if (data.length > this.recvAvailable) return 'XNAT_ERR_MUX_WINDOW_EXCEEDED';
    if (data.length === 0 || this.over) return undefined;
    this.recvAvailable -= data.length;
    this.bytesIn += data.length;
    if (!this.readPaused && this.recvQueue.length === 0) {
      // The common case: the reader takes it at once, no queue.
      this.deliveredBytes += data.length;
      if (!this.reader.data(data)) this.readPaused = true;
      this.noteHighWater();
      this.maybeGrant();
      return undefined;
    }
    this.recvQueue.push(data);
    this.recvQueued += data.length;
    this.noteHighWater();
    return undefined;
  }

  /** @internal The peer granted `delta` more bytes. */
  onWindow(delta: number): void {
    this.sendCredit += delta;
    if (this.sendQueue.length > 0) this.host.schedule(this);
  }

  /** @internal The peer half-closed: no more data will come. */
  onFin(): void {
    if (this.finReceived || this.over) return;
    this.finReceived = true;
    this.flushRead();
    this.maybeRelease();
    this.maybeClose();
  }

  /** @internal The peer aborted the stream. */
  onReset(code: string): void {
    if (this.over) return;
    const known: ErrorCode = isErrorCode(code) ? code : 'XNAT_ERR_MUX_RESET';
    this._resetCode = known;
    this.resetDone = true; // never answer a RESET with a RESET
    this.host.resetReceived(this, known);
    this.terminate(known, known === code ? 'reset by peer' : 'reset by peer, unknown code');
  }

  /** @internal The session ended: over with `code`, sending nothing. */
  abort(code: ErrorCode): void {
    if (this.over) return;
    this._resetCode = code;
    this.resetDone = true;
    this.terminate(code, undefined);
  }

  /** @internal True when bytes wait and the window allows at least one of them. */
  get sendable(): boolean {
    return this.sendQueue.length > 0 && this.sendCredit > 0 && !this.over;
  }

  /** @internal One scheduler turn: one DATA frame of at most turnBytes() bytes, referencing the written chunk. */
  sendNext(): void {
    const p = this.sendQueue[0];
    if (!p) return;
    const n = Math.min(this.host.turnBytes(), this.sendCredit, p.chunk.length - p.offset);
    const data = n === p.chunk.length ? p.chunk : p.chunk.subarray(p.offset, p.offset + n);
    p.offset += n;
    this.sendCredit -= n;
    this.sendQueued -= n;
    this.bytesOut += n;
    this.host.sendData({ type: FrameType.STREAM_DATA, streamId: this.id, data });
    if (p.offset < p.chunk.length) return;
    this.sendQueue.shift();
    if (this.sendQueue.length === 0 && this.finWanted) this.sendFinNow();
    p.onSent?.();
    if (this.needDrain && this.sendQueued <= STREAM_WRITE_HIGH_WATER_BYTES / 2 && !this.over) {
      this.needDrain = false;
      this.reader.drain();
    }
  }

  // ---- internals

  private sendFinNow(): void {
    if (this.finSent) return;
    if (!this.host.transportClosed()) this.host.sendFin(this.id);
    this.finSent = true;
    this.maybeRelease();
    this.maybeClose();
  }

  private sendResetOnce(code: ErrorCode): void {
    if (this.resetDone || this.host.transportClosed() || (this.finSent && this.finReceived)) return;
    this.resetDone = true;
    this.host.sendReset(this.id, code);
  }

  /** Over, however it ended: drops what waits, frees the id and the window, tells the reader, then 'close'. */
  private terminate(code: ErrorCode | undefined, detail: string | undefined): void {
    this.over = true;
    this.sendQueue.length = 0;
    this.sendQueued = 0;
    this.recvQueue.length = 0;
    this.recvQueued = 0;
    this.released = true;
    this.giveBackBudget();
    this.host.release(this);
    if (this.hasReader) this.reader.close(code, detail);
    this.emit('close');
  }

  private noteHighWater(): void {
    const buffered = this.recvQueued + (this.reader.buffered?.() ?? 0);
    if (buffered > this.recvHighWater) this.recvHighWater = buffered;
  }

  /** Hands queued data to the reader while it wants more, then the FIN; grants what was consumed. */
  private flushRead(): void {
    while (!this.readPaused && this.recvQueue.length > 0 && !this.over) {
      const chunk = this.recvQueue.shift()!;
      this.recvQueued -= chunk.length;
      this.deliveredBytes += chunk.length;
      if (!this.reader.data(chunk)) this.readPaused = true;
    }
    if (
      this.finReceived &&
      this.recvQueue.length === 0 &&
      !this.endDelivered &&
      this.hasReader &&
      !this.over
    ) {
      this.endDelivered = true;
      this.reader.end();
    }
    this.maybeGrant();
  }

  /** Grants the peer what the reader consumed once that reaches half the window; grows the window if the reader keeps up. */
  private maybeGrant(): void {
    if (this.finReceived || this.over || this.host.transportClosed()) return;
    const consumed = this.deliveredBytes - (this.reader.buffered?.() ?? 0) - this.creditedBytes;
    if (consumed < this.recvWindow / 2) return;
    const now = this.host.clock.now();
    let growth = 0;
    const rtt = Math.max(this.host.rttMs(), WINDOW_GROWTH_MIN_RTT_MS);
    if (this.recvWindow < this.maxWindow && now - this.lastGrantAt < WINDOW_GROWTH_RTTS * rtt) {
      const wanted = Math.min(this.maxWindow, this.recvWindow * 2) - this.recvWindow;
      growth = this.host.takeWindowBudget(wanted);
      this.budgetTaken += growth;
      this.recvWindow += growth;
    }
    this.lastGrantAt = now;
    this.creditedBytes += consumed;
    this.recvAvailable += consumed + growth;
    this.host.sendWindow(this.id, consumed + growth);
  }

  private maybeRelease(): void {
    if (this.finSent && this.finReceived && !this.released) {
      this.released = true;
      this.giveBackBudget();
      this.host.release(this);
    }
  }

  /** Both FINs crossed and the reader has the peer's: the stream is over, cleanly. */
  private maybeClose(): void {
    if (this.over || !this.finSent || !this.endDelivered) return;
    this.over = true;
    this.reader.close(undefined);
    this.emit('close');
  }

  /** Once per stream, however it ends: the window it grew by is free for the session's other streams. */
  private giveBackBudget(): void {
    if (this.budgetTaken === 0) return;
    this.host.returnWindowBudget(this.budgetTaken);
    this.budgetTaken = 0;
  }
}
