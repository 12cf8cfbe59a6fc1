// The stream multiplexer of one session side: stream ids, the fair round-robin scheduler, and the command
// and datagram lanes. It knows frames, not bytes on a link: ordering and replay are the transport's job.
import { EventEmitter } from 'node:events';
import { type ErrorCode, XnatError, isXnatError } from '../errors.ts';
import { type Logger, silentLogger } from '../observe/log.ts';
import { type Clock, realClock } from '../util/clock.ts';
import {
  type Frame,
  FrameType,
  MAX_FRAME_PAYLOAD,
  MAX_OPEN_META_BYTES,
  type StreamOpenFrame,
} from '../wire/frame.ts';
import { encodedLength } from '../wire/codec.ts';
import { MuxStream, type StreamHost } from './mux-stream.ts';
import { makeStreamHost } from './stream-host.ts';
import { type MuxStats, newMuxCounters } from './mux-stats.ts';
import { MuxDuplex } from './mux-duplex.ts';
import { RecordFill } from './record-fill.ts';
import { RoundRobin } from './round-robin.ts';
import { HeldOpens } from './held-opens.ts';
import { CapLog } from '../observe/cap-log.ts';
import {
  type DatagramRoute,
  MAX_STREAMS,
  MAX_STREAM_ID,
  type MuxRole,
  type MuxTransport,
  STREAM_CHUNK_BYTES,
  STREAM_INITIAL_WINDOW_BYTES,
  STREAM_MAX_WINDOW_BYTES,
  SESSION_WINDOW_BUDGET_BYTES,
} from './mux-transport.ts';

export { MuxStream, type MuxStreamStats } from './mux-stream.ts';
export { MuxDuplex, duplexOf } from './mux-duplex.ts';
export type { ByteReader, ByteStream } from './byte-stream.ts';
export type { DatagramRoute, MuxRole, MuxTransport } from './mux-transport.ts';
export type { MuxStats } from './mux-stats.ts';

/** Mux settings; sizes in bytes. */
export interface MuxOptions {
  /** Relay-opened stream ids are odd, agent-opened even. */
  readonly role: MuxRole;
  /** Receive window of each stream; default and minimum 256 KiB (the protocol's initial window). */
  readonly initialWindow?: number;
  /** Largest receive window a stream grows to while its reader keeps up; default 16 MiB. */
  readonly maxWindow?: number;
  /** How far all streams' receive windows may grow together beyond their initial ones; default 16 MiB. */
  readonly windowBudget?: number;
  /** Streams open at once, this side's limit for both directions; default 4096. */
  readonly maxStreams?: number;
  /**
   * Largest DATA payload per scheduler turn while other streams wait; default 16 KiB, at most
   * MAX_FRAME_PAYLOAD. A stream sending alone gets frames of up to MAX_FRAME_PAYLOAD (full link records).
   */
  readonly chunkSize?: number;
  /**
   * What 'stream' hands over for a stream the peer opens: a MuxDuplex (default), or the bare MuxStream
   * (false) for a byte path that reads and writes it directly (the TCP pipe).
   */
  readonly duplexStreams?: boolean;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** How openStream sends the open. */
export interface OpenOptions {
  /**
   * Hold the STREAM_OPEN until the stream's first DATA and send that inside it (one frame, and the peer
   * has the bytes when it sees the stream); if none comes, the open goes out at the end of the next loop
   * iteration (a service that speaks first waits that long, never a timer).
   */
  readonly holdForFirstBytes?: boolean;
}

/**
 * Events: 'stream' (stream: MuxDuplex, or MuxStream without duplexStreams, meta: Buffer) for each stream the peer opens; 'command' (body:
 * Buffer); 'datagram' (flowId: number, data: Buffer); 'drain' when the transport takes data again after
 * a false from sendCommand; 'closed' (err?: XnatError) once, when the mux is finished.
 */
export class Mux extends EventEmitter {
  private readonly transport: MuxTransport;
  private readonly role: MuxRole;
  private readonly initialWindow: number;
  private readonly maxWindow: number;
  private readonly maxStreams: number;
  private readonly chunkSize: number;
  private readonly duplexStreams: boolean;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly table = new Map<number, MuxStream>();
  private readonly host: StreamHost;
  private nextId: number;
  private highestPeerId = 0;
  /** Streams with data and send window, served one chunk per turn. */
  private readonly ready = new RoundRobin<MuxStream>();
  /** The link record being filled, from this mux's frames: DATA frames top it off. */
  private readonly fill = new RecordFill();
  /** Visitor opens waiting for their first bytes (open()'s holdForFirstBytes). */
  private readonly held = new HeldOpens(
    (open, data) => this.sendOpen(open, data),
    () => !this.transportClosed && !this.finished,
  );
  private transportClosed = false;
  private closing = false;
  private finished = false;
  private readonly counters = newMuxCounters();
  private readonly capLog: CapLog;

