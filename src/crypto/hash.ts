// Noise hash functions (spec section 4.3): HASH, HMAC built from HASH, and HKDF, for BLAKE2s and SHA256
// on node:crypto. It knows nothing of handshake state.
import { createHash } from 'node:crypto';

/** Names of the hash functions as they appear in a Noise protocol name. */
export type NoiseHashName = 'BLAKE2s' | 'SHA256';

/** One Noise hash function with its derived HMAC and HKDF. */
export interface NoiseHash {
  readonly name: NoiseHashName;
  /** HASHLEN: output length in bytes (32 for both supported hashes). */
  readonly hashLen: number;
  /** BLOCKLEN: internal block length in bytes, used by HMAC (64 for both). */
  readonly blockLen: number;
  /** HASH(parts[0] || parts[1] || ...). */
  hash(...parts: Uint8Array[]): Buffer;
  /** HMAC-HASH(key, data) per RFC 2104, built from `hash` with BLOCKLEN-byte pads. */
  hmac(key: Uint8Array, ...data: Uint8Array[]): Buffer;
  /** HKDF(chainingKey, inputKeyMaterial, numOutputs) of spec section 4.3; 2 or 3 outputs of HASHLEN. */
  hkdf(chainingKey: Uint8Array, inputKeyMaterial: Uint8Array, numOutputs: 2 | 3): Buffer[];
}

const IPAD = 0x36;
const OPAD = 0x5c;
const BYTE_1 = Uint8Array.of(0x01);
const BYTE_2 = Uint8Array.of(0x02);
const BYTE_3 = Uint8Array.of(0x03);

function makeHash(name: NoiseHashName, nodeName: string, hashLen: number, blockLen: number): NoiseHash {
  const hash = (...parts: Uint8Array[]): Buffer => {
    const h = createHash(nodeName);
    for (const p of parts) h.update(p);
    return h.digest();
  };

  const hmac = (key: Uint8Array, ...data: Uint8Array[]): Buffer => {
    // Keys longer than a block are hashed first (RFC 2104); Noise never does this but HMAC requires it.
    const k = key.length > blockLen ? hash(key) : key;
    const ipad = Buffer.alloc(blockLen, IPAD);
    const opad = Buffer.alloc(blockLen, OPAD);
    for (let i = 0; i < k.length; i++) {
      ipad[i]! ^= k[i]!;
      opad[i]! ^= k[i]!;
    }
    return hash(opad, hash(ipad, ...data));
  };

  const hkdf = (chainingKey: Uint8Array, inputKeyMaterial: Uint8Array, numOutputs: 2 | 3): Buffer[] => {
    const tempKey = hmac(chainingKey, inputKeyMaterial);
    const output1 = hmac(tempKey, BYTE_1);
    const output2 = hmac(tempKey, output1, BYTE_2);
    if (numOutputs === 2) return [output1, output2];
    const output3 = hmac(tempKey, output2, BYTE_3);
    return [output1, output2, output3];
  };

  return { name, hashLen, blockLen, hash, hmac, hkdf };
}

/** BLAKE2s-256: the hash of xnat's link protocol. */
export const BLAKE2s: NoiseHash = makeHash('BLAKE2s', 'blake2s256', 32, 64);
/** SHA-256: supported for the vectors and for peers that prefer it. */
export const SHA256: NoiseHash = makeHash('SHA256', 'sha256', 32, 64);

/** The hash named in a Noise protocol name, or undefined when unsupported. */
export function hashByName(name: string): NoiseHash | undefined {
  return name === 'BLAKE2s' ? BLAKE2s : name === 'SHA256' ? SHA256 : undefined;
}
