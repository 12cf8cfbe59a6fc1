// GC counter preloaded into the relay and agent of a bench run (and the floor hops): every second, the
// collections so far by kind (minor, incremental marking, major), their total ms and the CPU used, to
// /tmp/xnat-gc/<role>-<pid>.log. Where bulk CPU goes to the collector, and which collector.
// Run: NODE_OPTIONS=--import=$PWD/test/bench/lib/gc-count.mjs node --import=tsx test/bench/bulk.ts --paths direct,xnat
import { appendFileSync, mkdirSync } from 'node:fs';
import { PerformanceObserver, constants } from 'node:perf_hooks';

const role = process.argv.includes('relay')
  ? 'relay'
  : process.argv.includes('agent')
    ? 'agent'
    : process.argv.find((a) => a === 'seal' || a === 'open');
if (role) {
  const dir = '/tmp/xnat-gc';
  mkdirSync(dir, { recursive: true });
  const file = `${dir}/${role}-${process.pid}.log`;
  const names = {
    [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak',
  };
  const kinds = {};
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const k = names[e.detail?.kind] ?? 'other';
      const s = (kinds[k] ??= { n: 0, ms: 0 });
      s.n++;
      s.ms += e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  setInterval(() => {
    const cpu = process.cpuUsage();
    appendFileSync(file, `${JSON.stringify({ kinds, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`);
  }, 1000).unref();
}
