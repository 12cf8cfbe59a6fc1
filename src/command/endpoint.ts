// One side of the command framework over a CommandChannel: outgoing calls of every kind, and the
// Responder for the peer's calls. It knows nothing of sessions or of which commands exist.
import { EventEmitter } from 'node:events';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { XnatError } from '../errors.ts';
import type { Logger } from '../observe/log.ts';
import { realClock } from '../util/clock.ts';
import type { Clock, TimerHandle } from '../util/clock.ts';
import type { CommandChannel } from './channel.ts';
import {
  DecodeFailure,
  MAX_MESSAGE_BYTES,
  MsgType,
  TransferMode,
  decodeMessage,
  encodeMessage,
  expectsAnswer,
  fromWireFailure,
} from './codec.ts';
import type { Message } from './codec.ts';
import { JobQueue } from './job-queue.ts';
import type { CommandRegistry } from './registry.ts';
import { Responder, type CommandLog } from './responder.ts';
import { StatsRecorder } from './stats.ts';
import type { CommandStats } from './stats.ts';
import { OutgoingTransfer } from './transfer-out.ts';
import type { TransferHost } from './transfer-out.ts';

/** Default per-call timeout, in ms (for transfers: the longest time without progress). */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Default invocations of the peer running at once. */
export const DEFAULT_MAX_CONCURRENT = 256;
/** Default invocations of the peer waiting for a slot; beyond, XNAT_ERR_COMMAND_BUSY. */
export const DEFAULT_MAX_QUEUED = 1024;
/** Default buffer-kind size cap, in bytes (16 MiB). */
export const DEFAULT_MAX_BUFFER_BYTES = 16 * 1024 * 1024;
/** Default cap on all incoming buffers held at once, in bytes (64 MiB). */
export const DEFAULT_MAX_BUFFERED_BYTES_TOTAL = 64 * 1024 * 1024;
/** Default credit a stream receiver grants ahead, in bytes (1 MiB). */
export const DEFAULT_STREAM_WINDOW_BYTES = 1024 * 1024;

/**
 * The log of an endpoint given no logger: drops its lines without loading pino, which the admin client (so
 * `xnat dashboard`) would otherwise load for nothing (issue 10: memory).
 */
const QUIET: CommandLog = { debug: () => {}, warn: () => {} };

/** Options of a CommandEndpoint; every limit has a default. */
export interface CommandEndpointOptions {
  /** The commands this side handles. */
  readonly registry: CommandRegistry;
  /** Who is on the other side; passed to handlers (ctx.peer) and to `allow`. */
  readonly peer?: unknown;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Per-call timeout in ms; default DEFAULT_CALL_TIMEOUT_MS. */
  readonly defaultTimeoutMs?: number;
  /** Returns false to refuse an incoming command with XNAT_ERR_COMMAND_DENIED (a throw also refuses). */
  readonly allow?: (peer: unknown, name: string) => boolean;
  /** Incoming invocations running at once; default 256. */
  readonly maxConcurrent?: number;
  /** Incoming invocations waiting; default 1024. */
  readonly maxQueued?: number;
  /** Buffer-kind cap in bytes, both for sending and receiving; default 16 MiB. */
  readonly maxBufferBytes?: number;
  /** Cap on all incoming buffers held at once, in bytes; default 64 MiB. */
  readonly maxBufferedBytesTotal?: number;
  /** Credit granted ahead to a stream sender, in bytes; default 1 MiB. */
  readonly streamWindowBytes?: number;
  /**
   * Largest message, in bytes, both ways; default MAX_MESSAGE_BYTES (64 KiB, one COMMAND frame). Raise it
   * only over channels that carry bigger messages (the admin socket), and the same on both sides.
   */
  readonly maxMessageBytes?: number;
}

/** Options of one outgoing call. */
export interface CallOptions {
  /** Timeout in ms (transfers: without progress); default the endpoint's defaultTimeoutMs. */
  readonly timeoutMs?: number;
  /** Aborting it fails the call with XNAT_ERR_ABORTED and tells the peer to stop. */
  readonly signal?: AbortSignal;
}

/** Options of sendBuffer. */
export interface BufferCallOptions extends CallOptions {
  readonly onProgress?: (sent: number, total?: number) => void;
}

