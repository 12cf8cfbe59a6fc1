// Hedged attempts: start one attempt, and a fresh one after each delay the caller's schedule gives while
// none has succeeded; the first success wins and the others are aborted. Used for redials, where a dial
// stuck in a dead path (SYNs or handshake bytes lost while the network was down) must not delay recovery:
// the attempt that succeeds is the first one started after the path came back. Knows nothing of links.
import type { Clock, TimerHandle } from './clock.ts';

export interface HedgeOptions<T> {
  /**
   * Delay before the next attempt, asked after each start (`started` counts them); undefined: no more.
   * A number instead: that delay, up to `maxAttempts` starts.
   */
  readonly delayMs: number | ((started: number) => number | undefined);
  /** With a numeric delayMs: attempts started at most (including the first). */
  readonly maxAttempts?: number;
  /** Attempts in flight at most: starting one more abandons the oldest. Default unbounded. */
  readonly maxInFlight?: number;
  /**
   * An attempt not done after this long is abandoned (aborted, counted as failed with `abandonReason`),
   * so a handshake stuck on a dead path never outlives the fresher dials behind it. Default never.
   */
  readonly attemptTimeoutMs?: number;
  /** The failure an abandoned attempt counts as (e.g. a typed timeout); default the abort's reason. */
  readonly abandonReason?: (ageMs: number) => unknown;
  /** Aborts everything: in-flight attempts are aborted and the hedge rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  readonly clock: Clock;
  /** Releases a result that arrived after another attempt already won (e.g. closes a late link). */
  readonly dispose?: (late: T) => void;
}

interface Attempt {
  readonly ctl: AbortController;
  readonly startedAt: number;
  timer: TimerHandle | undefined;
  done: boolean;
}

/**
 * Resolves with the first attempt that succeeds. Rejects with the last failure when a failure (or an
 * abandonment) leaves no attempt in flight: every attempt so far failed, and the caller's backoff decides
 * what comes next (a refused connection fails fast; hammering it would help nobody).
 */
export function hedge<T>(attempt: (signal: AbortSignal) => Promise<T>, opts: HedgeOptions<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const live = new Set<Attempt>();
    let started = 0;
    let settled = false;
    let next: TimerHandle | undefined;
    const schedule =
      typeof opts.delayMs === 'number'
        ? ((ms: number, max: number) => (n: number) => (n < max ? ms : undefined))(
            opts.delayMs,
            opts.maxAttempts ?? 1,
          )
        : opts.delayMs;

    const finish = (): void => {
      settled = true;
      next?.cancel();
      opts.signal?.removeEventListener('abort', onAbort);
      for (const a of live) end(a, 'lost the race');
    };
    const end = (a: Attempt, reason: unknown): void => {
      if (a.done) return;
      a.done = true;
      a.timer?.cancel();
      live.delete(a);
      a.ctl.abort(reason);
    };
    const failed = (err: unknown): void => {
      if (settled || live.size > 0) return;
      finish();
      reject(err);
    };
    const onAbort = (): void => {
      if (settled) return;
      finish();
      reject(opts.signal!.reason);
    };

    const launch = (): void => {
      next = undefined;
      if (settled) return;
      if (opts.maxInFlight !== undefined && live.size >= opts.maxInFlight) {
        const oldest = live.values().next().value!;
        end(oldest, opts.abandonReason?.(opts.clock.now() - oldest.startedAt) ?? 'abandoned');
      }
      const a: Attempt = {
        ctl: new AbortController(),
        startedAt: opts.clock.now(),
        timer: undefined,
        done: false,
      };
      live.add(a);
      started++;
      if (opts.attemptTimeoutMs !== undefined) {
        a.timer = opts.clock.setTimeout(() => {
          const reason = opts.abandonReason?.(opts.clock.now() - a.startedAt) ?? 'abandoned';
          end(a, reason);
          failed(reason);
        }, opts.attemptTimeoutMs);
      }
      attempt(a.ctl.signal).then(
        (value) => {
          if (settled || a.done) {
            opts.dispose?.(value);
            return;
          }
          a.done = true;
          a.timer?.cancel();
          live.delete(a);
          finish();
          resolve(value);
        },
        (err: unknown) => {
          if (a.done) return;
          a.done = true;
          a.timer?.cancel();
          live.delete(a);
          failed(err);
        },
      );
      const delay = settled ? undefined : schedule(started);
      if (delay !== undefined) next = opts.clock.setTimeout(launch, delay);
    };

    if (opts.signal?.aborted) return reject(opts.signal.reason);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    launch();
  });
}
