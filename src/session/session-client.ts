// The agent side: the redial loop that dials links, opens or resumes the session on each, and backs off;
// when the attached link turns suspect it dials probes while keeping it, and moves to the first one that
// completes. It knows nothing of how a link is made (the injected dial() does that: TCP, Noise) nor of streams.
import { EventEmitter } from 'node:events';
import { isErrorCode, toXnatError, XnatError } from '../errors.ts';
import type { Logger } from '../observe/log.ts';
import type { TimerHandle } from '../util/clock.ts';
import { hedge } from '../util/hedge.ts';
import { FrameType, type Frame } from '../wire/frame.ts';
import type { LinkErrorInfo, SessionClientOptions } from './client-options.ts';
import { startClientHandshake } from './client-handshake.ts';
import { RedialPacing } from './client-pacing.ts';
import { OutageTracker } from './outage.ts';
import {
  attemptDeadlineMs,
  DEFAULT_FAST_REDIAL_WINDOW_MS,
  isAuthRefusal,
  DIAL_MAX_IN_FLIGHT,
  dialSchedule,
  fastDelay,
} from './redial.ts';
import { Session } from './session.ts';
import { LinkPort, type SessionLink } from './session-link.ts';
import {
  resolveSessionOptions,
  SESSION_HANDSHAKE_TIMEOUT_MS,
  type ResolvedSessionOptions,
} from './session-options.ts';

export {
  DEFAULT_CLIENT_BACKOFF,
  DEFAULT_REPLACED_DELAY_MS,
  type LinkErrorInfo,
  type OutageSummary,
  type SessionClientOptions,
} from './client-options.ts';
export { DEFAULT_FAST_REDIAL_WINDOW_MS, FAST_REDIAL_MAX_MS } from './redial.ts';

