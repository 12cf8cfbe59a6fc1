// The agent side: the redial loop that dials links, opens or resumes the session on each, and backs off.
// It knows nothing of how a link is made (the injected dial() does that: TCP, Noise) nor of streams.
import { EventEmitter } from 'node:events';
import { isErrorCode, toXnatError, XnatError } from '../errors.ts';
import type { Logger } from '../observe/log.ts';
import { Backoff, type BackoffOptions } from '../util/backoff.ts';
import type { TimerHandle } from '../util/clock.ts';
import { hedge } from '../util/hedge.ts';
import { FrameType, type Frame } from '../wire/frame.ts';
import { computeResumeProof } from './resume-proof.ts';
import { Session } from './session.ts';
import { LinkPort, type SessionLink } from './session-link.ts';
import {
  attemptDeadlineMs,
  AUTH_RETRY_MAX_FACTOR,
  DEFAULT_AUTH_RETRY_DELAY_MS,
  DEFAULT_FAST_REDIAL_WINDOW_MS,
  isAuthRefusal,
  DIAL_MAX_IN_FLIGHT,
  dialSchedule,
  fastDelay,
  FAST_REDIAL_MAX_MS,
} from './redial.ts';
import {
  DEFAULT_STABLE_AFTER_MS,
  resolveSessionOptions,
  SESSION_HANDSHAKE_TIMEOUT_MS,
  SESSION_PROTOCOL_VERSION,
  type ResolvedSessionOptions,
  type SessionOptions,
} from './session-options.ts';

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
   * While a detached session waits to resume, redials during the first this-many ms of the outage are
   * at most FAST_REDIAL_MAX_MS apart, so bytes flow again within a fraction of a second after the network
   * returns; later ones back off exponentially. Default 30 000; 0 disables.
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

/** Default wait after our session was replaced by another process with the same key, in ms. */
export const DEFAULT_REPLACED_DELAY_MS = 30_000;
/** The wait after replacements doubles up to this many times the first. */
const REPLACED_DELAY_MAX_FACTOR = 10;

export { DEFAULT_FAST_REDIAL_WINDOW_MS, FAST_REDIAL_MAX_MS } from './redial.ts';

/** What 'restored' reports when a session has a link again after an outage. */
export interface OutageSummary {
  /** From the link's loss (detection) to the new link's attach, in ms (clock). */
  readonly outageMs: number;
  /** Dials started meanwhile. */
  readonly attempts: number;
  /** True when the old session resumed; false when a new one replaced it. */
  readonly resumed: boolean;
  /** The last dial or handshake failure of the outage, if any. */
  readonly lastError: XnatError | undefined;
}

/** Default redial backoff of the agent. */
export const DEFAULT_CLIENT_BACKOFF: BackoffOptions = {
  initialMs: 200,
  maxMs: 10_000,
  factor: 2,
  jitter: 0.5,
};

/**
 * Agent side. Events: 'session' (session) – a new session (the first, or after the relay refused to
 * resume the old one, which is then closed with the relay's code); 'link-error' (err: XnatError) – a dial,
 * handshake or link failure (auth failures included); 'restored' (OutageSummary) – once per outage, when a
 * session has a link again; the loop retries with backoff until close().
 */
export class SessionClient extends EventEmitter {
  private readonly options: SessionClientOptions;
  private readonly opts: ResolvedSessionOptions;
  private readonly logger: Logger;
  private readonly backoff: Backoff;
  private readonly stableAfterMs: number;
  private readonly fastRedialWindowMs: number;
  private readonly random: () => number;
  private readonly handshakeTimeoutMs: number;
  private readonly replaced: Backoff;
  /** The slow pace after auth refusals (isAuthRefusal). */
  private readonly refused: Backoff;
  /** No dial before this clock time (relay.shutdown's reconnectAfterMs); 0 = no hold. */
  private notBefore = 0;
  private current: Session | undefined;
  private started = false;
  private isClosed = false;
  private dialing = false;
  private redialTimer: TimerHandle | undefined;
  /** The link in its session handshake, if any (once attached, the session owns it). */
  private handshaking: LinkPort | undefined;
  /** When the session's current link was attached (clock ms), for the stable-link backoff reset. */
  private attachedAt: number | undefined;
  /** When the current session lost its link (clock ms); undefined while attached or without a session. */
  private detachedAt: number | undefined;
  /** When the outage began (a session lost its link), until a session has a link again. */
  private outageSince: number | undefined;
  private outageAttempts = 0;
  private outageError: XnatError | undefined;
  /** The link last attached, for its smoothed RTT once it is gone. */
  private attachedLink: SessionLink | undefined;
  private lastRttMs: number | undefined;
  /** The delay of the redial timer last set, in ms (for 'link-error'). */
  private redialDelayMs = 0;
  /** Aborts the hedged dials under way (close()). */
  private dialAbort: AbortController | undefined;