  constructor(transport: MuxTransport, opts: MuxOptions) {
    super();
    this.transport = transport;
    this.role = opts.role;
    this.initialWindow = Math.max(
      STREAM_INITIAL_WINDOW_BYTES,
      opts.initialWindow ?? STREAM_INITIAL_WINDOW_BYTES,
    );
    // Grants travel as u32 deltas; a window far below 2 GiB keeps every delta in range.
    this.maxWindow = Math.min(
      2 ** 30,
      Math.max(this.initialWindow, opts.maxWindow ?? STREAM_MAX_WINDOW_BYTES),
    );
    this.maxStreams = Math.max(1, opts.maxStreams ?? MAX_STREAMS);
    this.chunkSize = Math.min(MAX_FRAME_PAYLOAD, Math.max(1, opts.chunkSize ?? STREAM_CHUNK_BYTES));
    this.duplexStreams = opts.duplexStreams ?? true;
    this.clock = opts.clock ?? realClock;
    this.logger = opts.logger ?? silentLogger();
    this.nextId = this.role === 'relay' ? 1 : 2;
    this.host = makeStreamHost({
      clock: this.clock,
      chunkSize: this.chunkSize,
      transport,
      ready: this.ready,
      fill: this.fill,
      counters: this.counters,
      logger: this.logger,
      windowBudget: opts.windowBudget ?? SESSION_WINDOW_BUDGET_BYTES,
      transportClosed: () => this.transportClosed,
      reliable: (frame) => this.reliable(frame),
      sendReset: (streamId, code) => this.sendReset(streamId, code),
      pump: () => this.pump(),
      release: (stream) => this.release(stream),
    });
    this.capLog = new CapLog(this.logger, this.clock, 'stream replies dropped');
    transport.on('frame', this.onFrame);
    transport.on('drain', this.onDrain);
    transport.on('closed', this.onTransportClosed);
  }

  /** Streams not yet finished (both FINs crossed) nor destroyed, by id. */
  get streams(): ReadonlyMap<number, MuxStream> {
    return this.table;
  }

  get stats(): MuxStats {
    return { ...this.counters, streamsOpen: this.table.size };
  }

  /** open() as a Duplex (MuxDuplex): for callers that want Node streams. Same errors. */
  openStream(meta: Buffer, firstData?: Buffer, opts: OpenOptions = {}): MuxDuplex {
    return this.asDuplex(this.open(meta, firstData, opts));
  }

