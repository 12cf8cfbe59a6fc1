// Measure: peak RSS of a bare node process that only allocates, fills and drops 64 KiB Buffers (as socket
// reads and sealed records do under bulk load), keeping the last N live: the floor xnat's bulk peak sits on.
// Run: node --import=tsx test/bench/buffer-churn.ts [liveKiB, default 0] (run it several times: it varies)
const CHUNK = 64 * 1024;
const ROUNDS = 40_000;
const MIB = 1024 * 1024;

const liveKiB = Number(process.argv[2] ?? 0);
const keepCount = Math.floor((liveKiB * 1024) / CHUNK);
const live: Buffer[] = [];
let abPeak = 0;
let rssPeak = 0;
for (let i = 0; i < ROUNDS; i++) {
  // Slow: a backing store of its own, like a socket read's or a sealed record's (not the 8 KiB pool).
  const b = Buffer.allocUnsafeSlow(CHUNK);
  b.fill(i & 0xff); // touch every page, as received data does
  live.push(b);
  if (live.length > keepCount) live.shift();
  if (i % 50 === 0) {
    const m = process.memoryUsage();
    abPeak = Math.max(abPeak, m.arrayBuffers);
    rssPeak = Math.max(rssPeak, m.rss);
  }
}
console.log(
  `live ${liveKiB} KiB, ${((ROUNDS * CHUNK) / MIB).toFixed(0)} MiB churned: ` +
    `arrayBuffers peak ${(abPeak / MIB).toFixed(1)} MiB, RSS peak ${(rssPeak / MIB).toFixed(1)} MiB`,
);