/** Options of sendStream. */
export interface StreamCallOptions extends BufferCallOptions {
  readonly meta?: unknown;
  /** Total bytes, if known (a file path's size is taken from the file). */
  readonly size?: number;
}

interface Pending {
  readonly id: number;
  readonly name: string;
  readonly startedAt: number;
  readonly timeoutMs: number;
  lastActivity: number;
  settled: boolean;
  transfer?: OutgoingTransfer;
  finish(err: XnatError | undefined, value?: unknown): void;
}

/**
 * A command endpoint. Events: 'close' (err: XnatError) once. Never emits 'error': bad input is
 * answered or counted, and failures reach the caller of the call they belong to.
 */
export class CommandEndpoint extends EventEmitter {
  private readonly clock: Clock;
  private readonly log: CommandLog;
  private readonly stats = new StatsRecorder();
  private readonly queue: JobQueue;
  private readonly responder: Responder;
  private readonly pending = new Map<number, Pending>();
  private readonly defaultTimeoutMs: number;
  private readonly maxBufferBytes: number;
  private readonly maxMessageBytes: number;
  private nextId = 1;
  private backedUp = false;
  private closedWith: XnatError | undefined;
  private readonly onMessage = (body: Buffer): void => this.receive(body);
  private readonly onDrain = (): void => {
    this.backedUp = false;
    for (const p of this.pending.values()) p.transfer?.wake();
  };
  private readonly onClose = (err?: Error): void => this.close(err instanceof XnatError ? err : undefined);

  constructor(
    private readonly channel: CommandChannel,
    opts: CommandEndpointOptions,
  ) {
    super();
    this.clock = opts.clock ?? realClock;
    this.log = opts.logger ?? QUIET;
    this.defaultTimeoutMs = opts.defaultTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.maxBufferBytes = opts.maxBufferBytes ?? DEFAULT_MAX_BUFFER_BYTES;
    this.maxMessageBytes = opts.maxMessageBytes ?? MAX_MESSAGE_BYTES;
    this.queue = new JobQueue(
      opts.maxConcurrent ?? DEFAULT_MAX_CONCURRENT,
      opts.maxQueued ?? DEFAULT_MAX_QUEUED,
    );
    this.responder = new Responder({
      registry: opts.registry,
      peer: opts.peer,
      allow: opts.allow,
      queue: this.queue,
      stats: this.stats,
      log: this.log,
      maxBufferBytes: this.maxBufferBytes,
      maxBufferedBytesTotal: opts.maxBufferedBytesTotal ?? DEFAULT_MAX_BUFFERED_BYTES_TOTAL,
      streamWindowBytes: opts.streamWindowBytes ?? DEFAULT_STREAM_WINDOW_BYTES,
      sendMessage: (msg, name) => this.sendMessage(msg, name),
      writable: () => !this.backedUp,
    });
    channel.on('message', this.onMessage);
    channel.on('drain', this.onDrain);
    channel.on('close', this.onClose);
  }

  /** True once closed (by close() or by the channel). */
  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Calls request/reply command `name`; resolves with the peer's reply, rejects with an XnatError. */
  request<T = unknown>(name: string, payload: unknown, opts: CallOptions = {}): Promise<T> {
    return this.call<T>(name, opts, (id) => {
      this.sendMessage({ type: MsgType.REQUEST, id, name, payload }, name);
    });
  }

  /** Sends one-way command `name`. Throws (synchronously) when closed or when the payload cannot be sent. */
  send(name: string, payload: unknown): void {
    if (this.closedWith) throw new XnatError('XNAT_ERR_COMMAND_CHANNEL_CLOSED');
    const c = this.stats.of(name);
    c.callsOut++;
    try {
      this.sendMessage({ type: MsgType.ONEWAY, name, payload }, name);
    } catch (err) {
      c.errorsOut++;
      throw err;
    }
  }

  /** Sends `data` whole to buffer command `name` (chunked on the wire); resolves with the handler's reply. */
  sendBuffer(name: string, data: Buffer, meta?: unknown, opts: BufferCallOptions = {}): Promise<unknown> {
    if (data.length > this.maxBufferBytes)
      return this.failEarly(
        name,
        new XnatError('XNAT_ERR_COMMAND_BUFFER_TOO_LARGE', { detail: `cap ${this.maxBufferBytes} bytes` }),
      );
    return this.transfer(name, TransferMode.BUFFER, [data], data.length, meta, opts);
  }