  constructor(options: SessionClientOptions) {
    super();
    this.options = options;
    this.opts = resolveSessionOptions(options);
    this.logger = this.opts.logger;
    this.backoff = new Backoff({ ...DEFAULT_CLIENT_BACKOFF, ...options.backoff });
    this.stableAfterMs = options.stableAfterMs ?? DEFAULT_STABLE_AFTER_MS;
    this.fastRedialWindowMs = options.fastRedialWindowMs ?? DEFAULT_FAST_REDIAL_WINDOW_MS;
    this.random = options.random ?? Math.random;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? SESSION_HANDSHAKE_TIMEOUT_MS;
    const replacedMs = options.replacedDelayMs ?? DEFAULT_REPLACED_DELAY_MS;
    this.replaced = new Backoff({
      initialMs: replacedMs,
      maxMs: replacedMs * REPLACED_DELAY_MAX_FACTOR,
      factor: 2,
      jitter: 0.2,
    });
    const authMs = options.authRetryDelayMs ?? DEFAULT_AUTH_RETRY_DELAY_MS;
    this.refused = new Backoff({
      initialMs: authMs,
      maxMs: authMs * AUTH_RETRY_MAX_FACTOR,
      factor: 2,
      jitter: 0.2,
    });
  }

  /** The live session, if one was established and has not closed. */
  get session(): Session | undefined {
    return this.current;
  }

  /** A session lost its link and none has one again yet ('restored' ends it). */
  get inOutage(): boolean {
    return this.outageSince !== undefined;
  }

  /** Redial attempts since the backoff last reset (for status). */
  get attempts(): number {
    return this.backoff.attempts;
  }

  /**
   * Holds every dial for `ms` from now (the relay's `relay.shutdown` asks for it with reconnectAfterMs):
   * a redial due earlier waits until then. A shorter hold than one in force changes nothing.
   */
  holdOff(ms: number): void {
    this.notBefore = Math.max(this.notBefore, this.opts.clock.now() + Math.max(0, ms));
  }

  start(): void {
    if (this.started || this.isClosed) return;
    this.started = true;
    void this.connect();
  }

