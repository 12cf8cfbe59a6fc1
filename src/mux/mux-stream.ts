// One multiplexed stream as a Node Duplex: send window, receive window with grants, half-close and reset.
// It does not know the scheduler or the id table: it talks to its mux only through the StreamHost below.
import { Duplex } from 'node:stream';
import { type ErrorCode, XnatError, isErrorCode, isXnatError } from '../errors.ts';
import type { Clock } from '../util/clock.ts';
import { FrameType, type StreamDataFrame } from '../wire/frame.ts';
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
  readonly meta: Buffer;
  readonly host: StreamHost;
  /** Receive window this side wants, in bytes (>= STREAM_INITIAL_WINDOW_BYTES). */
  readonly initialWindow: number;
  /** Largest receive window, in bytes. */
  readonly maxWindow: number;
}

interface PendingWrite {
  readonly chunk: Buffer;
  offset: number;
  readonly cb: (err?: Error | null) => void;
}

/**
 * A tunnelled TCP connection inside a session. Write to send (split into DATA frames within the send
 * window), read what the peer sent; `end()` sends FIN after queued data; `reset(code)` aborts both ways.
 * Errors (peer reset, session gone) arrive as 'error' with an XnatError whose code is also `resetCode`.
 */
export class MuxStream extends Duplex {
  readonly id: number;
  /** The opaque metadata of the STREAM_OPEN (mapping, visitor address: the forward layer's business). */
  readonly meta: Buffer;
  private readonly host: StreamHost;
  private readonly openedAt: number;
  private _resetCode: ErrorCode | undefined;

  // Send side: bytes we may still send, and the one chunk Node hands us at a time.
  private sendCredit = STREAM_INITIAL_WINDOW_BYTES;
  private pending: PendingWrite | undefined;
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
  private pushedBytes = 0;
  private creditedBytes = 0;
  private lastGrantAt: number;
  private readPending = false;
  private finReceived = false;
  private eofPushed = false;
  private released = false;
  private resetDone = false;

  private bytesIn = 0;
  private bytesOut = 0;
  private recvHighWater = 0;

  /** @internal Built by Mux only. */
  constructor(init: MuxStreamInit) {
    // A small readable high-water mark keeps Node's own buffer short, so _read() runs as the application
    // consumes and grants follow consumption closely; the rest waits in recvQueue, inside the window.
    super({
      allowHalfOpen: true,
      readableHighWaterMark: init.host.chunkSize,
      writableHighWaterMark: 4 * init.host.chunkSize,
    });
    this.id = init.id;
    this.meta = init.meta;
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

  get stats(): MuxStreamStats {
    return {
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      openedAt: this.openedAt,
      sendWindow: this.sendCredit,
      recvWindow: this.recvWindow,
      recvBuffered: this.recvQueued + this.readableLength,
      recvHighWater: this.recvHighWater,
    };
  }

  /** Aborts the stream both ways: sends STREAM_RESET with `code` and destroys it with XnatError(code). Idempotent. */
  reset(code: ErrorCode): void {
    if (this.destroyed) return;
    this._resetCode = code;
    this.sendResetOnce(code);
    this.destroy(new XnatError(code));
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
    if (data.length === 0) return undefined;
    this.recvAvailable -= data.length;
    this.bytesIn += data.length;
    this.recvQueue.push(data);
    this.recvQueued += data.length;
    this.recvHighWater = Math.max(this.recvHighWater, this.recvQueued + this.readableLength);
    if (this.readPending) this.flushRead();
    return undefined;
  }

  /** @internal The peer granted `delta` more bytes. */
  onWindow(delta: number): void {
    this.sendCredit += delta;
    if (this.pending) this.host.schedule(this);
  }

  /** @internal The peer half-closed: no more data will come. */
  onFin(): void {
    if (this.finReceived) return;
    this.finReceived = true;
    this.flushRead();
    this.maybeRelease();
  }

  /** @internal The peer aborted the stream. */
  onReset(code: string): void {
    if (this.destroyed) return;
    const known: ErrorCode = isErrorCode(code) ? code : 'XNAT_ERR_MUX_RESET';
    this._resetCode = known;
    this.resetDone = true; // never answer a RESET with a RESET
    this.host.resetReceived(this, known);
    this.destroy(
      new XnatError(known, { detail: known === code ? 'reset by peer' : 'reset by peer, unknown code' }),
    );
  }

  /** @internal The session ended: destroy with `code`, sending nothing. */
  abort(code: ErrorCode): void {
    if (this.destroyed) return;
    this._resetCode = code;
    this.resetDone = true;
    this.destroy(new XnatError(code));
  }

  /** @internal True when a chunk waits and the window allows at least one byte of it. */
  get sendable(): boolean {
    return this.pending !== undefined && this.sendCredit > 0 && !this.destroyed;
  }

  /** @internal One scheduler turn: one DATA frame of at most turnBytes() bytes, referencing the written chunk. */
  sendNext(): void {
    const p = this.pending;
    if (!p) return;
    const n = Math.min(this.host.turnBytes(), this.sendCredit, p.chunk.length - p.offset);
    const data = n === p.chunk.length ? p.chunk : p.chunk.subarray(p.offset, p.offset + n);
    p.offset += n;
    this.sendCredit -= n;
    this.bytesOut += n;
    this.host.sendData({ type: FrameType.STREAM_DATA, streamId: this.id, data });
    if (p.offset === p.chunk.length) {
      this.pending = undefined;
      p.cb();
    }
  }

  // ---- Duplex implementation

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (chunk.length === 0) return cb();
    this.pending = { chunk, offset: 0, cb };
    if (this.sendCredit > 0) this.host.schedule(this);
  }

