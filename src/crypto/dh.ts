// Noise DH functions for Curve25519 (spec section 4.1) on node:crypto: GENERATE_KEYPAIR, DH, raw 32-byte keys.
// It knows nothing of key text or handshake state; keys.ts formats keys, handshake-state.ts uses them.
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  timingSafeEqual,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { XnatError } from '../errors.ts';
import type { KeyPair } from './keys.ts';

/** DHLEN: length of public keys and shared secrets, in bytes. */
export const DH_LEN = 32;

// DER wrapper that turns a raw X25519 private key into the PKCS8 shape node:crypto imports (RFC 8410).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/**
 * Private KeyObjects by key pair. Importing a raw private key costs about 10x a DH here, so each pair is
 * imported once; pairs made by generateX25519 (every ephemeral) are cached at birth and never imported.
 */
const privateObjects = new WeakMap<KeyPair, KeyObject>();

function privateKeyObject(keyPair: KeyPair): KeyObject {
  let key = privateObjects.get(keyPair);
  if (!key) {
    key = importPrivate(keyPair.privateKey);
    privateObjects.set(keyPair, key);
  }
  return key;
}

function importPrivate(raw: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  // JWK import of a public key is about 4x faster than SPKI DER in Node 20.
  return createPublicKey({
    key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(raw).toString('base64url') },
    format: 'jwk',
  });
}

/** GENERATE_KEYPAIR(): a fresh X25519 key pair from the system CSPRNG, raw 32-byte keys. */
export function generateX25519(): KeyPair {
  const { privateKey } = generateKeyPairSync('x25519');
  const jwk = privateKey.export({ format: 'jwk' });
  const pair: KeyPair = {
    privateKey: Buffer.from(jwk.d!, 'base64url'),
    publicKey: Buffer.from(jwk.x!, 'base64url'),
  };
  privateObjects.set(pair, privateKey);
  return pair;
}

/** The raw public key of a raw 32-byte private key (clamping is X25519's own, as every implementation does). */
export function x25519PublicFromPrivate(privateKey: Uint8Array): Buffer {
  if (privateKey.length !== DH_LEN)
    throw new XnatError('XNAT_ERR_CRYPTO_DH', { detail: 'private key length' });
  return Buffer.from(importPrivate(privateKey).export({ format: 'jwk' }).x!, 'base64url');
}

const ZERO_SECRET = Buffer.alloc(DH_LEN);

/**
 * DH(key_pair, public_key): the X25519 shared secret. A low-order peer key gives an all-zero secret,
 * which we reject (spec section 12.1 allows it) so a peer cannot force a known key: XNAT_ERR_CRYPTO_DH.
 */
export function dh(keyPair: KeyPair, publicKey: Uint8Array): Buffer {
  if (publicKey.length !== DH_LEN) throw new XnatError('XNAT_ERR_CRYPTO_DH', { detail: 'public key length' });
  let secret: Buffer;
  try {
    secret = diffieHellman({
      privateKey: privateKeyObject(keyPair),
      publicKey: publicKeyObject(publicKey),
    });
  } catch (cause) {
    // OpenSSL itself refuses some low-order points; same meaning as the all-zero check below.
    throw new XnatError('XNAT_ERR_CRYPTO_DH', { cause });
  }
  if (timingSafeEqual(secret, ZERO_SECRET))
    throw new XnatError('XNAT_ERR_CRYPTO_DH', { detail: 'all-zero shared secret' });
  return secret;
}
