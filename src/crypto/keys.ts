// X25519 key pairs and psks as xnat handles them: generation, base64 text in profiles, short fingerprints.
// It knows nothing of profiles' layout: callers say `what` key they parse so errors can name it.
import { XnatError } from '../errors.ts';
import { decodeKey32 } from '../util/bytes.ts';
import { generateX25519, x25519PublicFromPrivate } from './dh.ts';

/** An X25519 key pair; raw 32 bytes each. The private key is a secret: never log it. */
export interface KeyPair {
  readonly publicKey: Buffer;
  readonly privateKey: Buffer;
}

/** Length of a pre-shared key, in bytes (Noise requires exactly 32). */
export const PSK_BYTES = 32;
/** Characters of base64 in a key fingerprint: 48 bits, enough to tell keys apart in logs. */
export const FINGERPRINT_CHARS = 8;

/** A fresh key pair from the system CSPRNG. */
export function generateKeyPair(): KeyPair {
  return generateX25519();
}

/** The public key of a raw 32-byte private key. */
export function publicKeyFromPrivate(priv: Uint8Array): Buffer {
  return x25519PublicFromPrivate(priv);
}

/** Standard base64 (with padding) of a key, as written in profiles and printed by `xnat keygen`. */
export function encodeKey(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('base64');
}

function parseKey32(text: string, what: string): Buffer {
  // The text never goes into the error: it may be a private key or psk pasted in the wrong place.
  const key = typeof text === 'string' ? decodeKey32(text) : undefined;
  if (!key) throw new XnatError('XNAT_ERR_CONFIG_KEY_TEXT', { detail: what });
  return key;
}

/** Parses a base64 X25519 public key; XNAT_ERR_CONFIG_KEY_TEXT naming `what` (e.g. 'relays[0].publicKey'). */
export function parsePublicKey(text: string, what: string): Buffer {
  return parseKey32(text, what);
}

/** Parses a base64 X25519 private key; XNAT_ERR_CONFIG_KEY_TEXT naming `what`, never the text. */
export function parsePrivateKey(text: string, what: string): Buffer {
  return parseKey32(text, what);
}

/** Parses a base64 32-byte psk; XNAT_ERR_CONFIG_KEY_TEXT naming `what`, never the text. */
export function parsePsk(text: string, what: string): Buffer {
  return parseKey32(text, what);
}

/** A short, stable label of a public key for logs and the dashboard: the first 8 base64 characters. */
export function keyFingerprint(pub: Uint8Array): string {
  return encodeKey(pub).slice(0, FINGERPRINT_CHARS);
}
