// Batching of a link's outgoing frames into records: whole frames per record, write-through when idle,
// full records when busy, and the link's high-water mark. It knows neither keys nor what a frame means.
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { XnatError } from '../errors.ts';
import { RECORD_MAX_PLAINTEXT_BYTES } from './wire.ts';

/** The process's loop timing (uvMetricsInfo is a getter into libuv: about 0.3 us a read). */
const timing = performance.nodeTiming as { readonly uvMetricsInfo?: { readonly loopCount: number } };

/**
 * The event loop's iteration, or undefined on a Node without uvMetricsInfo (before 20.18 / 22.8): then
 * every flush is a write-through one. Poll callbacks and the check phase (setImmediate) of one iteration
 * share a number.
 */
export function loopTurn(): number | undefined {
  return timing.uvMetricsInfo?.loopCount;
}

/** What the batcher needs from the link that owns it. */
export interface BatcherHost {
  /** Seals and writes one record whose plaintext is `pieces` (`bytes` in total, whole frames). */
  sealRecord(pieces: readonly Buffer[], bytes: number): void;
  /** A send step failed (nonce exhausted, socket gone): the link dies with it. */
  fail(err: unknown): void;
  /** Queued plus socket-buffered bytes fell back under the mark after write() returned false. */
  drain(): void;
}

/**
 * Collects encoded frames and seals them into records of up to RECORD_MAX_PLAINTEXT_BYTES. A record is
 * sealed when the next frame would not fit, so no frame ever straddles two records; the rest waits for a
 * flush (scheduleFlush's rule). Corks the socket while sealing so one flush is one writev.
 */
export class RecordBatcher {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private corked = false;
  private flushScheduled = false;
  private needDrain = false;
  private stopped = false;
  /** The loop iteration of the last write-through flush (see scheduleFlush). */
  private throughTurn: number | undefined;

  constructor(
    private readonly socket: Duplex,
    private readonly host: BatcherHost,
    private readonly highWaterMark: number,
  ) {
    socket.on('drain', this.maybeDrain);
  }

  /** Bytes queued and not yet sealed. */
  get queuedBytes(): number {
    return this.pendingBytes;
  }

  /**
   * Queues one or more whole encoded frames (at most RECORD_MAX_PLAINTEXT_BYTES together; a frame of
   * MAX_FRAME_PAYLOAD fills a record alone). Returns false once queued plus socket-buffered bytes exceed
   * the high-water mark; drain() follows. After stop() the bytes are dropped and false is returned.
   */
  write(chunk: Buffer | readonly Buffer[]): boolean {
    if (this.stopped) return false;
    let size = 0;
    if (Buffer.isBuffer(chunk)) size = chunk.length;
    else for (const c of chunk) size += c.length;
    if (size > RECORD_MAX_PLAINTEXT_BYTES) {
      // Frames are capped (MAX_FRAME_PAYLOAD) so that this never happens: a caller bug, not the peer's.
      throw new XnatError('XNAT_ERR_INTERNAL', { detail: `link write of ${size} bytes exceeds one record` });
    }
    if (this.pendingBytes + size > RECORD_MAX_PLAINTEXT_BYTES) {
      this.sealPending();
      if (this.stopped) return false;
    }
    if (Buffer.isBuffer(chunk)) this.enqueue(chunk);
    else for (const c of chunk) this.enqueue(c);
    if (this.pendingBytes === RECORD_MAX_PLAINTEXT_BYTES) this.sealPending();
    else if (this.pendingBytes > 0) this.scheduleFlush();
    if (this.pendingBytes + this.socket.writableLength > this.highWaterMark) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  /** Seals everything queued now (close, rekey) and hands it to the socket. */
  flush(): void {
    this.sealPending();
    this.uncork();
  }

  /** Drops what is queued; later writes are refused. */
  stop(): void {
    this.stopped = true;
    this.pending = [];
    this.pendingBytes = 0;
    this.socket.off('drain', this.maybeDrain);
  }

  private enqueue(c: Buffer): void {
    if (c.length === 0) return;
    this.pending.push(c);
    this.pendingBytes += c.length;
  }

  private sealPending(): void {
    if (this.pendingBytes === 0 || this.stopped) return;
    const pieces = this.pending;
    const bytes = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      this.scheduleFlush();
    }
    try {
      this.host.sealRecord(pieces, bytes);
    } catch (err) {
      this.host.fail(err);
    }
  }

  /**
   * Write-through when idle, batching when busy: with nothing waiting in the socket, the batch goes out at
   * the end of the current task (a microtask: frames written by one event handler still share a record),
   * so a lone keypress never waits for the event loop's next turn. While the socket still holds bytes, or
   * once this loop iteration already wrote a record through (a busy relay: many sockets' callbacks in one
   * poll phase), the flush waits for the check phase (setImmediate) and gathers everything the rest of the
   * iteration writes into full records: one seal and one syscall for many visitors, and no wait on a
   * timer or on new I/O (the loop polls without blocking while an immediate is pending).
   */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    if (this.socket.writableLength === 0) {
      const turn = loopTurn();
      if (turn === undefined || turn !== this.throughTurn) {
        this.throughTurn = turn;
        queueMicrotask(this.onFlush);
        return;
      }
    }
    setImmediate(this.onFlush);
  }

  private readonly onFlush = (): void => {
    if (this.stopped) {
      this.flushScheduled = false;
      return;
    }
    // flushScheduled stays set while sealing, so the records sealed here do not schedule another (empty) flush.
    this.sealPending();
    this.flushScheduled = false;
    this.uncork();
    this.maybeDrain();
  };

  private uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  }

  private readonly maybeDrain = (): void => {
    if (!this.needDrain || this.stopped) return;
    if (this.pendingBytes + this.socket.writableLength > this.highWaterMark) return;
    this.needDrain = false;
    this.host.drain();
  };
}
