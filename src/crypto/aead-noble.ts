// ChaCha20-Poly1305 and AES-256-GCM on @noble/ciphers (audited, pure JS): the portable backend, used when
// node:crypto lacks a cipher or when forced. It knows nothing of Noise nonces.
import { gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { XnatError } from '../errors.ts';
import type { Aead, AeadCipher } from './aead.ts';

const TAG_BYTES = 16;

type Construct = (
  key: Uint8Array,
  nonce: Uint8Array,
  ad?: Uint8Array,
) => {
  encrypt(pt: Uint8Array): Uint8Array;
  decrypt(ct: Uint8Array): Uint8Array;
};

const CONSTRUCT: Readonly<Record<AeadCipher, Construct>> = { ChaChaPoly: chacha20poly1305, AESGCM: gcm };

/** Views noble's Uint8Array as a Buffer without copying. */
function asBuffer(u8: Uint8Array): Buffer {
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

function makeAead(cipher: AeadCipher): Aead {
  const construct = CONSTRUCT[cipher];
  // noble reads key, nonce and ad during the call and keeps none of them after it returns.
  const seal = (key: Uint8Array, nonce12: Uint8Array, ad: Uint8Array, pt: Uint8Array): Buffer =>
    asBuffer(construct(key, nonce12, ad).encrypt(pt));
  return {
    name: 'noble',
    cipher,
    seal,
    sealParts: (key, nonce12, ad, pt) => [seal(key, nonce12, ad, pt)],
    open(key, nonce12, ad, ct) {
      if (ct.length < TAG_BYTES) {
        throw new XnatError('XNAT_ERR_CRYPTO_DECRYPT', { detail: 'shorter than the tag' });
      }
      try {
        return asBuffer(construct(key, nonce12, ad).decrypt(ct));
      } catch (cause) {
        throw new XnatError('XNAT_ERR_CRYPTO_DECRYPT', { cause });
      }
    },
  };
}

const AEADS: Readonly<Record<AeadCipher, Aead>> = {
  ChaChaPoly: makeAead('ChaChaPoly'),
  AESGCM: makeAead('AESGCM'),
};

/** The @noble Aead of `cipher`. */
export function nobleAeadFor(cipher: AeadCipher): Aead {
  return AEADS[cipher];
}
