// Noise CipherState (spec section 5.1): a key k and a nonce n over one AEAD. n is a JS number kept in
// step with its 12-byte encoding (nonce.ts), so a record costs no bigint and no nonce allocation.
// It knows nothing of handshakes or links; the record layer owns one per direction after Split().
import { XnatError } from '../errors.ts';
import { AEAD_KEY_BYTES, AEAD_TAG_BYTES, NONCE_ORDER } from './aead.ts';
import type { Aead } from './aead.ts';
import { NONCE_MAX, Nonce, REKEY_NONCE } from './nonce.ts';

/** Largest Noise message (handshake or transport), in bytes (spec section 3). */
export const NOISE_MAX_MESSAGE_BYTES = 65535;
/** Largest plaintext one transport message may carry, in bytes: the message limit minus the tag. */
export const NOISE_MAX_PLAINTEXT_BYTES = NOISE_MAX_MESSAGE_BYTES - AEAD_TAG_BYTES;
export { NONCE_MAX } from './nonce.ts';

const EMPTY = new Uint8Array(0);
const ZEROS_32 = new Uint8Array(AEAD_KEY_BYTES);

/**
 * Pieces joined for a backend that takes one buffer: shared, used and released within one synchronous
 * call (the backends copy their input out and keep no reference); allocated on first use.
 */
let joinScratch: Buffer | undefined;

function join(pieces: readonly Uint8Array[], total: number): Uint8Array {
  if (pieces.length === 1) return pieces[0]!;
  if (total > NOISE_MAX_MESSAGE_BYTES) return Buffer.concat(pieces, total); // refused by the caller's check
  joinScratch ??= Buffer.allocUnsafe(NOISE_MAX_MESSAGE_BYTES);
  let at = 0;
  for (const p of pieces) {
    joinScratch.set(p, at);
    at += p.length;
  }
  return joinScratch.subarray(0, total);
}

export class CipherState {
  private k: Buffer | null = null;
  private readonly n: Nonce;

  constructor(readonly aead: Aead) {
    this.n = new Nonce(NONCE_ORDER[aead.cipher]);
  }

  /** InitializeKey(key): sets k (null = empty, i.e. no encryption) and n = 0. */
  initializeKey(k: Uint8Array | null): void {
    if (k !== null && k.length !== AEAD_KEY_BYTES) {
      throw new XnatError('XNAT_ERR_INTERNAL', { detail: 'cipher key length' });
    }
    // A private copy: the caller's buffer may be reused or zeroed later.
    this.k = k === null ? null : Buffer.from(k);
    this.n.set(0);
  }

  /** HasKey(): true when k is non-empty. */
  hasKey(): boolean {
    return this.k !== null;
  }

