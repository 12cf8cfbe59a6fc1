// A tunnel stream seen through raw deflate (zlib, one context per stream and direction): what the pipe
// writes is compressed onto the stream, what the stream delivers is inflated. Both ends of a
// `compress: deflate` mapping wrap their stream; it knows nothing of sockets or mappings.
import { Duplex } from 'node:stream';
import zlib from 'node:zlib';
import type { ErrorCode } from '../errors.ts';
import { duplexOf, MuxStream } from '../mux/mux.ts';
import type { ResettableDuplex } from './duplex-tunnel.ts';

type TunnelStream = ResettableDuplex;

/**
 * Inflate input is fed in pieces this small: zlib inflates a whole input chunk at once, whatever the
 * reader wants, and deflate expands at most ~1032:1, so a piece yields at most ~1 MiB (a bomb's bound).
 */
const INFLATE_PIECE_BYTES = 1024;

/** Compression level: 6 (zlib's default) halves text and logs at a small cost; see docs/benchmarks.md. */
const DEFLATE_LEVEL = 6;

class DeflateStream extends Duplex implements TunnelStream {
  // Z_SYNC_FLUSH after every write: interactive bytes (a keypress, a game packet) leave at once, not when
  // a block fills; the shared window across writes still finds repeats.
  private readonly deflate = zlib.createDeflateRaw({
    level: DEFLATE_LEVEL,
    flush: zlib.constants.Z_SYNC_FLUSH,
  });
  private readonly inflate = zlib.createInflateRaw();
  private ownCode: ErrorCode | undefined;
  private innerEnded = false;

  constructor(private readonly inner: TunnelStream) {
    super({ allowHalfOpen: true });
    const { deflate, inflate } = this;
    // Out: pipe -> deflate -> inner, with the inner stream's backpressure.
    deflate.on('data', (c: Buffer) => {
      if (!inner.write(c)) deflate.pause();
    });
    inner.on('drain', () => deflate.resume());
    deflate.on('end', () => inner.end());
    // In: inner -> inflate -> our readable side, with the pipe's backpressure.
    inner.on('data', (c: Buffer) => {
      let ok = true;
      for (let at = 0; at < c.length; at += INFLATE_PIECE_BYTES)
        ok = inflate.write(c.subarray(at, at + INFLATE_PIECE_BYTES));
      if (!ok) inner.pause();
    });
    inflate.on('drain', () => inner.resume());
    inner.on('end', () => {
      this.innerEnded = true;
      inflate.end();
    });
    inflate.on('data', (c: Buffer) => {
      if (!this.push(c)) inflate.pause();
    });
    inflate.on('end', () => this.push(null));
    const broken = () => this.reset('XNAT_ERR_FORWARD_COMPRESS');
    inflate.on('error', broken);
    deflate.on('error', broken);
    inner.on('error', (err: Error) => this.destroy(err));
    inner.on('close', () => {
      // A clean close of the inner stream may come before the inflated tail is read: let that finish.
      const clean = inner.resetCode === undefined && this.innerEnded && inner.writableFinished;
      if (!clean && !this.destroyed)
        this.destroy(codeError(inner.resetCode ?? 'XNAT_ERR_FORWARD_STREAM_RESET'));
    });
  }

  get resetCode(): ErrorCode | undefined {
    return this.inner.resetCode ?? this.ownCode;
  }

  reset(code: ErrorCode): void {
    this.ownCode ??= code;
    if (!this.inner.destroyed) this.inner.reset(code);
    if (!this.destroyed) this.destroy(codeError(code));
  }

  override _read(): void {
    this.inflate.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.deflate.write(chunk)) cb();
    else this.deflate.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    // Finished only once the inner stream has taken our FIN: destroying earlier would reset it.
    this.inner.once('finish', () => cb());
    this.deflate.end();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.deflate.destroy();
    this.inflate.destroy();
    if (!this.inner.destroyed) {
      if (err) this.inner.reset(this.resetCode ?? 'XNAT_ERR_FORWARD_STREAM_RESET');
      else this.inner.destroy();
    }
    cb(err);
  }
}

function codeError(code: ErrorCode): Error & { code: ErrorCode } {
  return Object.assign(new Error(code), { code });
}

/** `stream` with deflate on what is written and inflate on what is read (zlib wants Node streams). */
export function deflateStream(stream: ResettableDuplex): ResettableDuplex;
export function deflateStream(stream: MuxStream): MuxStream | ResettableDuplex;
export function deflateStream(stream: MuxStream | ResettableDuplex): MuxStream | ResettableDuplex {
  // A stream already gone stays as it is: the pipe resets the socket at once.
  if (stream.destroyed) return stream;
  return new DeflateStream(stream instanceof MuxStream ? duplexOf(stream) : stream);
}
