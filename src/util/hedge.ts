// Hedged attempts: start one attempt, and another each `delayMs` while none has succeeded, up to a cap;
// the first success wins and the others are aborted. Used for redials, where a dial stuck in a dead
// path (SYNs or handshake bytes lost while the network was down) must not delay recovery.
import type { Clock } from './clock.ts';

export interface HedgeOptions<T> {
  /** Delay before each extra attempt while none has succeeded, in ms. */
  readonly delayMs: number;
  /** Attempts in flight at most (including the first). */
  readonly maxAttempts: number;
  readonly clock: Clock;
  /** Releases a result that arrived after another attempt already won (e.g. closes a late link). */
  readonly dispose?: (late: T) => void;
}

export function hedge<T>(attempt: (signal: AbortSignal) => Promise<T>, opts: HedgeOptions<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const controllers: AbortController[] = [];
    let settled = false;
    let failures = 0;
    let timer: { cancel(): void } | undefined;

    const launch = () => {
      const ctl = new AbortController();
      controllers.push(ctl);
      attempt(ctl.signal).then(
        (value) => {
          if (settled) {
            opts.dispose?.(value);
            return;
          }
          settled = true;
          timer?.cancel();
          for (const c of controllers) if (c !== ctl) c.abort();
          resolve(value);
        },
        (err: unknown) => {
          failures++;
          // Every attempt launched so far failed (fast): stop here; the caller's backoff decides what next.
          if (settled || failures < controllers.length) return;
          settled = true;
          timer?.cancel();
          reject(err);
        },
      );
      if (controllers.length < opts.maxAttempts) {
        timer = opts.clock.setTimeout(() => {
          timer = undefined;
          if (!settled) launch();
        }, opts.delayMs);
      } else {
        timer = undefined;
      }
    };
    launch();
  });
}
