// Incremental frame decoder: a named-state streaming parser that yields whole frames however the input is cut.
// It knows nothing of links, encryption or sequence numbers; one decoder reads one link's plaintext stream.
import { toXnatError, type XnatError } from '../errors.ts';
import { checkHeader, parsePayload, type FrameHeader } from './codec.ts';
import { FRAME_HEADER_BYTES, MAX_FRAME_PAYLOAD, type Frame } from './frame.ts';

/** Parser states: waiting for a header, waiting for the current frame's payload, or failed for good. */
const GET_HEADER = 0;
const GET_PAYLOAD = 1;
const FAILED = 2;

/**
 * Consumed chunk slots are dropped from the front of the pending list in batches (at least this many and
 * at least half the list), so a peer trickling one byte per chunk costs amortised O(1) per chunk instead
 * of an O(n) shift each time.
 */
const COMPACT_AFTER_CHUNKS = 64;

/** Options of a FrameDecoder. */
export interface FrameDecoderOptions {
  /** Largest payload accepted, in bytes; default MAX_FRAME_PAYLOAD (64 KiB). A larger length is WIRE_OVERSIZE. */
  readonly maxPayload?: number;
}

/**
 * Incremental decoder: push chunks as they come; frames come out whole and in order however the input is
 * split. Payloads lying inside one pushed chunk are handed out as subarrays of it (zero copy), so callers
 * must not modify a chunk after pushing it; only a payload straddling chunks is copied. Not reentrant:
 * do not push from inside onFrame.
 */
export class FrameDecoder {
  private readonly maxPayload: number;
  private state = GET_HEADER;
  private header: FrameHeader | undefined;
  /** Pending chunks; chunks[first] is read from offset `offset`, earlier slots are already consumed. */
  private chunks: Buffer[] = [];
  private first = 0;
  private offset = 0;
  private held = 0;
  private readonly scratch = Buffer.alloc(FRAME_HEADER_BYTES);
  private error: XnatError | undefined;

  constructor(opts: FrameDecoderOptions = {}) {
    this.maxPayload = opts.maxPayload ?? MAX_FRAME_PAYLOAD;
  }

  /**
   * Bytes received but not yet handed out as frames, a parsed header included (after push returns: at most
   * header + maxPayload - 1).
   */
  get buffered(): number {
    return this.state === GET_PAYLOAD ? this.held + FRAME_HEADER_BYTES : this.held;
  }

  /**
   * Decodes what it can; calls onFrame for each complete frame; throws XnatError on the first malformed
   * one (the decoder is then unusable and every later push throws the same error). If onFrame throws,
   * the exception propagates and the bytes after that frame stay buffered for the next push.
   */
  push(chunk: Buffer, onFrame: (frame: Frame) => void): void {
    if (this.state === FAILED) throw this.error!;
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.held += chunk.length;
    }
    for (;;) {
      if (this.state === GET_HEADER) {
        if (this.held < FRAME_HEADER_BYTES) return;
        this.readHeader();
      }
      const header = this.header!;
      if (this.held < header.length) return;
      const payload = this.take(header.length);
      // Reset before onFrame so a throw from the callback leaves the parser consistent.
      this.state = GET_HEADER;
      this.header = undefined;
      let frame: Frame;
      try {
        frame = parsePayload(header, payload);
      } catch (err) {
        throw this.poison(err);
      }
      onFrame(frame);
    }
  }

  /** Marks the decoder failed for good and drops what it held; returns the error to throw. */
  private poison(err: unknown): XnatError {
    this.error = toXnatError(err);
    this.state = FAILED;
    this.chunks = [];
    this.first = 0;
    this.offset = 0;
    this.held = 0;
    return this.error;
  }

  private readHeader(): void {
    const chunk = this.chunks[this.first]!;
    let buf: Buffer;
    let at: number;
    if (chunk.length - this.offset >= FRAME_HEADER_BYTES) {
      buf = chunk;
      at = this.offset;
      this.skip(FRAME_HEADER_BYTES);
    } else {
      this.copyInto(this.scratch, FRAME_HEADER_BYTES);
      buf = this.scratch;
      at = 0;
    }
    try {
      this.header = checkHeader(
        buf[at]!,
        buf[at + 1]!,
        buf.readUInt32BE(at + 2),
        buf.readUInt32BE(at + 6),
        this.maxPayload,
      );
    } catch (err) {
      throw this.poison(err);
    }
    this.state = GET_PAYLOAD;
  }

  /** Consumes `n` held bytes and returns them: a subarray when they lie in one chunk, else a copy. */
  private take(n: number): Buffer {
    const chunk = this.chunks[this.first];
    if (chunk === undefined) return Buffer.alloc(0);
    if (chunk.length - this.offset >= n) {
      const out = chunk.subarray(this.offset, this.offset + n);
      this.skip(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    this.copyInto(out, n);
    return out;
  }

  /** Copies the next `n` held bytes into `dst` and consumes them. */
  private copyInto(dst: Buffer, n: number): void {
    let written = 0;
    while (written < n) {
      const chunk = this.chunks[this.first]!;
      const count = Math.min(n - written, chunk.length - this.offset);
      chunk.copy(dst, written, this.offset, this.offset + count);
      written += count;
      this.skip(count);
    }
  }

  /** Consumes `n` bytes that lie within the current first chunk. */
  private skip(n: number): void {
    this.held -= n;
    this.offset += n;
    const chunk = this.chunks[this.first]!;
    if (this.offset < chunk.length) return;
    this.offset = 0;
    this.first++;
    if (this.first === this.chunks.length) {
      this.chunks = [];
      this.first = 0;
    } else if (this.first >= COMPACT_AFTER_CHUNKS && this.first * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }
}
