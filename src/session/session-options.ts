// Options and defaults shared by Session, SessionServer and SessionClient, with their range checks.
// It knows nothing of links or frames; only numbers and their units.
import { XnatError } from '../errors.ts';
import { silentLogger, type Logger } from '../observe/log.ts';
import { realClock, type Clock } from '../util/clock.ts';

/** Session protocol version carried by SESSION_OPEN. */
export const SESSION_PROTOCOL_VERSION = 1;
/** Default replay buffer cap: 8 MiB, about 1 s of a fast uplink, so a blip of seconds rarely pauses producers. */
export const DEFAULT_REPLAY_BUFFER_BYTES = 8 * 1024 * 1024;
/** Smallest replay buffer cap: 64 KiB, one maximum frame. */
export const MIN_REPLAY_BUFFER_BYTES = 64 * 1024;
/** Largest replay buffer cap: 1 GiB. */
export const MAX_REPLAY_BUFFER_BYTES = 1024 * 1024 * 1024;
/** Default delay between the first unacknowledged received frame and a standalone ACK, in ms. */
export const DEFAULT_ACK_DELAY_MS = 20;
/** An ACK goes out at once after this many unacknowledged received frames. */
export const ACK_EVERY_FRAMES = 64;
/** An ACK goes out at once after this many unacknowledged received bytes (128 KiB). */
export const ACK_EVERY_BYTES = 128 * 1024;
/** Default time a detached session is kept for a resume, in ms (120 s). */
export const DEFAULT_RESUME_WINDOW_MS = 120_000;
/** Deadline for the first session frame on a new link (SESSION_OPEN/RESUME, then ACCEPT/REJECT), in ms. */
export const SESSION_HANDSHAKE_TIMEOUT_MS = 10_000;
/** close() waits at most this long for the peer to acknowledge everything before ending, in ms. */
export const CLOSE_FLUSH_TIMEOUT_MS = 5_000;
/** The agent's redial backoff resets after a link stayed up this long, in ms. */
export const DEFAULT_STABLE_AFTER_MS = 10_000;
/** The relay remembers why this many recently ended sessions ended, to answer a late resume precisely. */
export const ENDED_SESSIONS_REMEMBERED = 4096;

/** Options of a session, on either side. */
export interface SessionOptions {
  /** Time source for ack, expiry and handshake timers; default the real clock. */
  clock?: Clock;
  /** Parent logger; the session binds `{ session: <hex id> }`. Default: silent. */
  logger?: Logger;
  /** Replay buffer cap in bytes; default 8 MiB, range 64 KiB..1 GiB. */
  replayBufferBytes?: number;
  /** Delay of a standalone ACK after the first unacknowledged frame, in ms; default 20. */
  ackDelayMs?: number;
  /**
   * How long a detached session lives waiting for a resume, in ms; default 120 000. The relay expires the
   * session after it; the agent gives up on it after the same time and opens a new one on its next link.
   */
  resumeWindowMs?: number;
}

/** SessionOptions with every default applied and checked. */
export interface ResolvedSessionOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly replayBufferBytes: number;
  readonly ackDelayMs: number;
  readonly resumeWindowMs: number;
}

function check(ok: boolean, detail: string): void {
  if (!ok) throw new XnatError('XNAT_ERR_CONFIG_INVALID', { detail });
}

/** Applies defaults; throws XNAT_ERR_CONFIG_INVALID for an out-of-range value. */
export function resolveSessionOptions(opts: SessionOptions = {}): ResolvedSessionOptions {
  const replayBufferBytes = opts.replayBufferBytes ?? DEFAULT_REPLAY_BUFFER_BYTES;
  check(
    Number.isSafeInteger(replayBufferBytes) &&
      replayBufferBytes >= MIN_REPLAY_BUFFER_BYTES &&
      replayBufferBytes <= MAX_REPLAY_BUFFER_BYTES,
    `replayBufferBytes ${replayBufferBytes} outside 64 KiB..1 GiB`,
  );
  const ackDelayMs = opts.ackDelayMs ?? DEFAULT_ACK_DELAY_MS;
  check(Number.isFinite(ackDelayMs) && ackDelayMs >= 0 && ackDelayMs <= 1000, `ackDelayMs ${ackDelayMs}`);
  const resumeWindowMs = opts.resumeWindowMs ?? DEFAULT_RESUME_WINDOW_MS;
  check(Number.isFinite(resumeWindowMs) && resumeWindowMs >= 0, `resumeWindowMs ${resumeWindowMs}`);
  return {
    clock: opts.clock ?? realClock,
    logger: opts.logger ?? silentLogger(),
    replayBufferBytes,
    ackDelayMs,
    resumeWindowMs,
  };
}
