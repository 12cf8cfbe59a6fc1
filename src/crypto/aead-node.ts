// ChaCha20-Poly1305 on node:crypto (OpenSSL): the fast backend. One shared nonce buffer, one output
// allocation per record. It knows nothing of Noise beyond the nonce layout.
import { createCipheriv, createDecipheriv, getCiphers } from 'node:crypto';
import { XnatError } from '../errors.ts';
import type { Aead } from './aead.ts';

const ALGORITHM = 'chacha20-poly1305';
const TAG_BYTES = 16;

// Safe to share: createCipheriv copies the IV into OpenSSL's context before returning, and JS is
// single-threaded, so no two calls interleave between the write and the copy.
const nonceBuf = Buffer.alloc(12);
const EMPTY = Buffer.alloc(0);

function setNonce(n: bigint): Buffer {
  // Bytes 0..3 stay zero forever; bytes 4..11 carry n little-endian (Noise section 12.1, RFC 8439).
  nonceBuf.writeBigUInt64LE(n, 4);
  return nonceBuf;
}

/** RFC 8439 AEAD_CHACHA20_POLY1305 encryption with a full 12-byte nonce: ciphertext || tag. */
export function nodeSeal(
  key: Uint8Array,
  nonce12: Uint8Array,
  ad: Uint8Array,
  plaintext: Uint8Array,
): Buffer {
  const cipher = createCipheriv(ALGORITHM, key, nonce12, { authTagLength: TAG_BYTES });
  if (ad.length > 0) cipher.setAAD(ad, { plaintextLength: plaintext.length });
  const body = plaintext.length > 0 ? cipher.update(plaintext) : EMPTY;
  cipher.final(); // a stream cipher: final() yields no bytes, it only computes the tag
  // One allocation for ciphertext || tag; the copy of `body` is the only extra pass over the data.
  const out = Buffer.allocUnsafe(body.length + TAG_BYTES);
  body.copy(out, 0);
  cipher.getAuthTag().copy(out, body.length);
  return out;
}

/**
 * Like nodeSeal, but returns ciphertext and tag as two buffers instead of copying them into one: the
 * record layer hands both to one writev, so the copy (and a second record-sized allocation) is saved.
 */
export function nodeSealParts(
  key: Uint8Array,
  nonce12: Uint8Array,
  ad: Uint8Array,
  plaintext: Uint8Array,
): [Buffer, Buffer] {
  const cipher = createCipheriv(ALGORITHM, key, nonce12, { authTagLength: TAG_BYTES });
  if (ad.length > 0) cipher.setAAD(ad, { plaintextLength: plaintext.length });
  const body = plaintext.length > 0 ? cipher.update(plaintext) : EMPTY;
  cipher.final();
  return [body, cipher.getAuthTag()];
}

/** RFC 8439 decryption with a full 12-byte nonce; XNAT_ERR_CRYPTO_DECRYPT when the tag does not verify. */
export function nodeOpen(
  key: Uint8Array,
  nonce12: Uint8Array,
  ad: Uint8Array,
  ciphertext: Uint8Array,
): Buffer {
  if (ciphertext.length < TAG_BYTES) {
    throw new XnatError('XNAT_ERR_CRYPTO_DECRYPT', { detail: 'shorter than the tag' });
  }
  const bodyLen = ciphertext.length - TAG_BYTES;
  const decipher = createDecipheriv(ALGORITHM, key, nonce12, { authTagLength: TAG_BYTES });
  decipher.setAuthTag(ciphertext.subarray(bodyLen));
  if (ad.length > 0) decipher.setAAD(ad, { plaintextLength: bodyLen });
  const out = bodyLen > 0 ? decipher.update(ciphertext.subarray(0, bodyLen)) : Buffer.alloc(0);
  try {
    decipher.final();
  } catch (cause) {
    // `out` was written before the tag check; it is dropped here, never returned.
    throw new XnatError('XNAT_ERR_CRYPTO_DECRYPT', { cause });
  }
  return out;
}

/** An Aead that can also return ciphertext and tag separately (no join copy); the record layer's fast path. */
export interface PartsAead extends Aead {
  /** Same bytes as encrypt(), as [ciphertext, 16-byte tag]. */
  encryptParts(key: Uint8Array, nonce: bigint, ad: Uint8Array, plaintext: Uint8Array): [Buffer, Buffer];
}

/** The Noise-shaped backend: nonce n becomes 4 zero bytes || n as u64 little-endian. */
export const nodeAead: PartsAead = {
  name: 'node',
  encrypt: (key, n, ad, plaintext) => nodeSeal(key, setNonce(n), ad, plaintext),
  decrypt: (key, n, ad, ciphertext) => nodeOpen(key, setNonce(n), ad, ciphertext),
  encryptParts: (key, n, ad, plaintext) => nodeSealParts(key, setNonce(n), ad, plaintext),
};

let probed: boolean | undefined;

/** True when this Node's OpenSSL has chacha20-poly1305 and it round-trips; probed once per process. */
export function nodeSupportsChaCha(): boolean {
  if (probed === undefined) {
    try {
      const key = Buffer.alloc(32, 7);
      probed =
        getCiphers().includes(ALGORITHM) &&
        nodeAead
          .decrypt(key, 1n, EMPTY, nodeAead.encrypt(key, 1n, EMPTY, Buffer.from('probe')))
          .toString() === 'probe';
    } catch {
      probed = false;
    }
  }
  return probed;
}