  /**
   * Opens a stream to the peer. `meta` (at most 4 KiB) travels in the STREAM_OPEN; so do the first bytes of
   * `firstData` that fit one chunk (no extra round trip), the rest follows as ordinary writes. With
   * `holdForFirstBytes` (and no firstData) the open waits for the stream's first DATA and carries it.
   * Throws XNAT_ERR_MUX_CLOSED, _STREAM_LIMIT, _IDS_EXHAUSTED or _MESSAGE_SIZE.
   */
  open(meta: Buffer, firstData?: Buffer, opts: OpenOptions = {}): MuxStream {
    if (this.closing || this.finished) throw new XnatError('XNAT_ERR_MUX_CLOSED');
    if (meta.length > MAX_OPEN_META_BYTES) {
      throw new XnatError('XNAT_ERR_MUX_MESSAGE_SIZE', { detail: `meta ${meta.length} bytes` });
    }
    if (this.table.size >= this.maxStreams) {
      throw new XnatError('XNAT_ERR_MUX_STREAM_LIMIT', { detail: `limit ${this.maxStreams}` });
    }
    if (this.nextId > MAX_STREAM_ID) throw new XnatError('XNAT_ERR_MUX_IDS_EXHAUSTED');
    const id = this.nextId;
    this.nextId += 2;
    const stream = this.addStream(id);
    this.counters.streamsOpened++;
    let first: Buffer = Buffer.alloc(0);
    if (firstData && firstData.length > 0 && this.transport.writable) {
      const room = Math.min(this.chunkSize, MAX_FRAME_PAYLOAD - 2 - meta.length);
      first = firstData.length <= room ? firstData : firstData.subarray(0, room);
      stream.consumeOpenCredit(first.length);
    }
    const open: StreamOpenFrame = { type: FrameType.STREAM_OPEN, streamId: id, meta, data: first };
    if (opts.holdForFirstBytes && first.length === 0 && !this.transportClosed) {
      this.held.hold(open); // its extra window follows the open (sendOpen)
    } else {
      this.reliable(open);
      this.grantExtraInitial(stream);
    }
    if (firstData && first.length < firstData.length) stream.write(firstData.subarray(first.length));
    this.logger.debug({ streamId: id, firstBytes: first.length }, 'stream opened');
    return stream;
  }

  /**
   * Sends one datagram of flow `flowId` best effort (`route`: see MuxTransport.sendDatagram); false when
   * it was dropped (counted).
   */
  sendDatagram(flowId: number, data: Buffer, route: DatagramRoute = 'any'): boolean {
    if (!Number.isInteger(flowId) || flowId < 0 || flowId > MAX_STREAM_ID) {
      throw new XnatError('XNAT_ERR_INTERNAL', { detail: 'flowId is not a u32' });
    }
    if (this.finished || data.length > MAX_FRAME_PAYLOAD) {
      this.counters.datagramsDropped++;
      return false;
    }
    const frame: Frame = { type: FrameType.DATAGRAM, flowId, data };
    const sent = this.transport.sendDatagram(frame, route);
    if (sent) this.fill.sent(encodedLength(frame));
    if (sent) this.counters.datagramsSent++;
    else this.counters.datagramsDropped++;
    return sent;
  }

  /**
   * Sends one COMMAND frame (reliable, ordered), ahead of any queued stream data. The body is always
   * accepted; false means back off until 'drain'. Throws XNAT_ERR_MUX_MESSAGE_SIZE (empty or over 64 KiB)
   * or XNAT_ERR_MUX_CLOSED.
   */
  sendCommand(body: Buffer): boolean {
    if (this.finished) throw new XnatError('XNAT_ERR_MUX_CLOSED');
    if (body.length === 0 || body.length > MAX_FRAME_PAYLOAD) {
      throw new XnatError('XNAT_ERR_MUX_MESSAGE_SIZE', { detail: `command body ${body.length} bytes` });
    }
    this.counters.commandsSent++;
    return this.reliable({ type: FrameType.COMMAND, body });
  }

  /** Resets every open stream with `code` (STREAM_RESET sent while the transport lives). */
  resetAll(code: ErrorCode): void {
    for (const stream of [...this.table.values()]) stream.reset(code);
  }

  /** Graceful: refuses new streams both ways, lets open ones finish, then emits 'closed'. Idempotent. */
  close(): void {
    if (this.closing || this.finished) return;
    this.closing = true;
    this.maybeFinish();
  }

