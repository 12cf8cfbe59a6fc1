// Throughput of both AEADs (ChaCha20-Poly1305, AES-256-GCM) on each backend at 1, 16 and 64 KiB records,
// the per-record cost of node:crypto's Cipheriv object, and optionally sodium-native; a script, not a test.
// Run: node --import=tsx test/bench/aead.ts [--seconds=1] [--sodium=/path/to/node_modules/sodium-native]
import { createCipheriv, type CipherGCMTypes } from 'node:crypto';
import { createRequire } from 'node:module';
import { AEAD_CIPHERS, NONCE_ORDER, getAead, type AeadCipher } from '../../src/crypto/aead.ts';
import { Nonce } from '../../src/crypto/nonce.ts';

const SIZES_BYTES = [1024, 16 * 1024, 64 * 1024];
const argValue = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const SECONDS_PER_CASE = Number(argValue('seconds') ?? 1);
const SODIUM_PATH = argValue('sodium');

const OPENSSL_NAME: Record<AeadCipher, CipherGCMTypes> = {
  ChaChaPoly: 'chacha20-poly1305' as CipherGCMTypes,
  AESGCM: 'aes-256-gcm',
};

const key = Buffer.alloc(32, 0x11);
const ad = new Uint8Array(0);

/** Rounds per case; the best one is reported, since other load on the machine only ever slows a round. */
const ROUNDS = 5;

/** Runs `fn` for about SECONDS_PER_CASE after a warm-up, in ROUNDS rounds; returns the best MB/s (10^6 bytes). */
function measure(bytesPerCall: number, fn: () => void): number {
  // Warm-up until the JIT has settled: a fixed share of the budget, not a fixed count.
  const warmEnd = performance.now() + SECONDS_PER_CASE * 200;
  while (performance.now() < warmEnd) fn();
  const budgetMs = (SECONDS_PER_CASE * 1000) / ROUNDS;
  let best = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    let calls = 0;
    let elapsed = 0;
    while (elapsed < budgetMs) {
      for (let j = 0; j < 8; j++) fn();
      calls += 8;
      elapsed = performance.now() - start;
    }
    best = Math.max(best, (calls * bytesPerCall) / (elapsed / 1000) / 1e6);
  }
  return best;
}

const fmt = (mbps: number): string => mbps.toFixed(0).padStart(6);

interface Row {
  encrypt: number;
  decrypt: number;
}

/** Seal and open through the Aead seam, the nonce stepped as a CipherState steps it. */
function benchAead(backend: 'node' | 'noble', cipher: AeadCipher, size: number): Row {
  const aead = getAead(backend, cipher);
  const pt = Buffer.alloc(size, 0xa5);
  const nonce = new Nonce(NONCE_ORDER[cipher]);
  const encrypt = measure(size, () => {
    aead.sealParts(key, nonce.bytes, ad, pt);
    nonce.increment();
  });
  nonce.set(1);
  const ct = aead.seal(key, nonce.bytes, ad, pt);
  const decrypt = measure(size, () => aead.open(key, nonce.bytes, ad, ct));
  return { encrypt, decrypt };
}

/** The fixed cost of one node:crypto record, in µs: a Cipheriv made, finalised and its tag read, no data. */
function emptyRecordUs(cipher: AeadCipher): number {
  const nonce = Buffer.alloc(12);
  let n = 0;
  // measure() counts bytes; 1 "byte" per call turns its MB/s into calls per µs.
  const callsPerUs = measure(1, () => {
    nonce.writeUInt32LE(n++, 4);
    const c = createCipheriv(OPENSSL_NAME[cipher], key, nonce, { authTagLength: 16 });
    c.final();
    c.getAuthTag();
  });
  return 1 / callsPerUs;
}

interface Sodium {
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(
    c: Buffer,
    mac: Buffer,
    m: Buffer,
    ad: Buffer | null,
    nsec: null,
    npub: Buffer,
    k: Buffer,
  ): void;
  crypto_aead_chacha20poly1305_ietf_decrypt_detached(
    m: Buffer,
    nsec: null,
    c: Buffer,
    mac: Buffer,
    ad: Buffer | null,
    npub: Buffer,
    k: Buffer,
  ): void;
}

/** sodium-native's detached, in-place ChaCha20-Poly1305 (it has no AES-256-GCM). */
function benchSodium(sodium: Sodium, size: number): Row {
  const buf = Buffer.alloc(size, 0xa5);
  const mac = Buffer.alloc(16);
  const nonce = new Nonce('le');
  const encrypt = measure(size, () => {
    sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached(buf, mac, buf, null, null, nonce.bytes, key);
    nonce.increment();
  });
  nonce.set(1);
  const ct = Buffer.alloc(size, 0xa5);
  const tag = Buffer.alloc(16);
  sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached(ct, tag, ct, null, null, nonce.bytes, key);
  const out = Buffer.alloc(size);
  const decrypt = measure(size, () =>
    sodium.crypto_aead_chacha20poly1305_ietf_decrypt_detached(out, null, ct, tag, null, nonce.bytes, key),
  );
  return { encrypt, decrypt };
}

console.log(`AEAD throughput, ${process.version}, ${SECONDS_PER_CASE}s per case, MB/s (10^6 bytes/s)`);
const node = new Map<string, Row>();
for (const cipher of AEAD_CIPHERS) {
  for (const backend of ['node', 'noble'] as const) {
    for (const size of SIZES_BYTES) {
      const r = benchAead(backend, cipher, size);
      if (backend === 'node') node.set(`${cipher}/${size}`, r);
      console.log(
        `${cipher.padEnd(10)} ${backend.padEnd(6)} ${`${size / 1024} KiB`.padStart(6)}  encrypt ${fmt(r.encrypt)}  decrypt ${fmt(r.decrypt)}`,
      );
    }
  }
}

console.log(
  '\nnode:crypto per-record object (a new Cipheriv, final, tag; no data), and its share of a record:',
);
for (const cipher of AEAD_CIPHERS) {
  const us = emptyRecordUs(cipher);
  const shares = SIZES_BYTES.map((size) => {
    const recordUs = size / node.get(`${cipher}/${size}`)!.encrypt; // bytes / (MB/s) = µs
    return `${size / 1024} KiB ${((us / recordUs) * 100).toFixed(0)}%`;
  });
  console.log(
    `${cipher.padEnd(10)} ${us.toFixed(1)} µs/record; share of the sealing time: ${shares.join(', ')}`,
  );
}

if (SODIUM_PATH) {
  const sodium = createRequire(import.meta.url)(SODIUM_PATH) as Sodium;
  console.log('\nsodium-native ChaCha20-Poly1305 (detached, in place; it has no AES-256-GCM):');
  for (const size of SIZES_BYTES) {
    const r = benchSodium(sodium, size);
    const n = node.get(`ChaChaPoly/${size}`)!;
    console.log(
      `sodium     ${`${size / 1024} KiB`.padStart(6)}  encrypt ${fmt(r.encrypt)}  decrypt ${fmt(r.decrypt)}  vs node x${(r.encrypt / n.encrypt).toFixed(2)} / x${(r.decrypt / n.decrypt).toFixed(2)}`,
    );
  }
} else {
  console.log('\nsodium-native: not measured (pass --sodium=/path/to/node_modules/sodium-native)');
}
