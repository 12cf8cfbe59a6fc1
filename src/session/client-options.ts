// The agent side's options, event payloads and default pacing (SessionClient, session-client.ts).
// Types and numbers only; the loop that applies them is session-client.ts.
import type { XnatError } from '../errors.ts';
import type { BackoffOptions } from '../util/backoff.ts';
import type { SessionLink } from './session-link.ts';
import type { SessionOptions } from './session-options.ts';

/** Agent-side options. */
export interface SessionClientOptions extends SessionOptions {
  /**
   * Makes one established, authenticated link to the relay; rejects with a typed error. Several may run
   * at once (hedged, redial.ts); an aborted `signal` means this one lost or was abandoned: give it up.
   */
  dial: (signal: AbortSignal) => Promise<SessionLink>;
  /** Redial backoff; default first delay 200 ms (so the first retry comes within 250 ms), cap 10 s. */
  backoff?: BackoffOptions;
  /** The backoff resets after a link stayed attached this long, in ms; default 10 000. */
  stableAfterMs?: number;
  /**
   * While a detached session waits to resume (or its link is suspect), redials during the first this-many
   * ms of the outage are at most FAST_REDIAL_MAX_MS apart, so bytes flow again within a fraction of a second
   * after the network returns; later ones come every DIAL_HEDGE_MS. Default 30 000; 0 disables.
   */
  fastRedialWindowMs?: number;
  /** Random source in [0, 1) for the fast-phase jitter; default Math.random. */
  random?: () => number;
  /** Deadline for SESSION_ACCEPT/REJECT after sending OPEN/RESUME, in ms; default 10 000. */
  handshakeTimeoutMs?: number;
  /** This agent's static public key, shown as Session.agentKey; default empty. */
  agentKey?: Buffer;
  /**
   * Wait before opening a new session after another process with our key replaced ours, in ms: doubles
   * per replacement up to 10 x, and resets after a stable link. Default 30 000. Two agents sharing one
   * key would otherwise take the session from each other (and reset each other's visitors) forever.
   */
  replacedDelayMs?: number;
  /**
   * Wait before redialing after a refusal a retry cannot fix (isAuthRefusal: unknown key, wrong relay
   * key, psk mismatch), in ms: doubles per refusal up to AUTH_RETRY_MAX_FACTOR x and resets with the
   * next session. Default DEFAULT_AUTH_RETRY_DELAY_MS (1 min). Retryable failures keep the fast redials.
   */
  authRetryDelayMs?: number;
}

/** What 'link-error' says beside the error: when the next dial comes. */
export interface LinkErrorInfo {
  /** Wait before the next dial, in ms; undefined when a dial is already under way or the loop stopped. */
  readonly retryInMs: number | undefined;
  /** The failure was an auth refusal: the loop is at its slow pace. */
  readonly slow: boolean;
}

/** What 'restored' reports when a session has a link again after an outage. */
export interface OutageSummary {
  /** From the link's loss (or its suspect silence, when that came first) to the new link's attach, in ms (clock). */
  readonly outageMs: number;
  /** Dials started meanwhile (probe dials of a suspect link included). */
  readonly attempts: number;
  /** True when the old session resumed; false when a new one replaced it. */
  readonly resumed: boolean;
  /** The last dial or handshake failure of the outage, if any. */
  readonly lastError: XnatError | undefined;
}

/** Default wait after our session was replaced by another process with the same key, in ms. */
export const DEFAULT_REPLACED_DELAY_MS = 30_000;
/** The wait after replacements doubles up to this many times the first. */
export const REPLACED_DELAY_MAX_FACTOR = 10;

/** Default redial backoff of the agent. */
export const DEFAULT_CLIENT_BACKOFF: BackoffOptions = {
  initialMs: 200,
  maxMs: 10_000,
  factor: 2,
  jitter: 0.5,
};
