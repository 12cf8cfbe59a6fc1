// The agent's dial timing: how often hedged dials start, how long one may take before a fresher one
// replaces it, and the session handshake deadline, in and out of a resumable outage. Numbers only; the
// loop that uses them is session-client.ts. Docs: docs/operations.md "Detection and redial timings".

/**
 * Longest redial delay in the fast phase of a resumable outage, in ms (jittered down to half): the wait
 * from the path's return to the next dial is at most this, leaving room for the dial, the handshakes and
 * the replay within half a second (the bound is 400 ms spacing; 300 gives the handshake margin).
 */
export const FAST_REDIAL_MAX_MS = 300;
/** Default length of that fast phase, in ms: 30 s, so a 30 s outage still resumes within half a second. */
export const DEFAULT_FAST_REDIAL_WINDOW_MS = 30_000;
/** Outside the fast phase, a dial not done after this long gets a sibling; loopback and LANs answer in ms. */
export const DIAL_HEDGE_MS = 1_000;
/** Outside the fast phase, dials started per redial at most. */
export const DIAL_HEDGE_MAX = 3;
/**
 * During a resumable outage a dial (TCP and link handshake), and then the session handshake, is given up
 * after max(DIAL_ATTEMPT_MIN_MS, DIAL_ATTEMPT_RTT_FACTOR x the last smoothed RTT): a loaded 4G link
 * (RTT up to about 1 s when its queues are full) still completes its 2 round trips, while a dial whose
 * bytes were lost in the outage never holds up the ones started after the path came back.
 */
export const DIAL_ATTEMPT_MIN_MS = 3_000;
export const DIAL_ATTEMPT_RTT_FACTOR = 4;
/** Dials in flight at most; one more abandons the oldest (the relay evicts its oldest half-open ones too). */
export const DIAL_MAX_IN_FLIGHT = 16;

/** Where the redial loop stands when it starts a dial. */
export interface RedialState {
  /** A detached session waits to resume and the outage is younger than the fast window. */
  readonly fast: boolean;
  /** A detached session waits to resume (fast phase or not). */
  readonly resumable: boolean;
  /** Smoothed RTT of the session's last link, in ms, if one was measured. */
  readonly lastRttMs: number | undefined;
}

/** A fast-phase delay: FAST_REDIAL_MAX_MS jittered down to half, from `random` in [0, 1). */
export function fastDelay(random: () => number): number {
  return Math.round(FAST_REDIAL_MAX_MS * (0.5 + 0.5 * random()));
}

/** How long one dial, or the session handshake after it, may take during a resumable outage. */
export function attemptDeadlineMs(lastRttMs: number | undefined): number {
  return Math.max(DIAL_ATTEMPT_MIN_MS, DIAL_ATTEMPT_RTT_FACTOR * (lastRttMs ?? 0));
}

/**
 * The hedge's schedule, from the state now and `current()` (asked before each further dial): in the fast
 * phase a fresh dial every fast delay; later in a resumable outage one every DIAL_HEDGE_MS for as long as
 * the session waits (so even a long outage resumes within about a second of the path's return); each of
 * those given up after attemptDeadlineMs. Without a session to resume: up to DIAL_HEDGE_MAX dials
 * DIAL_HEDGE_MS apart, bounded by the link's own handshake deadline, then the backoff.
 */
export function dialSchedule(
  state: RedialState,
  random: () => number,
  current: () => RedialState,
): {
  delayMs: (started: number) => number | undefined;
  attemptTimeoutMs: number | undefined;
} {
  if (!state.resumable)
    return { delayMs: (n) => (n < DIAL_HEDGE_MAX ? DIAL_HEDGE_MS : undefined), attemptTimeoutMs: undefined };
  return {
    delayMs: () => {
      const now = current();
      if (now.fast) return fastDelay(random);
      return now.resumable ? DIAL_HEDGE_MS : undefined;
    },
    attemptTimeoutMs: attemptDeadlineMs(state.lastRttMs),
  };
}

/**
 * Default wait before redialing after a refusal a retry cannot fix (an XNAT_ERR_AUTH_ code with
 * `retryable: false`: unknown agent key, wrong relay key, psk mismatch), in ms: 1 min, doubling up to
 * AUTH_RETRY_MAX_FACTOR x. Minutes, not the 10 s redial cap: a relay that refuses us logs each try, and
 * only an operator's change (a relay reload, a fixed profile) helps. Docs: docs/operations.md "Retry pacing".
 */
export const DEFAULT_AUTH_RETRY_DELAY_MS = 60_000;
/** The auth-refusal wait doubles up to this many times the first (5 min with the default). */
export const AUTH_RETRY_MAX_FACTOR = 5;

/** True for a refusal the slow auth pace applies to: an AUTH-area error marked not retryable. */
export function isAuthRefusal(err: { code: string; retryable: boolean }): boolean {
  return !err.retryable && err.code.startsWith('XNAT_ERR_AUTH_');
}