  /**
   * Streams `source` (a Readable, or a file path) to stream command `name` with credit flow control and a
   * SHA-256 check; resolves with the handler's reply. A given Readable is consumed (and destroyed on failure).
   */
  sendStream(name: string, source: Readable | string, opts: StreamCallOptions = {}): Promise<unknown> {
    if (typeof source !== 'string')
      return this.transfer(name, TransferMode.STREAM, source, opts.size, opts.meta, opts);
    return stat(source).then(
      (st) =>
        this.transfer(
          name,
          TransferMode.STREAM,
          createReadStream(source),
          opts.size ?? st.size,
          opts.meta,
          opts,
        ),
      (err: unknown) =>
        this.failEarly(name, new XnatError('XNAT_ERR_COMMAND_SOURCE', { detail: 'stat failed', cause: err })),
    );
  }

  /** Counters and gauges, as a plain object. */
  snapshot(): CommandStats {
    return this.stats.snapshot({
      pendingOut: this.pending.size,
      running: this.queue.running,
      queued: this.queue.queued,
    });
  }

  /**
   * Closes now (idempotent): every pending call fails with `err` (default XNAT_ERR_COMMAND_CHANNEL_CLOSED),
   * every handler's signal aborts. The channel itself stays with its owner (the session closes it).
   */
  close(err?: XnatError): void {
    if (this.closedWith) return;
    const reason = err ?? new XnatError('XNAT_ERR_COMMAND_CHANNEL_CLOSED');
    this.closedWith = reason;
    this.channel.off('message', this.onMessage);
    this.channel.off('drain', this.onDrain);
    this.channel.off('close', this.onClose);
    for (const p of [...this.pending.values()]) p.finish(reason);
    this.responder.closeAll(reason);
    this.emit('close', reason);
  }

  // ---- outgoing

  private failEarly(name: string, err: XnatError): Promise<never> {
    const c = this.stats.of(name);
    c.callsOut++;
    c.errorsOut++;
    return Promise.reject(err);
  }

  private transfer(
    name: string,
    mode: (typeof TransferMode)[keyof typeof TransferMode],
    source: Iterable<Buffer> | AsyncIterable<unknown>,
    size: number | undefined,
    meta: unknown,
    opts: BufferCallOptions,
  ): Promise<unknown> {
    return this.call(name, opts, (id, p) => {
      const host: TransferHost = {
        sendMessage: (msg) => this.sendMessage(msg, name),
        writable: () => !this.backedUp,
        touch: () => (p.lastActivity = this.clock.now()),
        fail: (err) => {
          if (p.settled) return;
          p.finish(err);
          this.trySend({ type: MsgType.CANCEL, id }, name);
        },
      };
      p.transfer = new OutgoingTransfer(host, id, name, mode, size, meta, opts.onProgress);
      p.transfer.run(source);
    });
  }

