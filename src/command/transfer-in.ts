// The receiving half of a buffer or stream transfer: size, credit and SHA-256 checks, assembly or a
// Readable for the handler. It knows nothing of messages or invocations; the Responder drives it.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { XnatError } from '../errors.ts';
import type { StreamContext } from './registry.ts';

/**
 * The Readable a stream handler gets. Every read() (for-await, pipe and 'data' all go through it) re-checks
 * the credit; _read alone is not enough, as Node stops calling it until the next push.
 */
class CreditReadable extends Readable {
  constructor(
    highWaterMark: number,
    private readonly onRead: () => void,
  ) {
    super({ highWaterMark });
  }

  override _read(): void {
    this.onRead();
  }

  override read(size?: number): unknown {
    const chunk: unknown = super.read(size);
    this.onRead();
    return chunk;
  }
}

export class IncomingTransfer {
  private readonly hash = createHash('sha256');
  /** Bytes granted to the sender so far, and received so far. */
  granted = 0;
  received = 0;
  /** END arrived and checked out. */
  ended = false;
  /** Buffer mode: the block being assembled (allocated when the transfer starts). */
  buffer: Buffer | undefined;
  /** Stream mode: what the handler reads, and its context. */
  readable: Readable | undefined;
  ctx: StreamContext | undefined;
  /** Stream mode: the handler's value when it returned before the END. */
  result: { value: unknown } | undefined;

  constructor(
    readonly mode: 'buffer' | 'stream',
    readonly size: number | undefined,
    readonly meta: unknown,
    /** Bytes of the shared buffer budget this transfer holds (buffer mode); zeroed on release. */
    public reserved: number,
  ) {}

  /** Buffer mode: allocates the block; returns the credit to grant (all of it). */
  startBuffer(): number {
    this.buffer = Buffer.allocUnsafe(this.size ?? 0);
    return this.size ?? 0;
  }

  /** Stream mode: creates the handler's Readable; `onRead` runs whenever the handler reads. */
  startStream(windowBytes: number, ctx: StreamContext, onRead: () => void): Readable {
    this.readable = new CreditReadable(windowBytes, onRead);
    this.readable.on('error', () => undefined); // the handler hears errors through its reads
    this.ctx = ctx;
    return this.readable;
  }

  /** Checks and takes one chunk; returns the error to fail the transfer with, if any. */
  take(data: Buffer): XnatError | undefined {
    if (this.received + data.length > this.granted)
      return new XnatError('XNAT_ERR_COMMAND_MALFORMED', { detail: 'credit exceeded' });
    if (this.size !== undefined && this.received + data.length > this.size)
      return new XnatError('XNAT_ERR_COMMAND_INTEGRITY', { detail: 'more than the declared size' });
    this.hash.update(data);
    if (this.buffer) data.copy(this.buffer, this.received);
    this.received += data.length;
    this.readable?.push(data);
    if (this.ctx?.onProgress) {
      try {
        this.ctx.onProgress(this.received, this.size);
      } catch {
        // A progress callback's failure is the handler's business, not the transfer's.
      }
    }
    return undefined;
  }

  /** Checks the END against what arrived; on success the stream (if any) ends. */
  end(total: number, sha256: Buffer): XnatError | undefined {
    if (total !== this.received || (this.size !== undefined && this.size !== this.received))
      return new XnatError('XNAT_ERR_COMMAND_INTEGRITY', { detail: 'size mismatch' });
    if (!this.hash.digest().equals(sha256))
      return new XnatError('XNAT_ERR_COMMAND_INTEGRITY', { detail: 'sha256 mismatch' });
    this.ended = true;
    this.readable?.push(null);
    return undefined;
  }

  /** Stream mode: credit to grant now so `windowBytes` stay granted beyond what the handler has read (0 = none yet). */
  topUp(windowBytes: number): number {
    if (this.ended) return 0;
    const consumed = this.received - (this.readable?.readableLength ?? 0);
    const more = consumed + windowBytes - this.granted;
    // Grant in quarters of the window, not per chunk, to keep CREDIT messages few.
    return more >= windowBytes / 4 ? more : 0;
  }

  /** Stops it: the handler's Readable errors with `err`; the assembled block is dropped. */
  destroy(err: XnatError): void {
    if (this.readable && !this.readable.destroyed) this.readable.destroy(err);
    this.buffer = undefined;
  }
}