  /** SetNonce(nonce): for out-of-order transports; xnat's links never call it outside tests. 0..NONCE_MAX. */
  setNonce(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new XnatError('XNAT_ERR_INTERNAL', { detail: 'nonce out of range' });
    }
    this.n.set(n);
  }

  /** The nonce the next EncryptWithAd/DecryptWithAd will use. */
  get nonce(): number {
    return this.n.value;
  }

  /**
   * EncryptWithAd(ad, plaintext): ENCRYPT(k, n++, ad, plaintext), or the plaintext itself while k is empty.
   * XNAT_ERR_CRYPTO_NONCE_EXHAUSTED at n = NONCE_MAX; XNAT_ERR_CRYPTO_MESSAGE_SIZE above 65535 bytes out.
   */
  encryptWithAd(ad: Uint8Array, pt: Uint8Array): Buffer {
    if (this.k === null) return Buffer.from(pt);
    this.checkSend(pt);
    const ct = this.aead.seal(this.k, this.n.bytes, ad, pt);
    this.n.increment();
    return ct;
  }

  /**
   * EncryptWithAd with the result as a list of buffers to write in order (ciphertext, then tag, when the
   * backend returns them apart; else one buffer). Same bytes, same checks, same nonce step. `pt` is
   * not referenced after the call returns, so callers may reuse it.
   */
  encryptWithAdParts(ad: Uint8Array, pt: Uint8Array): readonly Buffer[] {
    if (this.k === null) return [Buffer.from(pt)];
    this.checkSend(pt);
    const parts = this.aead.sealParts(this.k, this.n.bytes, ad, pt);
    this.n.increment();
    return parts;
  }

  /**
   * EncryptWithAd over a plaintext given in pieces (`total` bytes): the backend's sealPieces when it has
   * one (no join), else one join and sealParts. Same bytes, checks and nonce step as encryptWithAd.
   */
  encryptWithAdPieces(ad: Uint8Array, pieces: readonly Uint8Array[], total: number): readonly Buffer[] {
    if (this.k === null || !this.aead.sealPieces) return this.encryptWithAdParts(ad, join(pieces, total));
    if (total > NOISE_MAX_PLAINTEXT_BYTES) {
      throw new XnatError('XNAT_ERR_CRYPTO_MESSAGE_SIZE', { detail: `plaintext ${total} bytes` });
    }
    this.checkNonce();
    const parts = this.aead.sealPieces(this.k, this.n.bytes, ad, pieces, total);
    this.n.increment();
    return parts;
  }

  /**
   * DecryptWithAd over a ciphertext given in pieces (a record split across socket reads): the backend's
   * openPieces when it has one (no join), else one join and open. Same checks and nonce step.
   */
  decryptWithAdPieces(ad: Uint8Array, pieces: readonly Uint8Array[]): Buffer | Buffer[] {
    let total = 0;
    for (const p of pieces) total += p.length;
    if (this.k === null || !this.aead.openPieces) return this.decryptWithAd(ad, join(pieces, total));
    if (total > NOISE_MAX_MESSAGE_BYTES) {
      throw new XnatError('XNAT_ERR_CRYPTO_MESSAGE_SIZE', { detail: `ciphertext ${total} bytes` });
    }
    this.checkNonce();
    const pt = this.aead.openPieces(this.k, this.n.bytes, ad, pieces);
    this.n.increment();
    return pt;
  }

  /**
   * DecryptWithAd(ad, ciphertext): the plaintext, or XNAT_ERR_CRYPTO_DECRYPT; n advances only on success
   * (spec: a failed decryption leaves the state unchanged). Returns the ciphertext itself while k is empty.
   */
  decryptWithAd(ad: Uint8Array, ct: Uint8Array): Buffer {
    if (this.k === null) return Buffer.from(ct);
    if (ct.length > NOISE_MAX_MESSAGE_BYTES) {
      throw new XnatError('XNAT_ERR_CRYPTO_MESSAGE_SIZE', { detail: `ciphertext ${ct.length} bytes` });
    }
    this.checkNonce();
    const pt = this.aead.open(this.k, this.n.bytes, ad, ct);
    this.n.increment();
    return pt;
  }

  /**
   * Rekey(): k = first 32 bytes of ENCRYPT(k, 2^64-1, zerolen, zeros[32]) (spec sections 4.2, 11.3).
   * n is left alone, as the spec says; both sides must rekey at the same point of their message streams.
   */
  rekey(): void {
    if (this.k === null)
      throw new XnatError('XNAT_ERR_CRYPTO_HANDSHAKE_STATE', { detail: 'rekey without a key' });
    this.k = this.aead.seal(this.k, REKEY_NONCE, EMPTY, ZEROS_32).subarray(0, AEAD_KEY_BYTES);
  }

  private checkSend(pt: Uint8Array): void {
    if (pt.length > NOISE_MAX_PLAINTEXT_BYTES) {
      throw new XnatError('XNAT_ERR_CRYPTO_MESSAGE_SIZE', { detail: `plaintext ${pt.length} bytes` });
    }
    this.checkNonce();
  }

  private checkNonce(): void {
    // Past NONCE_MAX a number no longer counts exactly; reaching it means 2^53-1 messages on one key.
    if (this.n.value >= NONCE_MAX) throw new XnatError('XNAT_ERR_CRYPTO_NONCE_EXHAUSTED');
  }
}