  /** Common shape of every call with an answer: id, pending entry, timeout, abort signal. */
  private call<T>(name: string, opts: CallOptions, start: (id: number, p: Pending) => void): Promise<T> {
    const c = this.stats.of(name);
    if (this.closedWith) return this.failEarly(name, this.closedWith);
    if (opts.signal?.aborted) return this.failEarly(name, new XnatError('XNAT_ERR_ABORTED'));
    c.callsOut++;
    const id = this.nextId++;
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const now = this.clock.now();
      const onAbort = (): void => {
        if (p.settled) return;
        p.finish(new XnatError('XNAT_ERR_ABORTED'));
        this.trySend({ type: MsgType.CANCEL, id }, name);
      };
      let timer = this.arm(() => onTimeout(), timeoutMs);
      const onTimeout = (): void => {
        if (p.settled) return;
        const idle = this.clock.now() - p.lastActivity;
        if (p.transfer && idle < timeoutMs) {
          timer = this.arm(() => onTimeout(), timeoutMs - idle);
          return;
        }
        p.finish(new XnatError('XNAT_ERR_TIMEOUT', { detail: `${name} after ${timeoutMs} ms` }));
        this.trySend({ type: MsgType.CANCEL, id }, name);
      };
      const p: Pending = {
        id,
        name,
        startedAt: now,
        timeoutMs,
        lastActivity: now,
        settled: false,
        finish: (err, value) => {
          if (p.settled) return;
          p.settled = true;
          timer.cancel();
          opts.signal?.removeEventListener('abort', onAbort);
          this.pending.delete(id);
          this.stats.latency(name, this.clock.now() - p.startedAt);
          p.transfer?.stop();
          if (err) {
            c.errorsOut++;
            reject(err);
          } else resolve(value as T);
        },
      };
      this.pending.set(id, p);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        start(id, p);
      } catch (err) {
        p.finish(err instanceof XnatError ? err : new XnatError('XNAT_ERR_INTERNAL', { cause: err }));
      }
    });
  }

  /** A timer for `ms` (no timer for 0 or Infinity; Node timers cap at 2^31-1 ms). */
  private arm(fn: () => void, ms: number): TimerHandle {
    if (!(ms > 0) || !Number.isFinite(ms)) return { cancel: () => undefined };
    return this.clock.setTimeout(fn, Math.min(ms, MAX_TIMER_MS));
  }

  private sendMessage(msg: Message, name: string | undefined): boolean {
    if (this.closedWith) throw new XnatError('XNAT_ERR_COMMAND_CHANNEL_CLOSED');
    const body = encodeMessage(msg, this.maxMessageBytes);
    const ok = this.channel.send(body);
    if (!ok) this.backedUp = true;
    this.stats.totals.messagesOut++;
    this.stats.totals.bytesOut += body.length;
    if (name !== undefined) this.stats.of(name).bytesOut += body.length;
    return ok;
  }

  private trySend(msg: Message, name: string): void {
    try {
      this.sendMessage(msg, name);
    } catch {
      // Closed: the peer learns from the channel's end instead.
    }
  }

  // ---- incoming

  private receive(body: Buffer): void {
    if (this.closedWith) return;
    this.stats.totals.messagesIn++;
    this.stats.totals.bytesIn += body.length;
    const msg = decodeMessage(body, this.maxMessageBytes);
    if (msg instanceof DecodeFailure) return this.bad(msg);
    switch (msg.type) {
      case MsgType.REQUEST:
      case MsgType.ONEWAY:
        this.stats.of(msg.name);
        return this.responder.onRequest(msg);
      case MsgType.BEGIN:
        return this.responder.onBegin(msg);
      case MsgType.CHUNK:
        return this.responder.onChunk(msg.id, msg.data);
      case MsgType.END:
        return this.responder.onEnd(msg.id, msg.total, msg.sha256);
      case MsgType.CANCEL:
        return this.responder.onCancel(msg.id);
      case MsgType.REPLY:
      case MsgType.ERROR:
      case MsgType.CREDIT:
        return this.answer(msg, body.length);
    }
  }

  private answer(msg: Extract<Message, { type: 3 | 4 | 9 }>, bytes: number): void {
    const p = this.pending.get(msg.id);
    if (!p || (msg.type === MsgType.CREDIT && !p.transfer)) return void this.stats.totals.unknownAnswers++;
    this.stats.of(p.name).bytesIn += bytes;
    p.lastActivity = this.clock.now();
    if (msg.type === MsgType.REPLY) p.finish(undefined, msg.payload);
    else if (msg.type === MsgType.ERROR) p.finish(fromWireFailure(msg.code, msg.detail));
    else p.transfer!.credit(msg.bytes);
  }

  private bad(f: DecodeFailure): void {
    this.stats.totals.malformed++;
    const { type, id } = f.head;
    this.log.debug({ code: f.error.code, type }, 'bad command message');
    if (type === undefined || id === undefined) return;
    if (expectsAnswer(type)) return this.responder.onBadMessage(type, id, f.error);
    const p = this.pending.get(id);
    if (p && (type === MsgType.REPLY || type === MsgType.ERROR || type === MsgType.CREDIT)) {
      p.finish(f.error);
      if (p.transfer) this.trySend({ type: MsgType.CANCEL, id }, p.name);
    }
  }
}