  /** Immediate: resets every stream (with err's code, else XNAT_ERR_MUX_CLOSED) and emits 'closed' (err). Idempotent. */
  destroy(err?: XnatError): void {
    if (this.finished) return;
    const code: ErrorCode = err?.code ?? 'XNAT_ERR_MUX_CLOSED';
    for (const stream of [...this.table.values()]) {
      if (this.transportClosed) stream.abort(code);
      else stream.reset(code);
    }
    this.finish(err);
  }

  // ---- receiving

  private readonly onFrame = (frame: Frame): void => {
    if (this.finished) return;
    switch (frame.type) {
      case FrameType.STREAM_OPEN:
        return this.onOpen(frame);
      case FrameType.STREAM_DATA: {
        const stream = this.table.get(frame.streamId);
        if (!stream) return this.onStray(frame.streamId, true);
        this.counters.bytesIn += frame.data.length;
        const bad = stream.onData(frame.data);
        if (bad) this.violation(stream, bad);
        return;
      }
      case FrameType.STREAM_WINDOW: {
        const stream = this.table.get(frame.streamId);
        if (stream) stream.onWindow(frame.delta);
        else this.onStray(frame.streamId, true);
        return;
      }
      case FrameType.STREAM_FIN: {
        const stream = this.table.get(frame.streamId);
        if (stream) stream.onFin();
        else this.onStray(frame.streamId, true);
        return;
      }
      case FrameType.STREAM_RESET: {
        const stream = this.table.get(frame.streamId);
        if (stream) stream.onReset(frame.code);
        else this.onStray(frame.streamId, false);
        return;
      }
      case FrameType.COMMAND:
        this.counters.commandsReceived++;
        this.emit('command', frame.body);
        return;
      case FrameType.DATAGRAM:
        this.counters.datagramsReceived++;
        this.emit('datagram', frame.flowId, frame.data);
        return;
      default:
        this.logger.debug({ frameType: frame.type }, 'mux ignored a session frame');
    }
  };

  private onOpen(frame: StreamOpenFrame): void {
    const id = frame.streamId;
    if (this.isLocalId(id) || id <= this.highestPeerId) {
      // Wrong parity, or an id the peer used before: ids are allocated increasing and never reused.
      this.logger.warn({ streamId: id }, 'stream open with a wrong or reused id');
      const existing = this.table.get(id);
      if (existing) existing.reset('XNAT_ERR_MUX_PROTOCOL');
      else this.sendReply(id, 'XNAT_ERR_MUX_PROTOCOL');
      return;
    }
    this.highestPeerId = id;
    if (this.closing || this.listenerCount('stream') === 0) return this.sendReply(id, 'XNAT_ERR_MUX_REFUSED');
    if (this.table.size >= this.maxStreams) {
      this.capLog.hit('stream limit', { streamId: id, limit: this.maxStreams });
      return this.sendReply(id, 'XNAT_ERR_MUX_STREAM_LIMIT');
    }
    const stream = this.addStream(id);
    this.counters.streamsAccepted++;
    this.grantExtraInitial(stream);
    this.counters.bytesIn += frame.data.length;
    const bad = stream.onData(frame.data);
    if (bad) return this.violation(stream, bad);
    this.emit('stream', this.duplexStreams ? this.asDuplex(stream) : stream, frame.meta);
  }

  /** A frame for an id not in the table: ignored if the id existed (race), answered with a RESET if never opened. */
  private onStray(id: number, answer: boolean): void {
    const existed = this.isLocalId(id) ? id < this.nextId : id <= this.highestPeerId;
    if (existed) {
      this.counters.lateFrames++;
      return;
    }
    if (answer) this.sendReply(id, 'XNAT_ERR_MUX_UNKNOWN_STREAM');
  }

  /**
   * Resets a stream the peer opened or addressed wrongly. Such answers are solicited by the peer, so they
   * go out only while the transport is under its cap (the replay buffer's byte cap holds); otherwise they
   * are dropped and counted, and the peer's stray stream simply gets no answer.
   */
  private sendReply(id: number, code: ErrorCode): void {
    if (this.transportClosed) return;
    if (!this.transport.writable) {
      this.counters.repliesDropped++;
      this.capLog.hit('transport over its cap', { code });
      return;
    }
    this.sendReset(id, code);
  }