  /** Stops redialing and closes the session gracefully. Idempotent. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.redialTimer?.cancel();
    this.redialTimer = undefined;
    this.dialAbort?.abort(new XnatError('XNAT_ERR_SESSION_CLOSED'));
    this.handshaking?.destroy(new XnatError('XNAT_ERR_SESSION_CLOSED'));
    this.handshaking = undefined;
    this.current?.close();
  }

  private async connect(): Promise<void> {
    this.redialTimer = undefined;
    if (this.isClosed) return;
    this.dialing = true;
    const state = () => ({
      fast: this.inFastPhase(),
      resumable: this.resumable(),
      lastRttMs: this.lastRttMs,
    });
    const schedule = dialSchedule(state(), this.random, state);
    const abort = new AbortController();
    this.dialAbort = abort;
    let link: SessionLink;
    try {
      link = await hedge(
        (signal) => {
          if (this.outageSince !== undefined) this.outageAttempts++;
          return this.options.dial(signal);
        },
        {
          ...schedule,
          maxInFlight: DIAL_MAX_IN_FLIGHT,
          abandonReason: (ageMs) =>
            new XnatError('XNAT_ERR_LINK_HANDSHAKE_TIMEOUT', {
              detail: `dial abandoned after ${ageMs} ms for a fresher one`,
            }),
          signal: abort.signal,
          clock: this.opts.clock,
          dispose: (late) =>
            late.destroy(new XnatError('XNAT_ERR_SESSION_CLOSED', { detail: 'lost the race' })),
        },
      );
    } catch (err) {
      this.dialing = false;
      if (this.isClosed) return;
      this.linkFailed(toXnatError(err, 'XNAT_ERR_LINK_CONNECT'));
      return;
    } finally {
      this.dialing = false;
      if (this.dialAbort === abort) this.dialAbort = undefined;
    }
    if (this.isClosed) {
      link.destroy(new XnatError('XNAT_ERR_SESSION_CLOSED'));
      return;
    }
    this.handshake(link);
  }

  private handshake(link: SessionLink): void {
    const port = new LinkPort(link, this.logger);
    this.handshaking = port;
    const session = this.current;
    // During a resumable outage the answer is due within a few round trips; waiting the full deadline for
    // a link that died right after its handshake would hold up the fresher dials.
    const deadlineMs = this.resumable()
      ? Math.min(this.handshakeTimeoutMs, attemptDeadlineMs(this.lastRttMs))
      : this.handshakeTimeoutMs;
    const timer = this.opts.clock.setTimeout(
      () =>
        port.destroy(
          new XnatError('XNAT_ERR_SESSION_TIMEOUT', { detail: `no SESSION_ACCEPT in ${deadlineMs} ms` }),
        ),
      deadlineMs,
    );
    port.onClose = (err) => {
      timer.cancel();
      if (this.handshaking === port) this.handshaking = undefined;
      this.linkFailed(
        err ?? new XnatError('XNAT_ERR_LINK_CLOSED_BY_PEER', { detail: 'during session handshake' }),
      );
    };
    port.onFrame = (frame) => {
      timer.cancel();
      port.onFrame = () => {};
      port.onClose = () => {};
      if (this.handshaking === port) this.handshaking = undefined;
      this.answer(port, session, frame);
    };
    if (session) {
      port.writeFrame({
        type: FrameType.SESSION_RESUME,
        sessionId: session.id,
        proof: computeResumeProof(session.resumeSecret, session.id, link.handshakeHash),
        received: BigInt(session.receivedCount),
      });
    } else {
      port.writeFrame({ type: FrameType.SESSION_OPEN, version: SESSION_PROTOCOL_VERSION });
    }
  }

  /** Handles the relay's answer to our OPEN (session undefined) or RESUME. */
  private answer(port: LinkPort, session: Session | undefined, frame: Frame): void {
    if (this.isClosed) {
      port.destroy(new XnatError('XNAT_ERR_SESSION_CLOSED'));
      return;
    }
    if (frame.type === FrameType.SESSION_REJECT) {
      const code = isErrorCode(frame.code) ? frame.code : 'XNAT_ERR_SESSION_PROTOCOL';
      const err = new XnatError(code, {
        detail: session ? 'resume refused by relay' : 'open refused by relay',
      });
      port.end(code);
      if (session && session === this.current) {
        // The relay no longer has our session: end it with the relay's reason, then open a new one.
        this.logger.warn({ code, session: session.idHex }, 'session resume refused');
        this.current = undefined;
        session.destroy(err);
        // Right away unless another process with our key replaced us: racing it would only flap, so
        // wait long (and longer each time), saying so once per replacement.
        if (code !== 'XNAT_ERR_SESSION_REPLACED') return this.scheduleRedial(0);
        const delayMs = this.replaced.next();
        this.logger.warn(
          { code, retryInMs: delayMs, replacements: this.replaced.attempts },
          'session replaced by another agent with the same key',
        );
        this.scheduleRedial(delayMs);
        this.emit('link-error', err, this.errorInfo(false));
        return;
      }
      this.linkFailed(err);
      return;
    }
    if (frame.type !== FrameType.SESSION_ACCEPT) {
      port.destroy(new XnatError('XNAT_ERR_SESSION_PROTOCOL', { detail: `answer frame type ${frame.type}` }));
      return;
    }
    if (session) {
      if (session !== this.current || session.state === 'closed') {
        // The session ended (e.g. expired here) while the resume was in flight: start over with OPEN.
        port.destroy(
          new XnatError('XNAT_ERR_SESSION_CLOSED', { detail: 'resumed a session that ended meanwhile' }),
        );
        return;
      }
      if (!frame.resumed || !frame.sessionId.equals(session.id)) {
        port.destroy(
          new XnatError('XNAT_ERR_SESSION_PROTOCOL', { detail: 'SESSION_ACCEPT for another session' }),
        );
        return;
      }
      const err = session.attach(port, frame.received);
      if (err) port.destroy(err);
      else {
        this.attachedAt = this.opts.clock.now();
        this.detachedAt = undefined;
        this.linked(port.link, true);
      }
      return;
    }
    if (frame.resumed || frame.received !== 0n) {
      port.destroy(new XnatError('XNAT_ERR_SESSION_PROTOCOL', { detail: 'SESSION_ACCEPT of a new session' }));
      return;
    }
    const fresh = new Session(
      {
        id: frame.sessionId,
        role: 'agent',
        agentKey: this.options.agentKey ?? Buffer.alloc(0),
        resumeSecret: frame.resumeSecret,
      },
      { ...this.options, clock: this.opts.clock, logger: this.logger },
    );
    this.current = fresh;
    fresh.on('detached', () => this.sessionDetached(fresh));
    fresh.once('closed', () => this.sessionClosed(fresh));
    const err = fresh.attach(port, 0n);
    if (err) {
      port.destroy(err);
      return;
    }
    this.attachedAt = this.opts.clock.now();
    this.logger.info({ session: fresh.idHex }, 'session opened');
    this.emit('session', fresh);
    this.linked(port.link, false);
  }

