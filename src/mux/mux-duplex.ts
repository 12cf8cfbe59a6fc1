// A mux stream as a Node Duplex, for callers that want one (in-process services, compression, tests):
// backpressure both ways, half-close, and a reset as an 'error' carrying its code. The byte path of a
// TCP pipe does not use it (src/forward/tcp-pipe.ts reads and writes the MuxStream directly).
import { Duplex } from 'node:stream';
import { type ErrorCode, XnatError, isXnatError } from '../errors.ts';
import type { ByteReader } from './byte-stream.ts';
import type { MuxStream, MuxStreamStats } from './mux-stream.ts';

/**
 * Write to send, read what the peer sent; `end()` sends FIN after queued data; `reset(code)` aborts both
 * ways. Errors (peer reset, session gone) arrive as 'error' with an XnatError whose code is also `resetCode`.
 */
export class MuxDuplex extends Duplex {
  readonly id: number;
  /** The stream underneath. */
  readonly inner: MuxStream;
  private pushedBytes = 0;
  private eofPushed = false;

  constructor(inner: MuxStream) {
    // A small readable high-water mark keeps Node's own buffer short, so _read() runs as the application
    // consumes and grants follow consumption closely; the rest waits in the stream, inside the window.
    super({
      allowHalfOpen: true,
      readableHighWaterMark: inner.chunkSize,
      writableHighWaterMark: 4 * inner.chunkSize,
    });
    this.inner = inner;
    this.id = inner.id;
    const reader: ByteReader = {
      data: (chunk) => {
        this.pushedBytes += chunk.length;
        return this.push(chunk);
      },
      end: () => {
        this.eofPushed = true;
        this.push(null);
      },
      // Write callbacks carry this side's backpressure (one chunk with the stream at a time).
      drain: () => undefined,
      close: (code, detail) => {
        // A clean end needs nothing: Node destroys the Duplex once both sides are done (autoDestroy).
        if (code !== undefined && !this.destroyed)
          this.destroy(new XnatError(code, detail ? { detail } : {}));
      },
      buffered: () => this.readableLength,
    };
    inner.setReader(reader);
  }

  get resetCode(): ErrorCode | undefined {
    return this.inner.resetCode;
  }

  get stats(): MuxStreamStats {
    return this.inner.stats;
  }

  /** Aborts the stream both ways: sends STREAM_RESET with `code` and destroys it with XnatError(code). Idempotent. */
  reset(code: ErrorCode): void {
    if (this.destroyed) return;
    this.inner.reset(code);
    if (!this.destroyed) this.destroy(new XnatError(code));
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (chunk.length === 0) return cb();
    // The callback once the chunk is with the transport: Node keeps the rest (its high-water mark).
    this.inner.write(chunk, () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    // Node calls _final only after every _write callback, so all data is already with the transport.
    this.inner.end();
    cb();
  }

  override _read(): void {
    const before = this.pushedBytes;
    this.inner.resume();
    // Pushing nothing would leave Node's "reading" flag set, and it would not call _read() again as the
    // application consumes what is buffered; an empty push clears it (documented Node behaviour), so
    // every consumption reaches the stream's grant.
    if (this.pushedBytes === before && !this.eofPushed && !this.destroyed && !this.inner.destroyed)
      this.push(Buffer.alloc(0));
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (isXnatError(err)) this.inner.reset(err.code);
    else if (err) this.inner.reset('XNAT_ERR_MUX_RESET');
    else this.inner.destroy();
    cb(err);
  }
}

/** `stream` as a Duplex (one adapter per stream; it becomes the stream's reader). */
export function duplexOf(stream: MuxStream): MuxDuplex {
  return new MuxDuplex(stream);
}