/** The abort reason of probe dials whose suspect link proved alive. */
const PROBES_CANCELLED = new XnatError('XNAT_ERR_SESSION_CLOSED', { detail: 'the suspect link is alive' });

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
  private readonly pacing: RedialPacing;
  private readonly fastRedialWindowMs: number;
  private readonly random: () => number;
  private readonly handshakeTimeoutMs: number;
  private readonly outage = new OutageTracker();
  /** No dial before this clock time (relay.shutdown's reconnectAfterMs); 0 = no hold. */
  private notBefore = 0;
  private current: Session | undefined;
  private started = false;
  private isClosed = false;
  private dialing = false;
  private redialTimer: TimerHandle | undefined;
  /** The link in its session handshake, if any (once attached, the session owns it). */
  private handshaking: LinkPort | undefined;
  /** When the current session lost its link (clock ms); undefined while attached or without a session. */
  private detachedAt: number | undefined;
  /** The link last attached (its 'suspect'/'alive' are followed), for its smoothed RTT once it is gone. */
  private attachedLink: SessionLink | undefined;
  private lastRttMs: number | undefined;
  /** The delay of the redial timer last set, in ms (for 'link-error'). */
  private redialDelayMs = 0;
  /** Aborts the hedged dials under way (close(), or probes of a link that proved alive). */
  private dialAbort: AbortController | undefined;
  private readonly onSuspect = (silentMs: number) => this.linkSuspect(silentMs);
  private readonly onAlive = () => this.linkAlive();

  constructor(options: SessionClientOptions) {
    super();
    this.options = options;
    this.opts = resolveSessionOptions(options);
    this.logger = this.opts.logger;
    this.fastRedialWindowMs = options.fastRedialWindowMs ?? DEFAULT_FAST_REDIAL_WINDOW_MS;
    this.random = options.random ?? Math.random;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? SESSION_HANDSHAKE_TIMEOUT_MS;
    this.pacing = new RedialPacing(options, this.random);
  }

  /** The live session, if one was established and has not closed. */
  get session(): Session | undefined {
    return this.current;
  }

  /** A session lost its link and none has one again yet ('restored' ends it), or its link is suspect. */
  get inOutage(): boolean {
    return this.outage.startedAt !== undefined;
  }

  /** Redial attempts since the backoff last reset (for status). */
  get attempts(): number {
    return this.pacing.attempts;
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
    this.follow(undefined);
    this.redialTimer?.cancel();
    this.redialTimer = undefined;
    this.dialAbort?.abort(new XnatError('XNAT_ERR_SESSION_CLOSED'));
    this.handshaking?.destroy(new XnatError('XNAT_ERR_SESSION_CLOSED'));
    this.handshaking = undefined;
    this.current?.close();
  }

  private async connect(): Promise<void> {
    this.redialTimer = undefined;
    if (this.isClosed || (this.attached() && !this.outage.suspect)) return;
    this.dialing = true;
    const state = () => ({
      fast: this.inFastPhase(),
      resumable: this.resumable(),
      lastRttMs: this.attachedLink?.rttMs ?? this.lastRttMs,
    });
    const schedule = dialSchedule(state(), this.random, state);
    const abort = new AbortController();
    this.dialAbort = abort;
    let link: SessionLink;
    try {
      link = await hedge(
        (signal) => {
          this.outage.attempt();
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
      if (this.isClosed || abort.signal.reason === PROBES_CANCELLED) return;
      this.linkFailed(toXnatError(err, 'XNAT_ERR_LINK_CONNECT'));
      return;
    } finally {
      this.dialing = false;
      if (this.dialAbort === abort) this.dialAbort = undefined;
    }
    if (this.isClosed || abort.signal.reason === PROBES_CANCELLED) {
      link.destroy(new XnatError('XNAT_ERR_SESSION_CLOSED', { detail: 'not needed' }));
      return;
    }
    this.handshake(link);
  }

  private handshake(link: SessionLink): void {
    const port = new LinkPort(link, this.logger);
    this.handshaking = port;
    const session = this.current;
    if (session?.state === 'attached') {
      // A probe of a suspect link got through: nothing more is read from the old link, so the count the
      // RESUME states is final; the relay moves the session over and retires its end of the old link.
      this.logger.debug('a probe link replaces the suspect one');
      session.detachLink(
        new XnatError('XNAT_ERR_SESSION_LINK_REPLACED', { detail: 'silent link replaced by a probe dial' }),
      );
    }
    // During a resumable outage the answer is due within a few round trips; waiting the full deadline for
    // a link that died right after its handshake would hold up the fresher dials.
    const deadlineMs = this.resumable()
      ? Math.min(this.handshakeTimeoutMs, attemptDeadlineMs(this.lastRttMs))
      : this.handshakeTimeoutMs;
    startClientHandshake({
      port,
      session,
      deadlineMs,
      clock: this.opts.clock,
      onFail: (err) => {
        if (this.handshaking === port) this.handshaking = undefined;
        this.linkFailed(err);
      },
      onAnswer: (frame) => {
        if (this.handshaking === port) this.handshaking = undefined;
        this.answer(port, session, frame);
      },
    });
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
        const delayMs = this.pacing.nextReplaced();
        this.logger.warn(
          { code, retryInMs: delayMs, replacements: this.pacing.replacements },
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
    this.logger.info({ session: fresh.idHex }, 'session opened');
    this.emit('session', fresh);
    this.linked(port.link, false);
  }

  /** A session has a link again: ends the outage (if any) with one summary. */
  private linked(link: SessionLink, resumed: boolean): void {
    this.follow(link);
    this.pacing.attached(this.opts.clock.now());
    const summary = this.outage.end(this.opts.clock.now(), resumed);
    if (summary) this.emit('restored', summary);
  }

  /** Follows the attached link's 'suspect' and 'alive' (a Link emits them; other SessionLinks may not). */
  private follow(link: SessionLink | undefined): void {
    this.attachedLink?.off('suspect', this.onSuspect);
    this.attachedLink?.off('alive', this.onAlive);
    this.attachedLink = link;
    link?.on('suspect', this.onSuspect);
    link?.on('alive', this.onAlive);
  }

  /** The attached link has been silent for about a keepalive interval: dial probes, keep the link. */
  private linkSuspect(silentMs: number): void {
    if (this.isClosed || !this.attached()) return;
    this.logger.debug({ silentMs }, 'link suspect: probe dials');
    this.outage.suspected(this.opts.clock.now());
    if (this.notBefore > this.opts.clock.now()) return;
    if (!this.dialing && !this.handshaking && !this.redialTimer) void this.connect();
  }

  /** A record arrived on the suspect link: it lives; the probes (not yet in a session handshake) stop. */
  private linkAlive(): void {
    if (!this.outage.suspect || !this.attached()) return;
    this.logger.debug('suspect link alive: probes cancelled');
    this.outage.alive();
    this.redialTimer?.cancel();
    this.redialTimer = undefined;
    this.dialAbort?.abort(PROBES_CANCELLED);
  }

  private sessionDetached(session: Session): void {
    if (session !== this.current) return;
    this.detachedAt = this.opts.clock.now();
    this.outage.begin(this.detachedAt);
    this.lastRttMs = this.attachedLink?.rttMs ?? this.lastRttMs;
    this.follow(undefined);
    this.pacing.lost(this.opts.clock.now());
    // The loss of a stable link (or the first) is redialed at once: a short outage is over by the time
    // its broken link is noticed. A flapping link has a backoff under way and keeps its pace.
    this.scheduleRedial(this.pacing.attempts === 0 ? 0 : undefined);
  }

  private sessionClosed(session: Session): void {
    if (session !== this.current) return;
    this.current = undefined;
    this.detachedAt = undefined;
    this.follow(undefined);
    this.outage.begin(this.opts.clock.now());
    // Ended by the peer or expired here: open a new session on a new link.
    this.pacing.lost(this.opts.clock.now());
    this.scheduleRedial();
  }

  private linkFailed(err: XnatError): void {
    if (this.isClosed) return;
    this.logger.debug({ code: err.code, detail: err.detail }, 'dial failed');
    this.outage.failed(err);
    // A refusal only an operator can fix: retrying at the redial pace would only fill the relay's log
    // (and ours) with the same line; wait minutes instead (the fast resume redials are for the network).
    const slow = isAuthRefusal(err);
    // Probes of a suspect link that all failed: the next round while it stays suspect.
    if (this.attached()) {
      if (this.outage.suspect) this.scheduleRedial(slow ? this.pacing.nextRefused() : fastDelay(this.random));
    } else this.scheduleRedial(slow ? this.pacing.nextRefused() : undefined);
    this.emit('link-error', err, this.errorInfo(slow));
  }

  private errorInfo(slow: boolean): LinkErrorInfo {
    return { retryInMs: this.redialTimer ? this.redialDelayMs : undefined, slow };
  }

  private attached(): boolean {
    return this.current?.state === 'attached';
  }

  /** A detached session waits to resume, or the attached link is suspect. */
  private resumable(): boolean {
    return this.current !== undefined && (this.detachedAt !== undefined || this.outage.suspect);
  }

  /** In the first fastRedialWindowMs of a resumable outage (counted from the suspect silence, if any). */
  private inFastPhase(): boolean {
    const since = this.outage.startedAt ?? this.detachedAt;
    return this.resumable() && since !== undefined && this.opts.clock.now() - since < this.fastRedialWindowMs;
  }

  /** Schedules the next dial after `delayMs` (default: the next backoff delay), unless one is under way. */
  private scheduleRedial(delayMs?: number): void {
    if (this.isClosed || this.redialTimer || this.dialing || this.handshaking) return;
    const delay = Math.max(
      delayMs ?? this.pacing.next(this.inFastPhase()),
      this.notBefore - this.opts.clock.now(),
    );
    this.redialDelayMs = delay;
    this.logger.debug({ delayMs: delay, attempt: this.pacing.attempts }, 'redial scheduled');
    this.redialTimer = this.opts.clock.setTimeout(() => void this.connect(), delay);
  }
}
