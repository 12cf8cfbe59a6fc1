// The link's bytes: preface, handshake-phase frames, record sizes, and a chunk queue that parses u16
// length prefixes without joining every chunk. Pure codecs; no sockets, no keys. Frames are src/wire's.
// docs/protocol.md describes the same bytes for writers of compatible peers.
import { XnatError } from '../errors.ts';
import { FRAME_HEADER_BYTES } from '../wire/frame.ts';
import { PREFACE_SUITE_OFFSET, suiteById, type CipherSuite } from './suites.ts';

/** The first four bytes an agent sends: ASCII "XNAT". */
export const PREFACE_MAGIC = Buffer.from('XNAT', 'ascii');
/**
 * Version of the link protocol carried in the preface. 1: records of kind byte + body, the session's
 * bytes re-parsed above them. 2: records of whole frames (src/wire), PING/PONG/CLOSE/REKEY among them.
 */
export const LINK_PROTOCOL_VERSION = 2;
/** Length of the preface: magic (4), version (1), cipher suite id (1), reserved zero bytes (2). */
export const PREFACE_BYTES = 8;
/** Offset of the cipher suite id in the preface (suites.ts: 0 = ChaChaPoly, 1 = AESGCM). */
export { PREFACE_SUITE_OFFSET };

/** Bytes of a length prefix (u16 big-endian), in both phases. */
export const LENGTH_PREFIX_BYTES = 2;
/**
 * Largest handshake-phase frame (tag + body) a peer accepts, in bytes. IKpsk2 messages with empty payloads
 * are 96 and 48 bytes; the cap keeps an unauthenticated stranger from parking 64 KiB per connection.
 */
export const HANDSHAKE_FRAME_MAX_BYTES = 2048;

/** Tags of handshake-phase frames. */
export const HandshakeTag = {
  /** A Noise handshake message (both directions). */
  NOISE: 1,
  /** Relay -> agent: refused; body = encryptAndHash(reason code ASCII) under the state after message 1. */
  REJECT: 2,
  /** Agent -> relay: message 2 did not decrypt (psk mismatch); plaintext hint, empty body. */
  ABORT: 3,
  /** Relay -> agent: too many handshakes in progress; plaintext hint, empty body. */
  BUSY: 4,
  /** Relay -> agent: the preface's link version is not the relay's; plaintext hint, body = u8 relay version. */
  VERSION: 5,
} as const;

/**
 * Smallest transport record: one frame header plus the 16-byte tag. A record carries whole frames
 * (src/wire), at least one; none straddles two records.
 */
export const RECORD_MIN_BYTES = 16 + FRAME_HEADER_BYTES;
/** Largest transport record, in bytes (the Noise message limit). */
export const RECORD_MAX_BYTES = 65535;
/**
 * Largest record plaintext: the record limit minus the tag. Equal to FRAME_HEADER_BYTES +
 * MAX_FRAME_PAYLOAD, so the largest frame fills one record exactly.
 */
export const RECORD_MAX_PLAINTEXT_BYTES = RECORD_MAX_BYTES - 16;

/**
 * The 8 preface bytes proposing `suiteId`; they are also the Noise prologue, so the suite byte is
 * authenticated by the handshake (besides the suite's protocol name, which InitializeSymmetric hashes).
 */
export function encodePreface(version = LINK_PROTOCOL_VERSION, suiteId = 0): Buffer {
  const b = Buffer.alloc(PREFACE_BYTES);
  PREFACE_MAGIC.copy(b, 0);
  b[4] = version;
  b[PREFACE_SUITE_OFFSET] = suiteId;
  return b;
}

/** The suite a valid preface (checkPreface returned true) proposes. */
export function prefaceSuite(preface: Buffer): CipherSuite {
  const suite = suiteById(preface[PREFACE_SUITE_OFFSET]!);
  if (suite === undefined) throw new XnatError('XNAT_ERR_INTERNAL', { detail: 'preface not checked' });
  return suite;
}

/**
 * Checks the first bytes received (any prefix of the preface, so garbage is refused as soon as it shows).
 * Returns true once all 8 bytes are present and valid; XNAT_ERR_LINK_PREFACE otherwise.
 */
