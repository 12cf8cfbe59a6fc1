// The AEAD seam: ChaCha20-Poly1305 as Noise uses it (RFC 8439, nonce = 4 zero bytes || u64 LE counter),
// and the choice between the node:crypto and @noble backends. It knows nothing of Noise state or links.
import { XnatError } from '../errors.ts';
import { nodeAead, nodeSupportsChaCha } from './aead-node.ts';
import { nobleAead } from './aead-noble.ts';

/** Key length of ChaCha20-Poly1305, in bytes. */
export const AEAD_KEY_BYTES = 32;
/** Length of the Poly1305 tag appended to every ciphertext, in bytes. */
export const AEAD_TAG_BYTES = 16;
/** Length of the RFC 8439 nonce, in bytes (4 zero bytes, then the 64-bit little-endian counter). */
export const AEAD_NONCE_BYTES = 12;

/**
 * One ChaCha20-Poly1305 implementation. Both backends produce identical bytes; they differ in speed
 * and in where they run. `nonce` is the 64-bit Noise counter n (0 .. 2^64-1).
 */
export interface Aead {
  readonly name: 'node' | 'noble';
  /** Returns ciphertext || 16-byte tag. */
  encrypt(key: Uint8Array, nonce: bigint, ad: Uint8Array, plaintext: Uint8Array): Buffer;
  /** Throws XnatError('XNAT_ERR_CRYPTO_DECRYPT') when the tag does not verify. */
  decrypt(key: Uint8Array, nonce: bigint, ad: Uint8Array, ciphertext: Uint8Array): Buffer;
}

/** Which backend to use; a profile setting, default 'auto'. */
export type AeadBackendName = 'auto' | 'node' | 'noble';

/** The backend names a caller may pass to getAead, for config validation and help text. */
export const AEAD_BACKEND_NAMES: readonly AeadBackendName[] = ['auto', 'node', 'noble'];

/**
 * 'auto' = node:crypto when it supports chacha20-poly1305 (probed once), else noble.
 * 'node' when node:crypto lacks the cipher, or an unknown name -> XNAT_ERR_CRYPTO_BACKEND.
 */
export function getAead(name: AeadBackendName = 'auto'): Aead {
  switch (name) {
    case 'auto':
      return nodeSupportsChaCha() ? nodeAead : nobleAead;
    case 'node':
      if (!nodeSupportsChaCha()) throw new XnatError('XNAT_ERR_CRYPTO_BACKEND', { detail: 'node' });
      return nodeAead;
    case 'noble':
      return nobleAead;
    default:
      // Names come from profiles and the CLI; only the name itself (never a secret) goes in detail.
      throw new XnatError('XNAT_ERR_CRYPTO_BACKEND', { detail: String(name).slice(0, 32) });
  }
}
