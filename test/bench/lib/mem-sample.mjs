// Memory sampler preloaded into the relay and agent of a bench run: every 50 ms, and each 500 ms the maxima
// to /tmp/xnat-mem/<role>-<pid>.log (RSS, heap, Buffers, young generation, old space used).
// Run: NODE_OPTIONS=--import=$PWD/test/bench/lib/mem-sample.mjs node --import=tsx test/bench/bulk.ts --paths xnat
import { appendFileSync, mkdirSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';

const role = process.argv.includes('relay') ? 'relay' : process.argv.includes('agent') ? 'agent' : undefined;
if (role) {
  const dir = '/tmp/xnat-mem';
  mkdirSync(dir, { recursive: true });
  const file = `${dir}/${role}-${process.pid}.log`;
  const mib = (x) => (x / 1048576).toFixed(1);
  let max = {};
  let n = 0;
  setInterval(() => {
    const m = process.memoryUsage();
    const spaces = getHeapSpaceStatistics();
    const space = (name) => spaces.find((s) => s.space_name === name);
    const sample = {
      rss: m.rss,
      heapTotal: m.heapTotal,
      heapUsed: m.heapUsed,
      arrayBuffers: m.arrayBuffers,
      newSpace: space('new_space')?.space_size ?? 0,
      oldUsed: space('old_space')?.space_used_size ?? 0,
    };
    for (const [k, v] of Object.entries(sample)) max[k] = Math.max(max[k] ?? 0, v);
    if (++n % 10 === 0) {
      const line = Object.entries(max)
        .map(([k, v]) => `${k} ${mib(v)}`)
        .join(' ');
      appendFileSync(file, `${new Date().toISOString().slice(11, 22)} ${line}\n`);
      max = {};
    }
  }, 50).unref();
}
