// The dashboard's heap cap: a full collection once the used heap grows a step past the last one, none
// while it does not, none after stop.
import test from 'ava';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { capOldGeneration } from '../../src/tui/heap-cap.ts';

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
  await sleep(50); // gc entries arrive asynchronously
  obs.disconnect();
  return n;
}

test.serial('a full collection once the heap grew a step; none after stop', async (t) => {
  let keep: unknown[] = [];
  const stop = capOldGeneration(2 * MiB, 20);
  try {
    const grew = await majorGcsDuring(async () => {
      // Kept across the checks, so it is still counted when the timer reads the heap, then let go.
      keep = Array.from({ length: 60_000 }, (_, i) => ({ i, s: `row ${i}` }));
      await sleep(100);
      keep = [];
      await sleep(100);
    });
    t.true(grew >= 1, `expected a full collection, saw ${grew}`);
  } finally {
    stop();
  }
  const after = await majorGcsDuring(async () => {
    keep = Array.from({ length: 60_000 }, (_, i) => ({ i, s: `row ${i}` }));
    await sleep(100);
    keep = [];
  });
  t.is(after, 0);
  t.is(keep.length, 0);
});
