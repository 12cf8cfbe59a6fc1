// Reassembles admin socket bytes into whole messages (u32 big-endian length, then the body), however the
// bytes are chunked. It knows nothing of sockets or commands; a length over the cap is a typed error.
import { XnatError } from '../errors.ts';

/** Bytes of the length prefix. */
export const LENGTH_BYTES = 4;
/**
 * Chunks up to this size are copied into a shared slab instead of being held one object each: a peer
 * dripping one byte per TCP segment would otherwise cost ~100 bytes of Buffer object per byte held.
 */
const SMALL_CHUNK_BYTES = 1024;
/** Size of one slab that small chunks are copied into. */
const SLAB_BYTES = 16 * 1024;

/**
 * Buffers chunks as a list and a running length; each message is joined once, when it is complete (a
 * body inside one chunk is a zero-copy view). Memory held is at most the bytes pushed and not yet taken,
 * plus one slab; next() refuses a length over the cap as soon as the 4 length bytes are in, before any
 * of its body is buffered.
 */
export class MessageReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Declared length of the message being assembled, once its prefix is in. */
  private need: number | undefined;
  private slab: Buffer | undefined;
  private slabStart = 0;
  private slabEnd = 0;

  /** `maxMessageBytes`: the largest body accepted, in bytes. */
  constructor(private maxMessageBytes: number) {}

  /** Changes the cap for messages whose length is not read yet (the admin endpoint raises it after auth). */
  setMaxMessageBytes(bytes: number): void {
    this.maxMessageBytes = bytes;
  }

  /** Bytes pushed and not yet taken as messages. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Buffer objects held (chunks and slab views), to prove that dripping does not pile up objects. */
  get heldChunks(): number {
    return this.chunks.length + (this.slabEnd > this.slabStart ? 1 : 0);
  }

  /** Adds received bytes; nothing is parsed until next(). */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.buffered += chunk.length;
    if (chunk.length > SMALL_CHUNK_BYTES) {
      this.flushSlab();
      this.chunks.push(chunk);
      return;
    }
    if (!this.slab || this.slab.length - this.slabEnd < chunk.length) {
      this.flushSlab();
      this.slab = Buffer.allocUnsafe(SLAB_BYTES);
      this.slabStart = this.slabEnd = 0;
    }
    chunk.copy(this.slab, this.slabEnd);
    this.slabEnd += chunk.length;
  }

  /**
   * The next whole message body, or undefined until more bytes arrive. Throws XNAT_ERR_WIRE_OVERSIZE when
   * the declared length exceeds the cap (the reader is then useless: the stream cannot be resynchronised).
   */
  next(): Buffer | undefined {
    if (this.need === undefined) {
      if (this.buffered < LENGTH_BYTES) return undefined;
      this.flushSlab();
      const length = this.readLength();
      if (length > this.maxMessageBytes)
        throw new XnatError('XNAT_ERR_WIRE_OVERSIZE', {
          detail: `admin message ${length} bytes, cap ${this.maxMessageBytes}`,
        });
      this.need = length;
    }
    if (this.buffered < LENGTH_BYTES + this.need) return undefined;
    this.flushSlab();
    const whole = this.take(LENGTH_BYTES + this.need);
    this.need = undefined;
    return whole.subarray(LENGTH_BYTES);
  }

  /** Moves the slab's filled, unlisted part onto the chunk list (keeps byte order with big chunks). */
  private flushSlab(): void {
    if (this.slab && this.slabEnd > this.slabStart) {
      this.chunks.push(this.slab.subarray(this.slabStart, this.slabEnd));
      this.slabStart = this.slabEnd;
    }
  }

  /** The u32 prefix, which may straddle chunks (at least LENGTH_BYTES are buffered and listed). */
  private readLength(): number {
    const first = this.chunks[0]!;
    if (first.length >= LENGTH_BYTES) return first.readUInt32BE(0);
    let value = 0;
    let got = 0;
    for (const c of this.chunks) {
      for (let i = 0; i < c.length && got < LENGTH_BYTES; i++, got++) value = value * 256 + c[i]!;
      if (got === LENGTH_BYTES) break;
    }
    return value;
  }

  /** Removes and returns the first `n` bytes (all listed): a view when one chunk holds them, else one join. */
  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    this.buffered -= n;
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let copied = 0;
    let used = 0;
    while (copied < n) {
      const c = this.chunks[used]!;
      const part = Math.min(c.length, n - copied);
      c.copy(out, copied, 0, part);
      copied += part;
      if (part === c.length) used++;
      else this.chunks[used] = c.subarray(part);
    }
    this.chunks.splice(0, used);
    return out;
  }
}
