// V8 flags held while a relay or agent starts (its modules load, its profile is parsed) and given back
// their defaults once the role runs: what start-up leaves resident shrinks, the data path is untouched.
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
/** V8's defaults (Node 20, V8 11.3): hot data-path functions are optimised and the young generation grows. */
const RELEASE = '--turbofan --semi-space-growth-factor=2';

let held = false;

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
}

/** Whether the flags are held now (for status and tests). */
export function startupFlagsHeld(): boolean {
  return held;
}

/**
 * Called once the role runs: from here V8 optimises and sizes the heap as it would without the hold. A
 * no-op without a hold (the demo, an embedder), so flags given on node's command line stay as given.
 */
export function releaseStartupFlags(): void {
  if (!held) return;
  setFlagsFromString(RELEASE);
  held = false;
}
