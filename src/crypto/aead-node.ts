// ChaCha20-Poly1305 and AES-256-GCM on node:crypto (OpenSSL): the fast backend. One Cipheriv object and
// one output allocation per record or piece (Node has no update-into-buffer); pieces are fed to update()
// one by one, never joined. It knows nothing of Noise nonces.
import { createCipheriv, createDecipheriv, getCiphers, type CipherGCMTypes } from 'node:crypto';
import { XnatError } from '../errors.ts';
import type { Aead, AeadCipher } from './aead.ts';

const TAG_BYTES = 16;
const EMPTY = Buffer.alloc(0);

/** OpenSSL's names of the two ciphers. */
const ALGORITHM = { ChaChaPoly: 'chacha20-poly1305', AESGCM: 'aes-256-gcm' } as const;
// Typed as GCM for @types/node's overloads; the ChaCha20-Poly1305 object has the same methods and options.
type Algorithm = CipherGCMTypes;

function sealParts(
  algorithm: Algorithm,
  key: Uint8Array,
  nonce12: Uint8Array,
  ad: Uint8Array,
  plaintext: Uint8Array,
): [Buffer, Buffer] {
  const cipher = createCipheriv(algorithm, key, nonce12, { authTagLength: TAG_BYTES });
  if (ad.length > 0) cipher.setAAD(ad, { plaintextLength: plaintext.length });
  const body = plaintext.length > 0 ? cipher.update(plaintext) : EMPTY;
  cipher.final(); // stream modes: final() yields no bytes, it only computes the tag
  return [body, cipher.getAuthTag()];
}

function seal(
  algorithm: Algorithm,
  key: Uint8Array,
  nonce12: Uint8Array,
  ad: Uint8Array,
  plaintext: Uint8Array,
): Buffer {
  const [body, tag] = sealParts(algorithm, key, nonce12, ad, plaintext);
  // One allocation for ciphertext || tag; the copy of `body` is the only extra pass over the data.
  const out = Buffer.allocUnsafe(body.length + TAG_BYTES);
  body.copy(out, 0);
  tag.copy(out, body.length);
  return out;
}

function open(
  algorithm: Algorithm,
  key: Uint8Array,
  nonce12: Uint8Array,
  ad: Uint8Array,
  ciphertext: Uint8Array,
): Buffer {
  if (ciphertext.length < TAG_BYTES) {
    throw new XnatError('XNAT_ERR_CRYPTO_DECRYPT', { detail: 'shorter than the tag' });
  }
  const bodyLen = ciphertext.length - TAG_BYTES;
  const decipher = createDecipheriv(algorithm, key, nonce12, { authTagLength: TAG_BYTES });
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

function sealPieces(
  algorithm: Algorithm,
  key: Uint8Array,
  nonce12: Uint8Array,
  ad: Uint8Array,
  pieces: readonly Uint8Array[],
  total: number,
): Buffer[] {
  const cipher = createCipheriv(algorithm, key, nonce12, { authTagLength: TAG_BYTES });
  if (ad.length > 0) cipher.setAAD(ad, { plaintextLength: total });
  const out: Buffer[] = [];
  for (const p of pieces) if (p.length > 0) out.push(cipher.update(p));
  cipher.final();
  out.push(cipher.getAuthTag());
  return out;
}

function openPieces(
  algorithm: Algorithm,
  key: Uint8Array,
  nonce12: Uint8Array,
  ad: Uint8Array,
  pieces: readonly Uint8Array[],
): Buffer[] {
  let total = 0;
  for (const p of pieces) total += p.length;
  if (total < TAG_BYTES) throw new XnatError('XNAT_ERR_CRYPTO_DECRYPT', { detail: 'shorter than the tag' });
  const bodyLen = total - TAG_BYTES;
  // The tag is the last 16 bytes, which may straddle pieces: gathered into its own 16 bytes.
  const tag = Buffer.allocUnsafe(TAG_BYTES);
  let need = TAG_BYTES;
  for (let i = pieces.length - 1; need > 0; i--) {
    const p = pieces[i]!;
    const k = Math.min(need, p.length);
    tag.set(p.subarray(p.length - k), need - k);
    need -= k;
  }
  const decipher = createDecipheriv(algorithm, key, nonce12, { authTagLength: TAG_BYTES });
  decipher.setAuthTag(tag);
  if (ad.length > 0) decipher.setAAD(ad, { plaintextLength: bodyLen });
  const out: Buffer[] = [];
  let left = bodyLen;
  for (const p of pieces) {
    if (left === 0) break;
    const k = Math.min(left, p.length);
    if (k > 0) out.push(decipher.update(p.subarray(0, k)));
    left -= k;
  }
  try {
    decipher.final();
  } catch (cause) {
    // The pieces were written before the tag check; they are dropped here, never returned.
    throw new XnatError('XNAT_ERR_CRYPTO_DECRYPT', { cause });
  }
  return out;
}

function makeAead(cipher: AeadCipher): Aead {
  const algorithm = ALGORITHM[cipher] as Algorithm;
  return {
    name: 'node',
    cipher,
    seal: (key, nonce12, ad, pt) => seal(algorithm, key, nonce12, ad, pt),
    sealParts: (key, nonce12, ad, pt) => sealParts(algorithm, key, nonce12, ad, pt),
    open: (key, nonce12, ad, ct) => open(algorithm, key, nonce12, ad, ct),
    sealPieces: (key, nonce12, ad, pieces, total) => sealPieces(algorithm, key, nonce12, ad, pieces, total),
    openPieces: (key, nonce12, ad, pieces) => openPieces(algorithm, key, nonce12, ad, pieces),
  };
}

const AEADS: Readonly<Record<AeadCipher, Aead>> = {
  ChaChaPoly: makeAead('ChaChaPoly'),
  AESGCM: makeAead('AESGCM'),
};

/** The node:crypto Aead of `cipher`; check nodeSupports(cipher) first. */
export function nodeAeadFor(cipher: AeadCipher): Aead {
  return AEADS[cipher];
}

const probed = new Map<AeadCipher, boolean>();

/** True when this Node's OpenSSL has `cipher` and it round-trips; probed once per process and cipher. */
export function nodeSupports(cipher: AeadCipher): boolean {
  let ok = probed.get(cipher);
  if (ok === undefined) {
    try {
      const key = Buffer.alloc(32, 7);
      const nonce = Buffer.alloc(12, 1);
      const aead = AEADS[cipher];
      ok =
        getCiphers().includes(ALGORITHM[cipher]) &&
        aead.open(key, nonce, EMPTY, aead.seal(key, nonce, EMPTY, Buffer.from('probe'))).toString() ===
          'probe';
    } catch {
      ok = false;
    }
    probed.set(cipher, ok);
  }
  return ok;
}