  private violation(stream: MuxStream, code: ErrorCode): void {
    this.logger.warn({ streamId: stream.id, code }, 'stream protocol violation');
    stream.reset(code);
  }

  // ---- sending and scheduling

  private readonly onDrain = (): void => {
    this.pump();
    this.emit('drain');
  };

  /** Serves ready streams round-robin, one chunk per turn, while the transport takes data. */
  private pump(): void {
    if (!this.transportClosed) this.ready.serve(() => this.transport.writable);
  }

  /** Every reliable frame goes out here, so the record estimate sees it. */
  private reliable(frame: Frame): boolean {
    const merged = this.held.release(frame);
    if (merged) return merged.sent;
    this.fill.sent(encodedLength(frame));
    return this.transport.sendReliable(frame);
  }

  /** A held open goes out (with `data`, or empty), then its stream's extra initial window. */
  private sendOpen(open: StreamOpenFrame, data?: Buffer): boolean {
    const frame: StreamOpenFrame = data ? { ...open, data } : open;
    this.fill.sent(encodedLength(frame));
    const sent = this.transport.sendReliable(frame);
    const stream = this.table.get(open.streamId);
    if (stream) this.grantExtraInitial(stream);
    return sent;
  }

  private sendReset(id: number, code: ErrorCode): void {
    if (this.transportClosed) return;
    this.counters.resetsSent++;
    this.reliable({ type: FrameType.STREAM_RESET, streamId: id, code });
  }

  private grantExtraInitial(stream: MuxStream): void {
    const extra = stream.extraInitialWindow();
    if (extra > 0) this.reliable({ type: FrameType.STREAM_WINDOW, streamId: stream.id, delta: extra });
  }

  // ---- streams and lifecycle

  private isLocalId(id: number): boolean {
    return (id % 2 === 1) === (this.role === 'relay');
  }

  private addStream(id: number): MuxStream {
    const stream = new MuxStream({
      id,
      host: this.host,
      initialWindow: this.initialWindow,
      maxWindow: this.maxWindow,
    });
    this.table.set(id, stream);
    return stream;
  }

  private asDuplex(stream: MuxStream): MuxDuplex {
    const duplex = new MuxDuplex(stream);
    // The application is expected to listen for 'error'; this one only keeps a peer's reset from ever
    // crashing the process when it does not (design invariant 4). One shared listener, not a closure per
    // stream: idle streams are many.
    duplex.on('error', this.onStreamError);
    return duplex;
  }

  /** Called with `this` = the stream that emitted 'error'. */
  private readonly onStreamError = streamErrorListener(() => this.logger);

  /** Both FINs crossed or the stream was destroyed (StreamHost.release). */
  private release(stream: MuxStream): void {
    if (this.table.get(stream.id) === stream) this.table.delete(stream.id);
    this.ready.delete(stream);
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (this.closing && !this.finished && this.table.size === 0) this.finish(undefined);
  }

  private finish(err: XnatError | undefined): void {
    if (this.finished) return;
    this.finished = true;
    this.transport.off('frame', this.onFrame);
    this.transport.off('drain', this.onDrain);
    this.transport.off('closed', this.onTransportClosed);
    this.ready.clear();
    this.held.clear();
    this.capLog.close();
    this.logger.debug({ code: err?.code, ...this.stats }, 'mux closed');
    this.emit('closed', err);
  }

  private readonly onTransportClosed = (err?: Error): void => {
    this.transportClosed = true;
    this.destroy(isXnatError(err) ? err : undefined);
  };
}

/** An 'error' listener shared by all streams of a mux (`this` is the stream); it only logs. */
function streamErrorListener(logger: () => Logger): (this: MuxDuplex, err: Error) => void {
  return function (this: MuxDuplex, err: Error): void {
    logger().debug({ streamId: this.id, code: isXnatError(err) ? err.code : undefined }, 'stream error');
  };
}
