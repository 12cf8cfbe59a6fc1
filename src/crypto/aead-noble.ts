// ChaCha20-Poly1305 on @noble/ciphers (audited, pure JS): the portable backend, used when node:crypto
// lacks the cipher or when forced. It knows nothing of Noise beyond the nonce layout.
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { XnatError } from '../errors.ts';
import type { Aead } from './aead.ts';

const TAG_BYTES = 16;

function nonceBytes(n: bigint): Uint8Array {
  // A fresh 12 bytes per call: cheap next to the cipher, and no state shared with a library we do not control.
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setBigUint64(4, n, true);
  return nonce;
}

/** Views noble's Uint8Array as a Buffer without copying. */
function asBuffer(u8: Uint8Array): Buffer {
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

/** RFC 8439 AEAD_CHACHA20_POLY1305 encryption with a full 12-byte nonce: ciphertext || tag. */
export function nobleSeal(
  key: Uint8Array,
  nonce12: Uint8Array,
  ad: Uint8Array,
  plaintext: Uint8Array,
): Buffer {
  return asBuffer(chacha20poly1305(key, nonce12, ad).encrypt(plaintext));
}

/** RFC 8439 decryption with a full 12-byte nonce; XNAT_ERR_CRYPTO_DECRYPT when the tag does not verify. */
export function nobleOpen(
  key: Uint8Array,
  nonce12: Uint8Array,
  ad: Uint8Array,
  ciphertext: Uint8Array,
): Buffer {
  if (ciphertext.length < TAG_BYTES) {
    throw new XnatError('XNAT_ERR_CRYPTO_DECRYPT', { detail: 'shorter than the tag' });
  }
  try {
    return asBuffer(chacha20poly1305(key, nonce12, ad).decrypt(ciphertext));
  } catch (cause) {
    throw new XnatError('XNAT_ERR_CRYPTO_DECRYPT', { cause });
  }
}

/** The Noise-shaped backend: nonce n becomes 4 zero bytes || n as u64 little-endian. */
export const nobleAead: Aead = {
  name: 'noble',
  encrypt: (key, n, ad, plaintext) => nobleSeal(key, nonceBytes(n), ad, plaintext),
  decrypt: (key, n, ad, ciphertext) => nobleOpen(key, nonceBytes(n), ad, ciphertext),
};
