// The V8 flags a relay or agent holds while starting: while held, a hot function is not optimised and
// surviving allocation does not grow the young generation; once released, both happen as by default.
import test from 'ava';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import {
  holdStartupFlags,
  releaseStartupFlags,
  releaseTurbofan,
  startupFlagsHeld,
  turbofanHeld,
} from '../../src/cli/startup-flags.ts';

const MIB = 1024 * 1024;
/** %GetOptimizationStatus bit: the function has optimised code (V8 11.3, runtime-test.cc). */
const OPTIMIZED = 16;

setFlagsFromString('--allow-natives-syntax');
const optimizationStatus = new Function('f', 'return %GetOptimizationStatus(f)') as (f: unknown) => number;

function newSpaceSize(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size;
}

/** Survives several scavenges (kept until the end), the pattern that makes V8 double the young generation. */
function allocateSurvivors(): unknown[] {
  const kept: unknown[] = [];
  for (let i = 0; i < 400_000; i++) kept.push({ i, s: `x${i}` });
  return kept;
}

/** A fresh hot function each time (so one test's tiering never carries over to the other). */
function makeHot(): (n: number) => number {
  return new Function('n', 'let s = 0; for (let i = 0; i < n; i++) s = (s + i * 7) % 1000003; return s;') as (
    n: number,
  ) => number;
}

/** Calls `f` until it is optimised or `rounds` calls are done, yielding so a concurrent compile installs. */
async function runHot(f: (n: number) => number, rounds: number): Promise<boolean> {
  for (let r = 0; r < rounds; r++) {
    f(10_000);
    if ((optimizationStatus(f) & OPTIMIZED) !== 0) return true;
    if (r % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  return false;
}

test.serial('held: no optimising compile and no young-generation growth; released: both again', async (t) => {
  releaseStartupFlags(); // a no-op without a hold
  holdStartupFlags('');
  const before = newSpaceSize();
  let kept = allocateSurvivors();
  t.true(newSpaceSize() <= Math.max(before, 2 * MIB), `held: new space ${newSpaceSize()} bytes`);
  t.false(await runHot(makeHot(), 2_000), 'held: a hot function was optimised');
  releaseStartupFlags(() => false);
  kept = kept.concat(allocateSurvivors(), allocateSurvivors());
  t.true(newSpaceSize() > 2 * MIB, `released: new space ${newSpaceSize()} bytes`);
  t.true(turbofanHeld(), 'TurboFan waits for the process to be busy');
  t.false(await runHot(makeHot(), 2_000), 'not busy yet: a hot function was optimised');
  releaseTurbofan();
  t.false(turbofanHeld());
  t.true(await runHot(makeHot(), 20_000), 'released: a hot function was not optimised');
  t.true(kept.length > 0);
});

test.serial(
  'TurboFan comes back at the first check that finds the process busy, and only then',
  async (t) => {
    holdStartupFlags('');
    const seen: number[] = [];
    let busyNow = false;
    releaseStartupFlags((cpuMs) => {
      seen.push(cpuMs);
      return busyNow;
    }, 20);
    const firstChecks = Date.now() + 5_000;
    while (seen.length < 2 && Date.now() < firstChecks)
      await new Promise((resolve) => setTimeout(resolve, 10));
    t.true(seen.length >= 2, `checks made: ${seen.length}`);
    t.true(turbofanHeld(), 'not busy: still held');
    busyNow = true;
    const deadline = Date.now() + 5_000;
    while (turbofanHeld() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    t.false(turbofanHeld(), 'busy: given back');
    const checks = seen.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    t.is(seen.length, checks, 'no check runs once it is given back');
  },
);

test.serial('the default test counts the CPU used since the last check', async (t) => {
  holdStartupFlags('');
  releaseStartupFlags();
  // Idle over a whole check interval (1 s): under BUSY_CPU_MS, so still held.
  await new Promise((resolve) => setTimeout(resolve, 1_200));
  t.true(turbofanHeld(), 'idle for a check interval: still held');
  // Busy (in slices, so the check can run) until it is given back: BUSY_CPU_MS (100 ms) in one second
  // needs only a tenth of a core, which even a loaded machine gives this worker.
  const deadline = Date.now() + 15_000;
  while (turbofanHeld() && Date.now() < deadline) {
    const slice = Date.now() + 50;
    while (Date.now() < slice) makeHot()(10_000);
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.false(turbofanHeld());
});

test.serial('node started with one of those flags by the operator: no hold, so nothing to undo', (t) => {
  for (const given of ['--max-semi-space-size=4', '--no-turbofan', '--turbofan', '--max-opt=2', '--no-opt']) {
    holdStartupFlags(`--import=tsx ${given}`);
    t.false(startupFlagsHeld(), given);
    releaseStartupFlags();
  }
  holdStartupFlags('--import=tsx --max-old-space-size=64');
  t.true(startupFlagsHeld());
  releaseStartupFlags(() => false);
  t.false(startupFlagsHeld());
  releaseTurbofan();
});
