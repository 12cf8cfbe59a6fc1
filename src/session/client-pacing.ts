// How long the agent waits between redials: the backoff (capped in the fast phase of a resumable outage),
// the long wait after another agent with our key replaced us, the slow pace after auth refusals, and the
// reset after a stable link. Numbers in, delays out; session-client.ts decides when to ask.
import { Backoff } from '../util/backoff.ts';
import {
  DEFAULT_CLIENT_BACKOFF,
  DEFAULT_REPLACED_DELAY_MS,
  REPLACED_DELAY_MAX_FACTOR,
  type SessionClientOptions,
} from './client-options.ts';
import {
  AUTH_RETRY_MAX_FACTOR,
  DEFAULT_AUTH_RETRY_DELAY_MS,
  fastDelay,
  FAST_REDIAL_MAX_MS,
} from './redial.ts';
import { DEFAULT_STABLE_AFTER_MS } from './session-options.ts';

/** A slow doubling pace from `initialMs` up to `maxFactor` times it (the replaced and the refused waits). */
function slowBackoff(initialMs: number, maxFactor: number): Backoff {
  return new Backoff({ initialMs, maxMs: initialMs * maxFactor, factor: 2, jitter: 0.2 });
}

export class RedialPacing {
  private readonly backoff: Backoff;
  private readonly stableAfterMs: number;
  private readonly replaced: Backoff;
  /** The slow pace after auth refusals (isAuthRefusal). */
  private readonly refused: Backoff;
  /** When the session's current link was attached (clock ms), for the stable-link reset. */
  private attachedAt: number | undefined;

  constructor(
    options: SessionClientOptions,
    private readonly random: () => number,
  ) {
    this.backoff = new Backoff({ ...DEFAULT_CLIENT_BACKOFF, ...options.backoff });
    this.stableAfterMs = options.stableAfterMs ?? DEFAULT_STABLE_AFTER_MS;
    this.replaced = slowBackoff(
      options.replacedDelayMs ?? DEFAULT_REPLACED_DELAY_MS,
      REPLACED_DELAY_MAX_FACTOR,
    );
    this.refused = slowBackoff(
      options.authRetryDelayMs ?? DEFAULT_AUTH_RETRY_DELAY_MS,
      AUTH_RETRY_MAX_FACTOR,
    );
  }

  /** Redial attempts since the backoff last reset. */
  get attempts(): number {
    return this.backoff.attempts;
  }

  /** Replacements since the last stable link. */
  get replacements(): number {
    return this.replaced.attempts;
  }

  /** The backoff's next delay; in the fast phase of a resumable outage at most FAST_REDIAL_MAX_MS (jittered). */
  next(fast: boolean): number {
    const delay = this.backoff.next();
    if (!fast || delay < FAST_REDIAL_MAX_MS) return delay;
    return fastDelay(this.random);
  }

  /** The wait after our session was replaced by another agent with our key. */
  nextReplaced(): number {
    return this.replaced.next();
  }

  /** The wait after an auth refusal. */
  nextRefused(): number {
    return this.refused.next();
  }

  /** A session has a link again at `now`: the auth pace resets; the stable-link clock starts. */
  attached(now: number): void {
    this.attachedAt = now;
    this.refused.reset();
  }

  /** The link went at `now`: after a stable one the backoff and the replacement wait start over. */
  lost(now: number): void {
    if (this.attachedAt !== undefined && now - this.attachedAt >= this.stableAfterMs) {
      this.backoff.reset();
      this.replaced.reset();
    }
    this.attachedAt = undefined;
  }
}
