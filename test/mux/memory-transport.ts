// An in-memory MuxTransport pair for mux tests and benchmarks: ordered delivery on a later turn, a byte cap
// with 'drain' (backpressure), hold/step delivery, datagram drops, and a log of every frame sent.
// It knows nothing of sessions or links; it stands in for the Session the mux runs on.
import { EventEmitter } from 'node:events';
import { type DatagramFrame, type Frame, FrameType } from '../../src/wire/frame.ts';
import type { MuxTransport } from '../../src/mux/mux-transport.ts';

/** Approximate encoded size of a frame in bytes (header + payload), enough for a byte cap. */
export function frameBytes(frame: Frame): number {
  switch (frame.type) {
    case FrameType.STREAM_OPEN:
      return 12 + frame.meta.length + frame.data.length;
    case FrameType.STREAM_DATA:
    case FrameType.DATAGRAM:
      return 10 + frame.data.length;
    case FrameType.COMMAND:
      return 10 + frame.body.length;
    default:
      return 14;
  }
}

export interface MemoryTransportOptions {
  /** Bytes in flight at which `writable` turns false; default unlimited. */
  readonly capBytes?: number;
}

export class MemoryTransport extends EventEmitter implements MuxTransport {
  peer!: MemoryTransport;
  /** Every frame handed to this side, in order (reliable and datagram). */
  readonly sent: Frame[] = [];
  /** Keep the log (`sent`); benchmarks turn it off. */
  record = true;
  capBytes: number;
  /** While true, frames stay in flight until step()/release(). */
  held = false;
  /** When true, sendDatagram drops everything (no link). */
  dropDatagrams = false;
  closed = false;
  readonly stats = { rttMs: 0 };
  private inflight: Frame[] = [];
  private inflightHead = 0;
  private inflightBytes = 0;
  private scheduled = false;
  private wantsDrain = false;

  constructor(opts: MemoryTransportOptions = {}) {
    super();
    this.capBytes = opts.capBytes ?? Infinity;
  }

  get writable(): boolean {
    return !this.closed && this.inflightBytes < this.capBytes;
  }

  /** Frames handed over and not yet delivered to the peer. */
  get pending(): number {
    return this.inflight.length - this.inflightHead;
  }

  sendReliable(frame: Frame): boolean {
    if (this.closed) return false;
    this.enqueue(frame);
    const ok = this.writable;
    if (!ok) this.wantsDrain = true;
    return ok;
  }

  sendDatagram(frame: DatagramFrame): boolean {
    if (this.closed || this.dropDatagrams) return false;
    this.enqueue(frame);
    return true;
  }

  /** Delivers up to `max` frames to the peer now, in order; returns how many. */
  step(max = Infinity): number {
    let n = 0;
    while (n < max && this.inflightHead < this.inflight.length && !this.closed) {
      const frame = this.inflight[this.inflightHead++]!;
      this.inflightBytes -= frameBytes(frame);
      n++;
      this.peer.emit('frame', frame);
    }
    if (this.inflightHead === this.inflight.length) {
      this.inflight = [];
      this.inflightHead = 0;
    }
    if (this.wantsDrain && this.writable) {
      this.wantsDrain = false;
      this.emit('drain');
    }
    return n;
  }

  /** Stops automatic delivery (frames pile up in flight). */
  hold(): void {
    this.held = true;
  }

  /** Resumes automatic delivery. */
  release(): void {
    this.held = false;
    this.schedule();
  }

  /** Ends both sides: each emits 'closed' (err). */
  close(err?: Error): void {
    for (const side of [this, this.peer]) {
      if (side.closed) continue;
      side.closed = true;
      side.emit('closed', err);
    }
  }

  private enqueue(frame: Frame): void {
    if (this.record) this.sent.push(frame);
    this.inflight.push(frame);
    this.inflightBytes += frameBytes(frame);
    this.schedule();
  }

  private schedule(): void {
    if (this.held || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.held) this.step();
    });
  }
}

/** Two connected transports: what `a` sends, `b` emits as 'frame', and back. */
export function memoryTransportPair(opts: MemoryTransportOptions = {}): [MemoryTransport, MemoryTransport] {
  const a = new MemoryTransport(opts);
  const b = new MemoryTransport(opts);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** Waits until `cond()` holds, checking after each event-loop turn; rejects after `deadlineMs`. */
export async function until(cond: () => boolean, deadlineMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** Waits until neither transport has frames in flight for a few turns in a row (nothing more will move). */
export async function quiet(a: MemoryTransport, b: MemoryTransport, turns = 5): Promise<void> {
  let still = 0;
  await until(() => {
    still = a.pending === 0 && b.pending === 0 ? still + 1 : 0;
    return still >= turns;
  });
}

/** Reads a stream to its end and returns all bytes. */
export function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    stream.on('data', (c: Buffer) => parts.push(c));
    stream.on('end', () => resolve(Buffer.concat(parts)));
    stream.on('error', reject);
  });
}

/** Resolves once the stream has emitted 'close' (at once if it already has); never rejects on 'error'. */
export function closed(stream: NodeJS.EventEmitter & { readonly closed: boolean }): Promise<void> {
  if (stream.closed) return Promise.resolve();
  return new Promise((resolve) => stream.once('close', () => resolve()));
}
