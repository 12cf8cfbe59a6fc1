// V8 flags that keep the dashboard small, set at run time by `xnat dashboard` before ink loads.
// Only that command sets them: `xnat demo` draws the same screen but also carries a relay's data path.
import { setFlagsFromString } from 'node:v8';

/**
 * All three are read by V8 as it runs, not only at start-up (figures: docs/dashboard.md, "Memory"):
 * - `--max-opt=1`: functions go no further than the baseline compiler (Sparkplug), never to TurboFan. A
 *   dashboard runs a few milliseconds a second, too little for TurboFan to repay its compiles and their
 *   memory: 4-5 MiB less at its peak and less CPU per frame, not more.
 * - `--optimize-for-size`: the heap grows its old generation in smaller steps and collects sooner.
 * - `--semi-space-growth-factor=1`: as runDashboard sets, but before the modules load, so that start-up does
 *   not double the young generation either.
 */
export const SMALL_FOOTPRINT_FLAGS: readonly string[] = [
  '--max-opt=1',
  '--optimize-for-size',
  '--semi-space-growth-factor=1',
];

/** Sets SMALL_FOOTPRINT_FLAGS for the rest of the process; call it before importing ink. */
export function favourSmallFootprint(): void {
  for (const flag of SMALL_FOOTPRINT_FLAGS) setFlagsFromString(flag);
}