export function checkPreface(bytes: Buffer): boolean {
  const magicLen = Math.min(bytes.length, PREFACE_MAGIC.length);
  if (!bytes.subarray(0, magicLen).equals(PREFACE_MAGIC.subarray(0, magicLen))) {
    throw new XnatError('XNAT_ERR_LINK_PREFACE', { detail: 'bad magic' });
  }
  if (bytes.length < PREFACE_BYTES) return false;
  if (bytes[4] !== LINK_PROTOCOL_VERSION) {
    throw new XnatError('XNAT_ERR_LINK_VERSION', {
      detail: `peer speaks link version ${bytes[4]}, this side ${LINK_PROTOCOL_VERSION}`,
    });
  }
  if (suiteById(bytes[PREFACE_SUITE_OFFSET]!) === undefined) {
    throw new XnatError('XNAT_ERR_LINK_PREFACE', { detail: `unknown cipher suite ${bytes[5]}` });
  }
  if (bytes[6] !== 0 || bytes[7] !== 0) {
    throw new XnatError('XNAT_ERR_LINK_PREFACE', { detail: 'reserved bytes not zero' });
  }
  return true;
}

/** One handshake-phase frame: u16 length of what follows, u8 tag, body. */
export function encodeHandshakeFrame(tag: number, body: Uint8Array = new Uint8Array(0)): Buffer {
  const b = Buffer.allocUnsafe(LENGTH_PREFIX_BYTES + 1 + body.length);
  b.writeUInt16BE(1 + body.length, 0);
  b[2] = tag;
  b.set(body, 3);
  return b;
}

/**
 * A FIFO of received chunks, read as one byte string without joining them: peeks and takes copy only
 * when a requested range spans chunks. Its size is bounded by its owner (it never reads more than a frame ahead).
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  private head = 0;
  private offset = 0;
  private total = 0;

  /** Bytes queued. */
  get length(): number {
    return this.total;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /** The u16 big-endian at the front; the caller checks length >= 2 first. */
  peekU16(): number {
    const first = this.chunks[this.head]!;
    if (first.length - this.offset >= 2) return first.readUInt16BE(this.offset);
    return (first[this.offset]! << 8) | this.chunks[this.head + 1]![0]!;
  }

  /** The first `n` bytes (n <= length) without removing them: a view when they lie in one chunk, else a copy. */
  peek(n: number): Buffer {
    const first = this.chunks[this.head];
    if (!first) return Buffer.alloc(0);
    if (first.length - this.offset >= n) return first.subarray(this.offset, this.offset + n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    for (let i = this.head; filled < n; i++) {
      const c = this.chunks[i]!;
      const from = i === this.head ? this.offset : 0;
      const k = Math.min(c.length - from, n - filled);
      c.copy(out, filled, from, from + k);
      filled += k;
    }
    return out;
  }

  /**
   * Removes and returns the first `n` bytes (n <= length): a view when they lie in one chunk, else one
   * copy, made into the buffer `scratch()` returns when given (at least n bytes; the result is then only
   * valid until that buffer is reused), so a reader that consumes the bytes at once allocates nothing.
   */
  take(n: number, scratch?: () => Buffer): Buffer {
    // An empty queue has no first chunk; taking nothing from it is still within n <= length.
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[this.head]!;
    const avail = first.length - this.offset;
    let out: Buffer;
    if (n <= avail) {
      out = first.subarray(this.offset, this.offset + n);
      this.offset += n;
      if (this.offset === first.length) this.shift();
    } else {
      out = scratch ? scratch().subarray(0, n) : Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[this.head]!;
        const k = Math.min(c.length - this.offset, n - filled);
        c.copy(out, filled, this.offset, this.offset + k);
        filled += k;
        this.offset += k;
        if (this.offset === c.length) this.shift();
      }
    }
    this.total -= n;
    return out;
  }

  /**
   * Removes the first `n` bytes (0 < n <= length) and returns them as views of the chunks they lie in, in
   * order (one view when they lie in one chunk): nothing is copied.
   */
  takeViews(n: number): Buffer[] {
    const out: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const c = this.chunks[this.head]!;
      const k = Math.min(c.length - this.offset, left);
      out.push(c.subarray(this.offset, this.offset + k));
      left -= k;
      this.offset += k;
      if (this.offset === c.length) this.shift();
    }
    this.total -= n;
    return out;
  }

  /** Removes and returns everything queued, as a list of views. */
  drain(): Buffer[] {
    const out: Buffer[] = [];
    for (let i = this.head; i < this.chunks.length; i++) {
      const c = this.chunks[i]!;
      out.push(i === this.head ? c.subarray(this.offset) : c);
    }
    this.chunks = [];
    this.head = 0;
    this.offset = 0;
    this.total = 0;
    return out.filter((c) => c.length > 0);
  }

  private shift(): void {
    this.head++;
    this.offset = 0;
    // Compact now and then instead of Array.shift() per chunk.
    if (this.head >= 64 || this.head === this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}
