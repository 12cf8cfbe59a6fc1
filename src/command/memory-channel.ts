// An in-memory pair of CommandChannels for tests: ordered asynchronous delivery, optional delay and
// backpressure. It knows nothing of commands and never copies or inspects a body.
import { EventEmitter } from 'node:events';
import { XnatError } from '../errors.ts';
import type { Clock } from '../util/clock.ts';
import type { CommandChannel } from './channel.ts';

/** Options of createMemoryChannelPair. */
export interface MemoryChannelOptions {
  /** Delivery delay per message in ms via `clock`; default 0 (delivered on the next setImmediate turn). */
  readonly delayMs?: number;
  /** Clock for delays; default a real setTimeout. Only used when delayMs > 0. */
  readonly clock?: Clock;
  /** Undelivered bytes above which send() returns false (then 'drain' once half is delivered); default 1 MiB. */
  readonly highWaterBytes?: number;
}

/** One end of a memory pair. */
export class MemoryChannel extends EventEmitter implements CommandChannel {
  peer!: MemoryChannel;
  /** Messages and bytes this end has sent. */
  readonly stats = { messagesSent: 0, bytesSent: 0 };
  private closed = false;
  private paused = false;
  private inFlightBytes = 0;
  private needDrain = false;
  private readonly inbox: Buffer[] = [];
  private flushScheduled = false;

  constructor(private readonly opts: MemoryChannelOptions) {
    super();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes sent by this end and not yet delivered to its peer. */
  get undeliveredBytes(): number {
    return this.inFlightBytes;
  }

  send(body: Buffer): boolean {
    if (this.closed) throw new XnatError('XNAT_ERR_COMMAND_CHANNEL_CLOSED');
    this.stats.messagesSent++;
    this.stats.bytesSent += body.length;
    this.inFlightBytes += body.length;
    const delay = this.opts.delayMs ?? 0;
    if (delay > 0 && this.opts.clock) this.opts.clock.setTimeout(() => this.peer.enqueue(body), delay);
    else if (delay > 0) setTimeout(() => this.peer.enqueue(body), delay);
    else this.peer.enqueue(body);
    const ok = this.inFlightBytes <= (this.opts.highWaterBytes ?? 1024 * 1024);
    if (!ok) this.needDrain = true;
    return ok;
  }

  /** Holds (true) or resumes (false) delivery of messages *to* this end, to simulate a stalled reader. */
  setPaused(paused: boolean): void {
    this.paused = paused;
    if (!paused) this.scheduleFlush();
  }

  /** Closes both ends: undelivered messages are dropped, each end emits 'close' (err) once. */
  close(err?: Error): void {
    if (this.closed) return;
    this.finish(err);
    this.peer.finish(err);
  }

  private finish(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.inbox.length = 0;
    setImmediate(() => this.emit('close', err));
  }

  private enqueue(body: Buffer): void {
    if (this.closed) return;
    this.inbox.push(body);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.paused) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (!this.paused && !this.closed && this.inbox.length > 0) {
      const body = this.inbox.shift()!;
      this.peer.delivered(body.length);
      this.emit('message', body);
    }
  }

  private delivered(bytes: number): void {
    this.inFlightBytes -= bytes;
    if (this.needDrain && this.inFlightBytes <= (this.opts.highWaterBytes ?? 1024 * 1024) / 2) {
      this.needDrain = false;
      setImmediate(() => {
        if (!this.closed) this.emit('drain');
      });
    }
  }
}

/** Two connected channels: what one sends, the other receives in order. */
export function createMemoryChannelPair(opts: MemoryChannelOptions = {}): [MemoryChannel, MemoryChannel] {
  const a = new MemoryChannel(opts);
  const b = new MemoryChannel(opts);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