  override _final(cb: (err?: Error | null) => void): void {
    // Node calls _final only after every _write callback, so all data is already with the transport.
    if (!this.host.transportClosed()) this.host.sendFin(this.id);
    this.finSent = true;
    this.maybeRelease();
    cb();
  }

  override _read(): void {
    this.readPending = true;
    const before = this.pushedBytes;
    this.flushRead();
    // Pushing nothing would leave Node's "reading" flag set, and it would not call _read() again as the
    // application consumes what is buffered; an empty push clears it (documented Node behaviour), so
    // every consumption reaches maybeGrant().
    if (this.pushedBytes === before && !this.eofPushed && !this.destroyed) this.push(Buffer.alloc(0));
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const finished = this.finSent && this.finReceived;
    if (!finished && !this.host.transportClosed()) {
      // Destroyed by the application before both directions ended: the peer must not wait forever.
      const code: ErrorCode = isXnatError(err) ? err.code : 'XNAT_ERR_MUX_RESET';
      this._resetCode ??= code;
      this.sendResetOnce(code);
    }
    this.pending = undefined;
    this.recvQueue.length = 0;
    this.recvQueued = 0;
    this.released = true;
    this.giveBackBudget();
    this.host.release(this);
    cb(err);
  }

  // ---- internals

  private sendResetOnce(code: ErrorCode): void {
    if (this.resetDone || this.host.transportClosed() || (this.finSent && this.finReceived)) return;
    this.resetDone = true;
    this.host.sendReset(this.id, code);
  }

  /** Moves queued data into Node's buffer while it wants more, then EOF after the peer's FIN. */
  private flushRead(): void {
    while (this.readPending && this.recvQueue.length > 0 && !this.destroyed) {
      const chunk = this.recvQueue.shift()!;
      this.recvQueued -= chunk.length;
      this.pushedBytes += chunk.length;
      if (!this.push(chunk)) this.readPending = false;
    }
    if (this.finReceived && this.recvQueue.length === 0 && !this.eofPushed && !this.destroyed) {
      this.eofPushed = true;
      this.push(null);
    }
    this.maybeGrant();
  }

  /** Grants the peer what the application consumed once that reaches half the window; grows the window if the reader keeps up. */
  private maybeGrant(): void {
    if (this.finReceived || this.destroyed || this.host.transportClosed()) return;
    const consumed = this.pushedBytes - this.readableLength - this.creditedBytes;
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

  /** Once per stream, however it ends: the window it grew by is free for the session's other streams. */
  private giveBackBudget(): void {
    if (this.budgetTaken === 0) return;
    this.host.returnWindowBudget(this.budgetTaken);
    this.budgetTaken = 0;
  }
}