  /** A session has a link again: ends the outage (if any) with one summary. */
  private linked(link: SessionLink, resumed: boolean): void {
    this.attachedLink = link;
    this.refused.reset();
    if (this.outageSince === undefined) return;
    const summary: OutageSummary = {
      outageMs: this.opts.clock.now() - this.outageSince,
      attempts: this.outageAttempts,
      resumed,
      lastError: this.outageError,
    };
    this.outageSince = undefined;
    this.outageAttempts = 0;
    this.outageError = undefined;
    this.emit('restored', summary);
  }

  private sessionDetached(session: Session): void {
    if (session !== this.current) return;
    this.detachedAt = this.opts.clock.now();
    this.outageSince ??= this.detachedAt;
    this.lastRttMs = this.attachedLink?.rttMs ?? this.lastRttMs;
    this.attachedLink = undefined;
    this.resetBackoffIfStable();
    this.scheduleRedial();
  }

  private sessionClosed(session: Session): void {
    if (session !== this.current) return;
    this.current = undefined;
    this.detachedAt = undefined;
    this.outageSince ??= this.opts.clock.now();
    // Ended by the peer or expired here: open a new session on a new link.
    this.resetBackoffIfStable();
    this.scheduleRedial();
  }

  private linkFailed(err: XnatError): void {
    if (this.isClosed) return;
    this.logger.debug({ code: err.code, detail: err.detail }, 'dial failed');
    if (this.outageSince !== undefined) this.outageError = err;
    // A refusal only an operator can fix: retrying at the redial pace would only fill the relay's log
    // (and ours) with the same line; wait minutes instead (the fast resume redials are for the network).
    const slow = isAuthRefusal(err);
    this.scheduleRedial(slow ? this.refused.next() : undefined);
    this.emit('link-error', err, this.errorInfo(slow));
  }

  private errorInfo(slow: boolean): LinkErrorInfo {
    return { retryInMs: this.redialTimer ? this.redialDelayMs : undefined, slow };
  }

  private resetBackoffIfStable(): void {
    if (this.attachedAt !== undefined && this.opts.clock.now() - this.attachedAt >= this.stableAfterMs) {
      this.backoff.reset();
      this.replaced.reset();
    }
    this.attachedAt = undefined;
  }

  /** A detached session waits to resume. */
  private resumable(): boolean {
    return this.current !== undefined && this.detachedAt !== undefined;
  }

  /** In the first fastRedialWindowMs of a resumable outage. */
  private inFastPhase(): boolean {
    return this.resumable() && this.opts.clock.now() - this.detachedAt! < this.fastRedialWindowMs;
  }

  /** The backoff's next delay, capped (and jittered) during the fast phase of a resumable outage. */
  private nextDelay(): number {
    const delay = this.backoff.next();
    if (!this.inFastPhase() || delay < FAST_REDIAL_MAX_MS) return delay;
    return fastDelay(this.random);
  }

  /** Schedules the next dial after `delayMs` (default: the next backoff delay), unless one is under way. */
  private scheduleRedial(delayMs?: number): void {
    if (this.isClosed || this.redialTimer || this.dialing || this.handshaking) return;
    const delay = Math.max(delayMs ?? this.nextDelay(), this.notBefore - this.opts.clock.now());
    this.redialDelayMs = delay;
    this.logger.debug({ delayMs: delay, attempt: this.backoff.attempts }, 'redial scheduled');
    this.redialTimer = this.opts.clock.setTimeout(() => void this.connect(), delay);
  }
}
