// V8 flags that keep the dashboard's heap small, set at run time by `xnat dashboard` before ink loads.
// Only that command sets them: `xnat demo` draws the same screen but also carries a relay's data path.
import { setFlagsFromString } from 'node:v8';

/**
 * `--optimize-for-size` is read by V8 as it runs (not only at start-up): its heap then grows the old
 * generation in smaller steps and collects sooner, and compiles less. `--semi-space-growth-factor=1` is
 * what runDashboard sets too, here before the modules load, so their start-up does not double the young
 * generation either. Figures: docs/dashboard.md, "Memory".
 */
export const SMALL_HEAP_FLAGS: readonly string[] = ['--optimize-for-size', '--semi-space-growth-factor=1'];

/** Sets SMALL_HEAP_FLAGS for the rest of the process; call it before importing ink. */
export function favourSmallHeap(): void {
  for (const flag of SMALL_HEAP_FLAGS) setFlagsFromString(flag);
}
