// Throughput of both AEADs (ChaCha20-Poly1305, AES-256-GCM) on each backend at 1, 16 and 64 KiB records,
// the per-record cost of node:crypto's Cipheriv object, and optionally sodium-native; a script, not a test.
// Run: node --import=tsx test/bench/aead.ts [--seconds=0.5] [--sodium=/path/to/node_modules/sodium-native]
import { createCipheriv, type CipherGCMTypes } from 'node:crypto';
import { createRequire } from 'node:module';
import { AEAD_CIPHERS, NONCE_ORDER, getAead, prepareAead, type AeadCipher } from '../../src/crypto/aead.ts';
import { Nonce } from '../../src/crypto/nonce.ts';

const SIZES_BYTES = [1024, 16 * 1024, 64 * 1024];
const argValue = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const SECONDS_PER_CASE = Number(argValue('seconds') ?? 0.5);
const SODIUM_PATH = argValue('sodium');

const OPENSSL_NAME: Record<AeadCipher, CipherGCMTypes> = {
  ChaChaPoly: 'chacha20-poly1305' as CipherGCMTypes,
  AESGCM: 'aes-256-gcm',
};

const key = Buffer.alloc(32, 0x11);
const ad = new Uint8Array(0);

/** Rounds per group; the best of each case is reported, since other load only ever slows a round. */
const ROUNDS = 8;

/**
 * Runs the cases of one group in interleaved rounds (a, b, c, a, b, c, ...) for about SECONDS_PER_CASE
 * each after a warm-up, so load from other processes hits all of them alike; returns the best MB/s of
 * each (10^6 bytes per second; `bytesPerCall` 1 turns it into calls per µs).
 */
function measureGroup(cases: Record<string, { bytes: number; fn: () => void }>): Record<string, number> {
  const names = Object.keys(cases);
  for (const name of names) {
    const warmEnd = performance.now() + SECONDS_PER_CASE * 100;
    while (performance.now() < warmEnd) cases[name]!.fn();
  }
  const budgetMs = (SECONDS_PER_CASE * 1000) / ROUNDS;
  const best: Record<string, number> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of names) {
      const { bytes, fn } = cases[name]!;
      const start = performance.now();
      let calls = 0;
      let elapsed = 0;
      while (elapsed < budgetMs) {
        for (let j = 0; j < 4; j++) fn();
        calls += 4;
        elapsed = performance.now() - start;
      }
      best[name] = Math.max(best[name] ?? 0, (calls * bytes) / (elapsed / 1000) / 1e6);
    }
  }
  return best;
}

const fmt = (mbps: number): string => mbps.toFixed(0).padStart(6);

/** Seal (as the record layer does: sealParts, nonce stepped) and open through the Aead seam. */
function aeadCases(backend: 'node' | 'noble', cipher: AeadCipher, size: number) {
  const aead = getAead(backend, cipher);
  const pt = Buffer.alloc(size, 0xa5);
  const nonce = new Nonce(NONCE_ORDER[cipher]);
  const fixed = Buffer.alloc(12, 1);
  const ct = aead.seal(key, fixed, ad, pt);
  return {
    [`${backend} seal`]: {
      bytes: size,
      fn: () => {
        aead.sealParts(key, nonce.bytes, ad, pt);
        nonce.increment();
      },
    },
    [`${backend} open`]: { bytes: size, fn: () => void aead.open(key, fixed, ad, ct) },
  };
}

/** The fixed cost of one node:crypto record: a Cipheriv made, finalised and its tag read, no data. */
function emptyRecordCase(cipher: AeadCipher) {
  const nonce = new Nonce(NONCE_ORDER[cipher]);
  return {
    bytes: 1,
    fn: () => {
      const c = createCipheriv(OPENSSL_NAME[cipher], key, nonce.bytes, { authTagLength: 16 });
      c.final();
      c.getAuthTag();
      nonce.increment();
    },
  };
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

/** sodium-native's detached ChaCha20-Poly1305: seal in place, open into a reused buffer, no object per call. */
function sodiumCases(sodium: Sodium, size: number) {
  const buf = Buffer.alloc(size, 0xa5);
  const mac = Buffer.alloc(16);
  const nonce = new Nonce('le');
  const fixed = Buffer.alloc(12, 1);
  const ct = Buffer.alloc(size, 0xa5);
  const tag = Buffer.alloc(16);
  sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached(ct, tag, ct, null, null, fixed, key);
  const out = Buffer.alloc(size);
  return {
    'sodium seal': {
      bytes: size,
      fn: () => {
        sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached(
          buf,
          mac,
          buf,
          null,
          null,
          nonce.bytes,
          key,
        );
        nonce.increment();
      },
    },
    'sodium open': {
      bytes: size,
      fn: () =>
        sodium.crypto_aead_chacha20poly1305_ietf_decrypt_detached(out, null, ct, tag, null, fixed, key),
    },
  };
}

await prepareAead('noble');
const sodium = SODIUM_PATH ? (createRequire(import.meta.url)(SODIUM_PATH) as Sodium) : undefined;
console.log(
  `AEAD throughput, ${process.version}, ${SECONDS_PER_CASE}s per case in ${ROUNDS} interleaved rounds, best round, MB/s (10^6 bytes/s)`,
);
if (!sodium) console.log('sodium-native: not measured (pass --sodium=/path/to/node_modules/sodium-native)');
for (const cipher of AEAD_CIPHERS) {
  for (const size of SIZES_BYTES) {
    const r = measureGroup({
      ...aeadCases('node', cipher, size),
      ...aeadCases('noble', cipher, size),
      ...(sodium && cipher === 'ChaChaPoly' ? sodiumCases(sodium, size) : {}),
      empty: emptyRecordCase(cipher),
    });
    const objectUs = 1 / r.empty!;
    const recordUs = size / r['node seal']!; // bytes / (MB/s) = µs
    const cols = [
      `node seal ${fmt(r['node seal']!)} open ${fmt(r['node open']!)}`,
      `noble seal ${fmt(r['noble seal']!)} open ${fmt(r['noble open']!)}`,
      `node object ${objectUs.toFixed(1)} µs = ${((objectUs / recordUs) * 100).toFixed(0).padStart(2)}% of a seal`,
    ];
    if (r['sodium seal'] !== undefined) {
      cols.push(
        `sodium seal ${fmt(r['sodium seal'])} open ${fmt(r['sodium open']!)} (x${(r['sodium seal'] / r['node seal']!).toFixed(2)} / x${(r['sodium open']! / r['node open']!).toFixed(2)} node)`,
      );
    }
    console.log(`${cipher.padEnd(10)} ${`${size / 1024} KiB`.padStart(6)}  ${cols.join('  ')}`);
  }
}
