// The dashboard's heap cap: a full collection once the used heap grows a step past the last one, none
// while it does not, none after stop.
import test from 'ava';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { capOldGeneration } from '../../src/tui/heap-cap.ts';
import { FakeClock } from '../../src/util/clock.ts';

const MiB = 1024 * 1024;

/** Counts major (mark-compact) collections while `fn` runs. */
async function majorGcsDuring(fn: () => Promise<void>): Promise<number> {
  let n = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if ((e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) n++;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  await fn();
  await new Promise((r) => setTimeout(r, 50)); // gc entries are delivered asynchronously
  obs.disconnect();
  return n;
}

test.serial('a full collection once the heap grew a step; none after stop', async (t) => {
  // The checks run on a fake clock: each advance is one check, whatever the machine's load.
  const clock = new FakeClock();
  let keep: unknown[] = [];
  const stop = capOldGeneration(2 * MiB, 20, clock);
  try {
    const grew = await majorGcsDuring(async () => {
      keep = Array.from({ length: 60_000 }, (_, i) => ({ i, s: `row ${i}` }));
      clock.advance(20); // the heap is a step past the base: a full collection
      keep = [];
    });
    t.true(grew >= 1, `expected a full collection, saw ${grew}`);
    const calm = await majorGcsDuring(async () => {
      clock.advance(100); // no growth since: none
    });
    t.is(calm, 0);
  } finally {
    stop();
  }
  const after = await majorGcsDuring(async () => {
    keep = Array.from({ length: 60_000 }, (_, i) => ({ i, s: `row ${i}` }));
    clock.advance(100);
    keep = [];
  });
  t.is(after, 0);
  t.is(keep.length, 0);
});
