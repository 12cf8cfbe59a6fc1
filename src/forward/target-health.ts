// The health of one mapping's LAN target as the agent sees it: a target that refuses (or cannot be reached)
// is unhealthy for a back-off period that doubles while it keeps failing. It knows no sockets or relays;
// the caller reports each change (mapping.health) so the relay sends visitors to other agents meanwhile.
import { Backoff } from '../util/backoff.ts';
import type { Clock } from '../util/clock.ts';

/** First back-off of an unhealthy target, in ms: long enough for a burst of visitors to go elsewhere. */
export const HEALTH_BACKOFF_INITIAL_MS = 2_000;
/** Longest back-off, in ms: a restarted service is noticed within this (the next visitor after it probes). */
export const HEALTH_BACKOFF_MAX_MS = 30_000;

export class TargetHealth {
  private readonly backoff = new Backoff({
    initialMs: HEALTH_BACKOFF_INITIAL_MS,
    maxMs: HEALTH_BACKOFF_MAX_MS,
    jitter: 0,
  });
  private until = 0;
  private failing = false;

  constructor(private readonly clock: Clock) {}

  /** Whether the target is inside a back-off period now. */
  get healthy(): boolean {
    return !this.failing || this.clock.now() >= this.until;
  }

  /** Ms left of the back-off (0 when healthy). */
  get retryAfterMs(): number {
    return this.failing ? Math.max(0, Math.round(this.until - this.clock.now())) : 0;
  }

  /**
   * A dial failed. Returns the back-off to report, or undefined when one is already running (visitors the
   * relay sent before it heard of the first failure must not stretch it).
   */
  failed(): number | undefined {
    if (this.failing && this.clock.now() < this.until) return undefined;
    this.failing = true;
    const ms = this.backoff.next();
    this.until = this.clock.now() + ms;
    return ms;
  }

  /** A dial succeeded. Returns true when the target was failing (report it healthy again). */
  succeeded(): boolean {
    if (!this.failing) return false;
    this.failing = false;
    this.until = 0;
    this.backoff.reset();
    return true;
  }
}
