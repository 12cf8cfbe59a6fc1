// Throughput of both ChaCha20-Poly1305 backends at 1, 16 and 64 KiB records; a script, not a test.
// Run: node --import=tsx test/bench/aead.ts [--seconds=0.5]
import { getAead } from '../../src/crypto/aead.ts';
import type { Aead } from '../../src/crypto/aead.ts';

const SIZES_BYTES = [1024, 16 * 1024, 64 * 1024];
const arg = process.argv.find((a) => a.startsWith('--seconds='));
const SECONDS_PER_CASE = arg ? Number(arg.slice('--seconds='.length)) : 0.5;

const key = Buffer.alloc(32, 0x11);
const ad = new Uint8Array(0);

/** Runs `fn` repeatedly for about SECONDS_PER_CASE after a warm-up; returns MB/s (10^6 bytes). */
function measure(bytesPerCall: number, fn: (i: number) => void): number {
  // Warm-up until the JIT has settled: a fixed share of the budget, not a fixed count.
  const warmEnd = process.hrtime.bigint() + BigInt(Math.round(SECONDS_PER_CASE * 0.2e9));
  for (let i = 0; process.hrtime.bigint() < warmEnd; i++) fn(i);
  const budgetNs = BigInt(Math.round(SECONDS_PER_CASE * 1e9));
  const start = process.hrtime.bigint();
  let calls = 0;
  let elapsed = 0n;
  while (elapsed < budgetNs) {
    for (let j = 0; j < 16; j++) fn(calls++);
    elapsed = process.hrtime.bigint() - start;
  }
  return (calls * bytesPerCall) / (Number(elapsed) / 1e9) / 1e6;
}

function bench(aead: Aead, size: number): { encrypt: number; decrypt: number } {
  const pt = Buffer.alloc(size, 0xa5);
  const encrypt = measure(size, (i) => aead.encrypt(key, BigInt(i), ad, pt));
  const ct = aead.encrypt(key, 1n, ad, pt);
  const decrypt = measure(size, () => aead.decrypt(key, 1n, ad, ct));
  return { encrypt, decrypt };
}

const rows: string[] = [];
const results = new Map<string, { encrypt: number; decrypt: number }>();
for (const name of ['node', 'noble'] as const) {
  const aead = getAead(name);
  for (const size of SIZES_BYTES) {
    const r = bench(aead, size);
    results.set(`${name}/${size}`, r);
    rows.push(
      `${name.padEnd(6)} ${`${size / 1024} KiB`.padStart(7)}  encrypt ${r.encrypt.toFixed(0).padStart(6)} MB/s  decrypt ${r.decrypt.toFixed(0).padStart(6)} MB/s`,
    );
  }
}
console.log(`ChaCha20-Poly1305, ${process.version}, ${SECONDS_PER_CASE}s per case`);
for (const row of rows) console.log(row);
for (const size of SIZES_BYTES) {
  const n = results.get(`node/${size}`)!;
  const b = results.get(`noble/${size}`)!;
  console.log(
    `node/noble at ${size / 1024} KiB: encrypt x${(n.encrypt / b.encrypt).toFixed(1)}, decrypt x${(n.decrypt / b.decrypt).toFixed(1)}`,
  );
}
