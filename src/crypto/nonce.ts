// The Noise nonce n of one CipherState as a JS number plus the 12-byte AEAD nonce it encodes, updated in
// place on each step (js-libp2p-noise's Nonce, with both halves written). It knows nothing of keys or ciphers
// beyond the byte order each one puts n in.

/**
 * Largest nonce a CipherState uses: 2^53-1, the largest integer a JS number holds exactly. Noise allows
 * up to 2^64-2; stopping at 2^53-1 (XNAT_ERR_CRYPTO_NONCE_EXHAUSTED, i.e. a new link) keeps every record
 * free of bigint arithmetic. A link rekeys every 1 GiB or 10 minutes and is replaced long before: at a
 * million records a second, 2^53 records take 285 years.
 */
export const NONCE_MAX = Number.MAX_SAFE_INTEGER;

/** Length of the AEAD nonce, in bytes: 4 zero bytes, then the 64-bit counter. */
export const NONCE_BYTES = 12;

const TWO_32 = 2 ** 32;

/**
 * The 12 bytes of the nonce 2^64-1 that Rekey() uses (spec section 4.2). Its counter bytes are all 0xff,
 * so it reads the same in either byte order. Never written to.
 */
export const REKEY_NONCE: Buffer = Buffer.from('00000000ffffffffffffffff', 'hex');

/**
 * How a cipher lays the 64-bit counter into bytes 4..11: ChaChaPoly little-endian (RFC 8439, Noise 12.3),
 * AESGCM big-endian (Noise 12.4).
 */
export type NonceOrder = 'le' | 'be';

/** Writes n (0 .. 2^53-1) as the 12-byte AEAD nonce in `order` into `out` (bytes 0..3 are set to zero). */
export function writeNonce(out: Uint8Array, n: number, order: NonceOrder): void {
  const view = new DataView(out.buffer, out.byteOffset, NONCE_BYTES);
  view.setUint32(0, 0);
  const lo = n >>> 0;
  const hi = Math.floor(n / TWO_32);
  if (order === 'le') {
    view.setUint32(4, lo, true);
    view.setUint32(8, hi, true);
  } else {
    view.setUint32(4, hi, false);
    view.setUint32(8, lo, false);
  }
}

/** A counter n and its 12-byte encoding, kept in step: increment() rewrites 4 bytes (8 when lo wraps). */
export class Nonce {
  /** The encoded nonce, reused for every record: read it before the next increment(). */
  readonly bytes: Buffer = Buffer.alloc(NONCE_BYTES);
  private readonly view: DataView;
  private n = 0;

  constructor(private readonly order: NonceOrder) {
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, NONCE_BYTES);
  }

  /** The counter n. */
  get value(): number {
    return this.n;
  }

  /** Sets n (0 .. NONCE_MAX; the caller checks the range). */
  set(n: number): void {
    this.n = n;
    writeNonce(this.bytes, n, this.order);
  }

  /** n + 1, rewriting only the low 32 bits unless they wrap. */
  increment(): void {
    this.n++;
    const lo = this.n >>> 0;
    if (lo === 0) {
      writeNonce(this.bytes, this.n, this.order);
      return;
    }
    if (this.order === 'le') this.view.setUint32(4, lo, true);
    else this.view.setUint32(8, lo, false);
  }
}
