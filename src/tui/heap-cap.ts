// Caps how far the dashboard's old generation grows past what its last full collection kept, by asking V8
// for a full collection when it does: at short intervals frames promote about 1 MiB/s of short-lived data.
// `xnat dashboard` starts it; it knows nothing of the screen.
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { realClock, type Clock } from '../util/clock.ts';

/** Growth of the used heap past the last full collection that triggers the next one, in bytes. */
export const HEAP_CAP_STEP_BYTES = 3 * 1024 * 1024;
/** How often the used heap is read, in ms (a read costs microseconds). */
export const HEAP_CAP_CHECK_MS = 1000;

/**
 * Starts the cap; returns a stop function. V8 alone lets the old generation reach about 1.6 times what the
 * last mark-compact kept before it collects (5-8 MiB here); a full collection of this heap takes about
 * 10 ms, one every few seconds at 250 ms, rarely at the default interval (docs/dashboard.md, "Memory").
 */
export function capOldGeneration(
  stepBytes: number = HEAP_CAP_STEP_BYTES,
  checkMs: number = HEAP_CAP_CHECK_MS,
  clock: Clock = realClock,
): () => void {
  // A context created after --expose-gc has `gc`; the main context keeps its globals as they were.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  let base = getHeapStatistics().used_heap_size;
  // The real clock's timers are unref'd: the cap never holds the process open.
  const timer = clock.setInterval(() => {
    const used = getHeapStatistics().used_heap_size;
    if (used < base) base = used;
    else if (used > base + stepBytes) {
      gc();
      base = getHeapStatistics().used_heap_size;
    }
  }, checkMs);
  return () => timer.cancel();
}
