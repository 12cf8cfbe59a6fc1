// The link's bytes: preface, handshake-phase frames, record kinds and their bodies, and a chunk queue
// that parses u16 length prefixes without joining every chunk. Pure codecs; no sockets, no keys.
// docs/protocol.md describes the same bytes for writers of compatible peers.
import { XnatError } from '../errors.ts';
import { PREFACE_SUITE_OFFSET, suiteById, type CipherSuite } from './suites.ts';

/** The first four bytes an agent sends: ASCII "XNAT". */
export const PREFACE_MAGIC = Buffer.from('XNAT', 'ascii');
/** Version of the link protocol carried in the preface. */
export const LINK_PROTOCOL_VERSION = 1;
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
} as const;

/** Smallest transport record (Noise transport message): 1 byte of kind plus the 16-byte tag. */
export const RECORD_MIN_BYTES = 17;
/** Largest transport record, in bytes (the Noise message limit). */
export const RECORD_MAX_BYTES = 65535;
/** Largest record plaintext (kind + body): the record limit minus the tag. */
export const RECORD_MAX_PLAINTEXT_BYTES = RECORD_MAX_BYTES - 16;
/** Largest DATA body, in bytes: what one record carries of upper-layer bytes. */
export const RECORD_MAX_DATA_BYTES = RECORD_MAX_PLAINTEXT_BYTES - 1;
/** Longest error code in a CLOSE record, in bytes. */
export const CLOSE_CODE_MAX_BYTES = 64;
/** Longest reason in a CLOSE record, in bytes of UTF-8. */
export const CLOSE_REASON_MAX_BYTES = 256;

/** Kinds of record plaintext (first byte). */
export const RecordKind = {
  DATA: 0,
  PING: 1,
  PONG: 2,
  CLOSE: 3,
  REKEY: 4,
} as const;

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
    throw new XnatError('XNAT_ERR_LINK_PREFACE', { detail: `unsupported version ${bytes[4]}` });
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

/** PING or PONG plaintext: kind + 8-byte id. */
export function encodePingPong(
  kind: typeof RecordKind.PING | typeof RecordKind.PONG,
  id: Uint8Array,
): Buffer {
  const b = Buffer.allocUnsafe(9);
  b[0] = kind;
  b.set(id, 1);
  return b;
}

/** CLOSE plaintext: kind, u16 code length, code ASCII, reason UTF-8 (truncated to CLOSE_REASON_MAX_BYTES). */
export function encodeClose(code: string, reason: string): Buffer {
  const codeBytes = Buffer.from(code.slice(0, CLOSE_CODE_MAX_BYTES), 'ascii');
  let reasonBytes = Buffer.from(reason, 'utf8');
  if (reasonBytes.length > CLOSE_REASON_MAX_BYTES) {
    // Cut on a character boundary so the peer never sees half a UTF-8 sequence.
    reasonBytes = Buffer.from(
      reasonBytes
        .subarray(0, CLOSE_REASON_MAX_BYTES)
        .toString('utf8')
        .replace(/\uFFFD$/, ''),
    );
  }
  const b = Buffer.allocUnsafe(3 + codeBytes.length + reasonBytes.length);
  b[0] = RecordKind.CLOSE;
  b.writeUInt16BE(codeBytes.length, 1);
  codeBytes.copy(b, 3);
  reasonBytes.copy(b, 3 + codeBytes.length);
  return b;
}

/** A CLOSE record as received: the peer's code (may be empty for a plain close) and reason. */
export interface CloseBody {
  readonly code: string;
  readonly reason: string;
}

const CODE_CHARS = /^[A-Z0-9_]*$/;

/** Parses a CLOSE body (after the kind byte); XNAT_ERR_LINK_RECORD_MALFORMED when it breaks the rules. */
export function decodeClose(body: Buffer): CloseBody {
  if (body.length < 2) throw new XnatError('XNAT_ERR_LINK_RECORD_MALFORMED', { detail: 'close too short' });
  const codeLen = body.readUInt16BE(0);
  if (codeLen > CLOSE_CODE_MAX_BYTES || 2 + codeLen > body.length) {
    throw new XnatError('XNAT_ERR_LINK_RECORD_MALFORMED', { detail: 'close code length' });
  }
  const code = body.subarray(2, 2 + codeLen).toString('latin1');
  if (!CODE_CHARS.test(code)) throw new XnatError('XNAT_ERR_LINK_RECORD_MALFORMED', { detail: 'close code' });
  const reasonBytes = body.subarray(2 + codeLen);
  if (reasonBytes.length > CLOSE_REASON_MAX_BYTES) {
    throw new XnatError('XNAT_ERR_LINK_RECORD_MALFORMED', { detail: 'close reason length' });
  }
  // Control characters are dropped: the reason comes from the peer and ends up in log lines.
  // eslint-disable-next-line no-control-regex
  const reason = reasonBytes.toString('utf8').replace(/[\u0000-\u001f\u007f]/g, ' ');
  return { code, reason };
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
