// Reverse mode on the relay: dials one agent (its agents[].dial) whenever that agent has no live link,
// and redials on the agent's own schedule (fast during a resumable outage, backoff later, slow after an
// auth refusal). While our link is suspect (keepalive silence) it dials probes on the agent's probe pace and
// keeps the link; the agent's own probe takes one. Each socket takes the inbound path via `accept`.
import type { Socket } from 'node:net';
import { dialTcp } from '../transport/tcp.ts';
import type { Link } from '../link/link.ts';
import { keyFingerprint } from '../crypto/keys.ts';
import type { AgentEntry, HostPort, RelayReconnectProfile } from '../config/index.ts';
import { formatHostPort } from '../config/index.ts';
import type { Logger } from '../observe/log.ts';
import { countCode, type AgentDialerStatus } from '../observe/status.ts';
import { toXnatError, XnatError } from '../errors.ts';
import type { Clock, TimerHandle } from '../util/clock.ts';
import { Backoff } from '../util/backoff.ts';
import { hedge } from '../util/hedge.ts';
import {
  AUTH_RETRY_MAX_FACTOR,
  DEFAULT_FAST_REDIAL_WINDOW_MS,
  DIAL_MAX_IN_FLIGHT,
  dialSchedule,
  fastDelay,
  FAST_REDIAL_MAX_MS,
  isAuthRefusal,
  type RedialState,
} from '../session/redial.ts';

/** A link that stayed up this long resets the backoff (the session client's DEFAULT_STABLE_AFTER_MS). */
const STABLE_AFTER_MS = 10_000;

/** Where the agent's session stands, as the relay sees it. */
export type AgentLinkState = 'attached' | 'detached' | 'none';

export interface AgentDialerOptions {
  readonly agent: AgentEntry & { readonly dial: HostPort };
  readonly reconnect: RelayReconnectProfile;
  /** The relay's acceptance path for a socket it dialed: only `expectKey` may answer. */
  readonly accept: (socket: Socket, expectKey: Buffer) => Promise<Link>;
  /** Hands an established link to the session server (the agent then opens or resumes its session). */
  readonly attach: (link: Link, remote: string) => void;
  /** The agent's session now: a detached one waits to resume (the fast redials are for it). */
  readonly agentState: () => AgentLinkState;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly random?: () => number;
  /** The TCP dial; default dialTcp (tests inject refusals and fake sockets). */
  readonly connect?: (host: string, port: number, signal: AbortSignal) => Promise<Socket>;
}

export class AgentDialer {
  private readonly log: Logger;
  private readonly where: string;
  private readonly backoff: Backoff;
  private readonly refused: Backoff;
  private readonly random: () => number;
  private closed = false;
  private started = false;
  private dialing = false;
  /**
   * Our links handed to the session server and still open. Usually one; a hedge's late winners join too:
   * the agent picks the link it opens or resumes the session on, the others end at the server's deadline.
   */
  private readonly links = new Set<Link>();
  private linkedAt = 0;
  private lastRttMs: number | undefined;
  private timer: TimerHandle | undefined;
  private abort: AbortController | undefined;
  /** Probe dials for a suspect link of ours: the link, and since when. */
  private probing: { readonly link: Link; readonly since: number } | undefined;
  /**
   * Aborts probe dials at close() only: probes no longer needed just start no more, and the ones in flight
   * finish (a handshake cut halfway would read as a rejected relay in the agent's log).
   */
  private readonly probeAbort = new AbortController();
  private probeTimer: TimerHandle | undefined;
  /** When the current outage began (our link lost, or never up), for the fast window and the summary. */
  private outageSince: number | undefined;
  private outageDials = 0;
  private outageWarned = false;
  private dials = 0;
  private readonly failures: Record<string, number> = {};
  private lastError: XnatError | undefined;

  constructor(private readonly o: AgentDialerOptions) {
    this.where = formatHostPort(o.agent.dial);
    this.log = o.logger.child({ agent: o.agent.name, dial: this.where });
    this.random = o.random ?? Math.random;
    this.backoff = new Backoff({
      initialMs: o.reconnect.initialDelayMs,
      maxMs: o.reconnect.maxDelayMs,
      random: this.random,
    });
    this.refused = new Backoff({
      initialMs: o.reconnect.authRetryDelayMs,
      maxMs: o.reconnect.authRetryDelayMs * AUTH_RETRY_MAX_FACTOR,
      factor: 2,
      jitter: 0.2,
      random: this.random,
    });
  }

