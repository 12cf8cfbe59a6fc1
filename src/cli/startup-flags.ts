// V8 flags held while a relay or agent starts (its modules load, its profile is parsed) and given back
// their defaults once the role runs, TurboFan once the process is first busy: what start-up and idling
// leave resident shrinks, and the data path is optimised as before once it carries load.
import { setFlagsFromString } from 'node:v8';

/**
 * While starting (issue 10: an idle relay or agent under 50 MB RSS):
 * - no TurboFan. Start-up runs a few loops hot enough to be optimised (@noble/ciphers building its AES
 *   tables at import, the ES module resolver walking paths); compiling them touches about 3 MiB of the
 *   compiler's code in the node binary and leaves its malloc'd zones resident: 4-5 MiB of RSS at rest
 *   for code that never runs again. Start-up is about 1 ms slower in the interpreter and Sparkplug.
 * - no young-generation growth. Loading 1.2 MB of modules makes V8 double it to 8 MiB (5.5 MiB touched),
 *   resident until V8's memory reducer shrinks it 8-13 s after start; a factor of 1 keeps it at 1 MiB.
 */
const HOLD = '--no-turbofan --semi-space-growth-factor=1';
/** V8's default (Node 20, V8 11.3), given back once the role runs: the young generation grows with load. */
const RELEASE_GROWTH = '--semi-space-growth-factor=2';
/** V8's default, given back once the process is busy: hot data-path functions are optimised. */
const RELEASE_TURBOFAN = '--turbofan';
/**
 * After the role runs, TurboFan waits for the first check interval in which the process used this much CPU
 * (10 % of a core). An idle relay or agent (a keepalive a second: under 2 ms of CPU a second) never gets
 * there, nor does the burst of its first session (about 40 ms), so nothing it does is optimised: left free,
 * TurboFan compiled node's shared argument-check wrapper (hideStackFrames) about 20 s after start, which
 * paged 3.6 MiB of compiler code into an idle process for a function that saves it nothing. Real load (a
 * download, a game's datagrams, a burst of connections) gets there within an interval; a trickle that does
 * not (one ssh session typing) costs too little CPU for TurboFan to repay its compiles. Until then the data
 * path runs in Sparkplug, V8's baseline compiler.
 */
const BUSY_CPU_MS = 100;
/** How often the CPU used is checked while TurboFan waits, in milliseconds. */
const BUSY_CHECK_MS = 1_000;

let held = false;
let turbofanWaits = false;
let busyCheck: NodeJS.Timeout | undefined;

/** Node options naming the flags we would hold: the operator's own choice, left as given. */
const OPERATOR_FLAGS = /--(no-)?(turbofan|opt)\b|--max-opt|semi-space/;

/**
 * Called first by main for `relay` and `agent`, before any command module is imported. Skipped when node
 * was started with one of these flags itself (command line or NODE_OPTIONS): the release would undo it.
 */
export function holdStartupFlags(
  nodeOptions: string = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`,
): void {
  if (OPERATOR_FLAGS.test(nodeOptions)) return;
  setFlagsFromString(HOLD);
  held = true;
  turbofanWaits = true;
}

/** Whether the start-up flags are held now (for tests). */
export function startupFlagsHeld(): boolean {
  return held;
}

/** Whether TurboFan is still held: until the process is first busy after start-up (for tests). */
export function turbofanHeld(): boolean {
  return turbofanWaits;
}

/**
 * Called once the role runs: from here the young generation grows as it would without the hold, and
 * TurboFan comes back at the first check interval in which the process used BUSY_CPU_MS of CPU (`busy`
 * overrides that test). A no-op without a hold (the demo, an embedder), so flags given on node's command
 * line stay as given.
 */
export function releaseStartupFlags(
  busy: (cpuMs: number) => boolean = (cpuMs) => cpuMs >= BUSY_CPU_MS,
  checkMs: number = BUSY_CHECK_MS,
): void {
  if (!held) return;
  setFlagsFromString(RELEASE_GROWTH);
  held = false;
  // One check at a time: a hold and release again (tests, an embedder) replaces the earlier check.
  clearInterval(busyCheck);
  let last = process.cpuUsage();
  busyCheck = setInterval(() => {
    const now = process.cpuUsage(last);
    last = process.cpuUsage();
    if (busy((now.user + now.system) / 1000)) releaseTurbofan();
  }, checkMs);
  // The check never keeps the process alive.
  busyCheck.unref();
}

/** Gives TurboFan back now (the process is busy, or a test says so); a no-op once given. */
export function releaseTurbofan(): void {
  clearInterval(busyCheck);
  busyCheck = undefined;
  if (!turbofanWaits) return;
  setFlagsFromString(RELEASE_TURBOFAN);
  turbofanWaits = false;
}
