// The AEAD seam: the two Noise cipher functions (ChaChaPoly = RFC 8439 ChaCha20-Poly1305, AESGCM =
// AES-256-GCM) over 12-byte nonces, and the choice of backend (node:crypto or @noble) for each.
// It knows nothing of Noise state or links; nonce.ts lays the Noise counter into the 12 bytes.
import { XnatError } from '../errors.ts';
import { nodeAeadFor, nodeSupports } from './aead-node.ts';
import type * as NobleBackend from './aead-noble.ts';
import type { NonceOrder } from './nonce.ts';

/** Key length of both AEADs, in bytes. */
export const AEAD_KEY_BYTES = 32;
/** Length of the tag appended to every ciphertext (Poly1305 or GHASH), in bytes. */
export const AEAD_TAG_BYTES = 16;
/** Length of the AEAD nonce, in bytes (4 zero bytes, then the 64-bit counter in the cipher's byte order). */
export const AEAD_NONCE_BYTES = 12;

/** The cipher names of Noise protocol names (spec section 12). */
export type AeadCipher = 'ChaChaPoly' | 'AESGCM';

/** Both ciphers, in the order `auto` falls back (the first runs acceptably everywhere). */
export const AEAD_CIPHERS: readonly AeadCipher[] = ['ChaChaPoly', 'AESGCM'];

/** Byte order of the Noise counter inside the nonce: RFC 8439 little-endian, GCM big-endian (spec 12.3, 12.4). */
export const NONCE_ORDER: Readonly<Record<AeadCipher, NonceOrder>> = { ChaChaPoly: 'le', AESGCM: 'be' };

/**
 * One implementation of one AEAD cipher. Backends of the same cipher produce identical bytes; they differ
 * in speed and in where they run. Inputs are not referenced after a call returns, so callers may reuse them.
 */
export interface Aead {
  readonly name: 'node' | 'noble';
  readonly cipher: AeadCipher;
  /** Returns ciphertext || 16-byte tag. */
  seal(key: Uint8Array, nonce12: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Buffer;
  /**
   * The bytes of seal() as a list to write in order: [ciphertext, tag] when the backend produces them apart
   * (the record layer hands both to one writev, saving the join copy), else [ciphertext || tag].
   */
  sealParts(key: Uint8Array, nonce12: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): readonly Buffer[];
  /** Throws XnatError('XNAT_ERR_CRYPTO_DECRYPT') when the tag does not verify or the input is too short. */
  open(key: Uint8Array, nonce12: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array): Buffer;
  /**
   * Optional: seal() over a plaintext given in pieces (`total` bytes), without joining them: the
   * ciphertext of each piece in order, then the tag. Backends without it are joined by the caller.
   */
  sealPieces?(
    key: Uint8Array,
    nonce12: Uint8Array,
    ad: Uint8Array,
    pieces: readonly Uint8Array[],
    total: number,
  ): Buffer[];
  /**
   * Optional: open() over a ciphertext (|| tag) given in pieces, without joining them; the plaintext as
   * pieces, in order. Nothing is returned unless the tag verifies.
   */
  openPieces?(key: Uint8Array, nonce12: Uint8Array, ad: Uint8Array, pieces: readonly Uint8Array[]): Buffer[];
}

/** Which backend to use; a profile setting (`tuning.cipherBackend`), default 'auto'. */
export type AeadBackendName = 'auto' | 'node' | 'noble';

/** The backend names a caller may pass to getAead, for config validation and help text. */
export const AEAD_BACKEND_NAMES: readonly AeadBackendName[] = ['auto', 'node', 'noble'];

/**
 * The @noble backend, loaded on demand: evaluating @noble/ciphers builds its AES tables (about 5 MiB of a
 * relay's resting RSS), and node:crypto has both ciphers on every usual Node build.
 */
let noble: typeof NobleBackend | undefined;

/** Does `name` need the noble backend for some cipher on this Node? */
export function needsNoble(name: AeadBackendName): boolean {
  return name === 'noble' || (name === 'auto' && AEAD_CIPHERS.some((c) => !nodeSupports(c)));
}

/**
 * Makes `name` usable by getAead: loads the noble backend if `name` may pick it. Every link handshake
 * awaits it before its first getAead; callers of getAead outside a handshake (tests, tools) await it first.
 */
export async function prepareAead(name: AeadBackendName = 'auto'): Promise<void> {
  if (noble === undefined && needsNoble(name)) noble = await import('./aead-noble.ts');
}

function nobleAeadFor(cipher: AeadCipher): Aead {
  if (noble === undefined) {
    throw new XnatError('XNAT_ERR_CRYPTO_BACKEND', { detail: 'noble not loaded: await prepareAead first' });
  }
  return noble.nobleAeadFor(cipher);
}

/**
 * The backend `name` for `cipher`. 'auto' = node:crypto when its OpenSSL has the cipher (probed once),
 * else noble. 'node' when node:crypto lacks the cipher, or an unknown name -> XNAT_ERR_CRYPTO_BACKEND.
 * A noble pick needs prepareAead(name) to have resolved.
 */
export function getAead(name: AeadBackendName = 'auto', cipher: AeadCipher = 'ChaChaPoly'): Aead {
  if (cipher !== 'ChaChaPoly' && cipher !== 'AESGCM') {
    throw new XnatError('XNAT_ERR_CRYPTO_BACKEND', { detail: `cipher ${String(cipher).slice(0, 32)}` });
  }
  switch (name) {
    case 'auto':
      return nodeSupports(cipher) ? nodeAeadFor(cipher) : nobleAeadFor(cipher);
    case 'node':
      if (!nodeSupports(cipher)) throw new XnatError('XNAT_ERR_CRYPTO_BACKEND', { detail: `node ${cipher}` });
      return nodeAeadFor(cipher);
    case 'noble':
      return nobleAeadFor(cipher);
    default:
      // Names come from profiles and the CLI; only the name itself (never a secret) goes in detail.
      throw new XnatError('XNAT_ERR_CRYPTO_BACKEND', { detail: String(name).slice(0, 32) });
  }
}