  /** The agent entry this dialer serves (reload compares it). */
  get entry(): AgentEntry {
    return this.o.agent;
  }

  /** Is `link` one of ours (dialed by this relay and still open)? */
  owns(link: object): boolean {
    return this.links.has(link as Link);
  }

  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.outageSince = this.o.clock.now();
    this.log.info({ agentKey: keyFingerprint(this.o.agent.publicKey) }, 'dialing agent');
    this.schedule(0);
  }

  /** The agent's session lost its link or ended (seen by the relay): dial soon if nothing is under way. */
  wake(): void {
    if (this.links.size === 0 && !this.timer && !this.dialing) this.schedule(this.nextDelay());
  }

  /**
   * Stops dialing and closes our links (the session detaches). `keepLinks`: the relay is stopping and its
   * sessions still need the links for relay.shutdown and their graceful close; they end with the sessions.
   */
  close(keepLinks = false): void {
    if (this.closed) return;
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.abort?.abort(new XnatError('XNAT_ERR_SESSION_CLOSED'));
    this.stopProbes();
    this.probeAbort.abort(new XnatError('XNAT_ERR_SESSION_CLOSED'));
    if (!keepLinks) for (const l of this.links) l.close('XNAT_ERR_SESSION_CLOSED');
  }

  status(): AgentDialerStatus {
    return {
      agent: this.o.agent.name,
      dial: this.where,
      state: this.links.size > 0 ? 'linked' : this.dialing ? 'dialing' : 'waiting',
      dials: this.dials,
      failures: { ...this.failures },
      ...(this.lastError
        ? { lastError: { code: this.lastError.code, message: this.lastError.message } }
        : {}),
    };
  }

  private schedule(delayMs: number): void {
    if (this.closed || this.timer) return;
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = undefined;
      void this.dial();
    }, delayMs);
  }

  /** In the first fast window of an outage of a session that waits to resume. */
  private fast(): boolean {
    return (
      this.o.agentState() === 'detached' &&
      this.outageSince !== undefined &&
      this.o.clock.now() - this.outageSince < DEFAULT_FAST_REDIAL_WINDOW_MS
    );
  }

  /** The agent's nextDelay: the backoff, capped at a fast delay early in a resumable outage. */
  private nextDelay(): number {
    const delay = this.backoff.next();
    return this.fast() && delay >= FAST_REDIAL_MAX_MS ? fastDelay(this.random) : delay;
  }

  private async dial(): Promise<void> {
    if (this.closed || this.links.size > 0 || this.dialing) return;
    // The agent dialed in itself (a profile with both ways): nothing to do until its session loses that link.
    if (this.o.agentState() === 'attached') return;
    this.dialing = true;
    const state = () => ({
      fast: this.fast(),
      resumable: this.o.agentState() === 'detached',
      lastRttMs: this.lastRttMs,
    });
    const abort = new AbortController();
    this.abort = abort;
    let link: Link;
    try {
      link = await this.hedged(state, abort.signal);
    } catch (err) {
      this.dialing = false;
      if (!this.closed) this.failed(toXnatError(err, 'XNAT_ERR_LINK_CONNECT'));
      return;
    } finally {
      this.dialing = false;
      if (this.abort === abort) this.abort = undefined;
    }
    if (this.closed) return link.destroy(new XnatError('XNAT_ERR_SESSION_CLOSED'));
    this.linked(link);
  }

  /** Hedged dials on the agent's schedule (dialSchedule) from `state`, until one links or `signal`. */
  private hedged(state: () => RedialState, signal: AbortSignal): Promise<Link> {
    return hedge((s) => this.dialOnce(s), {
      ...dialSchedule(state(), this.random, state),
      maxInFlight: DIAL_MAX_IN_FLIGHT,
      abandonReason: (ageMs) =>
        new XnatError('XNAT_ERR_LINK_HANDSHAKE_TIMEOUT', {
          detail: `dial abandoned after ${ageMs} ms for a fresher one`,
        }),
      signal,
      clock: this.o.clock,
      // Not ours to drop: the agent may have taken this one for its session (it completed first there).
      dispose: (late) => this.adopt(late),
    });
  }

  private async dialOnce(signal: AbortSignal): Promise<Link> {
    this.dials++;
    this.outageDials++;
    const { host, port } = this.o.agent.dial;
    const socket = this.o.connect
      ? await this.o.connect(host, port, signal)
      : await dialTcp(host, port, { signal, clock: this.o.clock, reuseReads: true });
    if (signal.aborted) socket.destroy();
    else signal.addEventListener('abort', () => socket.destroy(), { once: true });
    return this.o.accept(socket, this.o.agent.publicKey);
  }

  private linked(link: Link): void {
    this.linkedAt = this.o.clock.now();
    this.refused.reset();
    if (this.outageSince !== undefined && this.outageWarned)
      this.log.warn(
        {
          outageMs: Math.round(this.linkedAt - this.outageSince),
          attempts: this.outageDials,
          code: this.lastError?.code,
        },
        'agent link restored',
      );
    this.outageSince = undefined;
    this.outageDials = 0;
    this.outageWarned = false;
    this.lastError = undefined;
    this.adopt(link);
  }

  /** Hands a link to the session server and watches it. */
  private adopt(link: Link): void {
    if (this.closed) return link.destroy(new XnatError('XNAT_ERR_SESSION_CLOSED'));
    this.links.add(link);
    link.on('rtt', (srtt: number) => (this.lastRttMs = srtt));
    link.on('suspect', () => this.suspect(link));
    link.on('alive', () => {
      if (this.probing?.link === link) this.stopProbes();
    });
    link.once('close', () => this.unlinked(link));
    this.o.attach(link, this.where);
  }

  /**
   * Our link has been silent for about a keepalive interval: dial probes (the agent's suspect pace, from
   * dialSchedule) while it stays suspect, so a path that returns before the dead verdict is used at once.
   * The probe links go to the session server like any other; the agent's own probe takes one (or none,
   * and the server drops it at its deadline). Starts no more at 'alive' or the link's close.
   */
  private suspect(link: Link): void {
    if (this.closed || this.probing || !this.links.has(link)) return;
    const probe = { link, since: this.o.clock.now() };
    this.probing = probe;
    const active = () => this.probing === probe && !this.closed;
    const round = (): void => {
      this.probeTimer = undefined;
      if (!active()) return;
      const state = () => ({
        fast: active() && this.o.clock.now() - probe.since < DEFAULT_FAST_REDIAL_WINDOW_MS,
        resumable: active(),
        lastRttMs: link.rttMs ?? this.lastRttMs,
      });
      this.log.debug('agent link suspect: probe dials');
      this.hedged(state, this.probeAbort.signal).then(
        // Adopted even once not needed: the agent may have taken it; unused, the server drops it.
        (l) => this.adopt(l),
        (err: unknown) => {
          if (!active()) return;
          const e = toXnatError(err, 'XNAT_ERR_LINK_CONNECT');
          this.log.debug({ code: e.code, detail: e.detail }, 'probe dials failed');
          // The next round while the link stays suspect; a refusal waits for the dead verdict's redials.
          if (!isAuthRefusal(e)) this.probeTimer = this.o.clock.setTimeout(round, fastDelay(this.random));
        },
      );
    };
    round();
  }

  private stopProbes(): void {
    this.probeTimer?.cancel();
    this.probeTimer = undefined;
    this.probing = undefined;
  }

  private unlinked(link: Link): void {
    if (this.probing?.link === link) this.stopProbes();
    if (!this.links.delete(link) || this.links.size > 0 || this.closed) return;
    const now = this.o.clock.now();
    if (now - this.linkedAt >= STABLE_AFTER_MS) this.backoff.reset();
    this.outageSince = now;
    // The session layer sees the same loss a moment later (or just did): the first redial is a fast one.
    this.schedule(this.nextDelay());
  }

  private failed(err: XnatError): void {
    this.lastError = err;
    countCode(this.failures, err.code);
    // A refusal only an operator can fix waits minutes; network failures keep the agent's pace.
    const slow = isAuthRefusal(err);
    const delay = slow ? this.refused.next() : this.nextDelay();
    // One warning per outage (and each refusal); the rest are the outage itself.
    const loud = slow || !this.outageWarned;
    this.outageWarned = true;
    this.log[loud ? 'warn' : 'debug'](
      { code: err.code, detail: err.detail, hint: err.hint, retryInMs: delay },
      'agent dial failed',
    );
    this.schedule(delay);
  }
}
