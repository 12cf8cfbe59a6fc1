// The agent's tie to one relay: the redial loop, each session's mux, endpoint, lifecycle and status.
// Registration is mapping-registrar.ts, the commands agent-commands.ts, visitor streams stream-targets.ts.
import type { Session } from '../session/index.ts';
import { SessionClient, type LinkErrorInfo, type OutageSummary } from '../session/index.ts';
import { publicKeyFromPrivate, keyFingerprint } from '../crypto/keys.ts';
import { Mux, type MuxStream } from '../mux/mux.ts';
import { CommandEndpoint } from '../command/endpoint.ts';
import { muxCommandChannel } from '../command/channel.ts';
import { flowClose, sendOneWay, type OpenMeta } from '../protocol/index.ts';
import { AgentUdpPaths } from './udp-path-client.ts';
import { tcpLaneOnly } from '../link/udp-path-history.ts';
import type { AgentProfile, RelayEntry, MappingProfile, UdpMapping } from '../config/index.ts';
import { formatHostPort } from '../config/index.ts';
import type { Logger } from '../observe/log.ts';
import {
  commandCountersStatus,
  countCode,
  type SessionStatus,
  type MappingStatus,
  type ReconnectEvent,
} from '../observe/status.ts';
import { LinkHistory, rttFields, takeRttSamples, type RttSource } from '../observe/link-history.ts';
import { toXnatError, type ErrorCode, type XnatError } from '../errors.ts';
import type { Clock } from '../util/clock.ts';
import { AgentFlows, udpMappingStatus } from './udp-flows.ts';
import { AgentStreams } from './agent-streams.ts';
import { MappingRegistrar } from './mapping-registrar.ts';
import type { CommandDef } from '../command/registry.ts';
import { noEvents, type EventSink } from '../observe/events.ts';
import type { UdpTarget } from '../forward/udp-target.ts';
import type { LinkListener } from './link-listener.ts';
import { relayDial } from './relay-dial.ts';
import { StreamTargets } from './stream-targets.ts';
import { buildAgentRegistry } from './agent-commands.ts';
import { lanTargetStatus } from './agent-queries.ts';

/** The in-process services of handler mappings (`handler:` in the profile), supplied by an embedder. */
export interface AgentServices {
  /** Takes a visitor's stream of handler mapping `handler`; false when no such service is registered. */
  stream(handler: string, stream: MuxStream, meta: OpenMeta): boolean;
  /** A flow's service end, or undefined when no such service is registered; replies go to onReply. */
  flow(handler: string, visitor: string, onReply: (data: Buffer) => void): UdpTarget | undefined;
}

/** What an embedding application hooks into (src/api/); each one is optional. */
export interface AgentHooks {
  readonly onEvent?: EventSink;
  /** Looks up an embedder's command by name, for names xnat's own registry does not have. */
  readonly appCommands?: (name: string) => CommandDef | undefined;
  readonly services?: AgentServices;
  /** This agent's diagnostic bundle within a byte cap, for the relay's diag.fetch (src/agent/diag-bundle.ts). */
  readonly diagBundle?: (maxBytes: number) => Buffer;
}

export { mappingTarget } from './mapping-target.ts';

/** The relay entry of an agent's status. */
export interface RelayEntryStatus {
  address: string;
  /** Who dials the link: `relay` in reverse mode (then `listen` is the agent's listen address). */
  dialedBy: 'agent' | 'relay';
  listen?: string;
  state: SessionStatus['state'];
  session: SessionStatus | undefined;
  lastError?: { code: string; message: string };
  reconnects: ReconnectEvent[];
  linkFailures: Record<string, number>;
}

export class RelayConnection {
  readonly address: string;
  private readonly log: Logger;
  private readonly client: SessionClient;
  private readonly mappings: MappingRegistrar;
  /** Reconnects across sessions: a closed session's timeline stays visible while the next one is dialled. */
  private readonly history = new LinkHistory();
  /** The current session's RTT window and histograms (a new session starts them afresh). */
  private sessionHistory = new LinkHistory();
  private readonly streams: AgentStreams;
  private readonly linkFailures: Record<string, number> = {};
  private session: Session | undefined;
  private mux: Mux | undefined;
  private endpoint: CommandEndpoint | undefined;
  private flows: AgentFlows | undefined;
  /** The UDP path to this relay (one socket, one path per link); absent with tuning.udpPath off. */
  private readonly udp: AgentUdpPaths | undefined;
  private lastError: { code: string; message: string } | undefined;
  private sessionSince = 0;
  private attachments = 0;
  private closed = false;
  private readonly emit: EventSink;
  /** Where visitor streams go (a service or a LAN dial), and how each mapping's target answered. */
  private readonly targets: StreamTargets;
  /** Reverse mode: the socket the relay dials; absent when this agent dials the relay. */
  private readonly listener: LinkListener | undefined;

  constructor(
    private readonly profile: AgentProfile,
    private readonly relay: RelayEntry,
    logger: Logger,
    private readonly clock: Clock,
    private readonly hooks: AgentHooks = {},
  ) {
    this.emit = hooks.onEvent ?? noEvents;
    // In reverse mode without an address the relay is named by where it reaches us.
    this.address = relay.address
      ? formatHostPort(relay.address)
      : `reverse:${formatHostPort(relay.listen ?? { host: '?', port: 0 })}`;
    this.log = logger.child({ relay: this.address });
    this.streams = new AgentStreams(this.log);
    this.mappings = new MappingRegistrar(profile.mappings, profile.agent.name, clock, (name, e) =>
      this.emit(name, { ...e, relay: this.address }),
    );
    this.targets = new StreamTargets({
      mappings: this.mappings,
      streams: this.streams,
      clock,
      emit: this.emit,
      services: hooks.services,
      current: () => ({ session: this.session, endpoint: this.endpoint }),
    });
    const staticKeys = {
      privateKey: profile.agent.privateKey,
      publicKey: publicKeyFromPrivate(profile.agent.privateKey),
    };
    const { tuning } = profile;
    const made = relayDial({
      profile,
      relay,
      staticKeys,
      clock,
      logger: this.log,
      onReverseFailure: (err, remote) => this.reverseFailed(err, remote),
    });
    this.listener = made.listener;
    this.client = new SessionClient({
      // One dial; the session client hedges them (a dial stuck on a dead path is overtaken and abandoned)
      // and aborts `signal` when this one lost or was given up. Reverse mode: the next link the relay made.
      dial: made.dial,
      backoff: { initialMs: profile.reconnect.initialDelayMs, maxMs: profile.reconnect.maxDelayMs },
      replacedDelayMs: profile.reconnect.replacedDelayMs,
      authRetryDelayMs: profile.reconnect.authRetryDelayMs,
      agentKey: staticKeys.publicKey,
      replayBufferBytes: tuning.replayBufferBytes,
      clock,
      logger: this.log,
    });
    // The UDP path goes to the relay's address; a reverse relay without one has datagrams on the TCP lane.
    if (tuning.udpPath !== 'off' && relay.address) {
      this.udp = new AgentUdpPaths(relay.address, {
        clock,
        logger: this.log,
        keepaliveMs: tuning.udpPathKeepaliveMs,
      });
    }
    this.client.on('session', (s: Session) => this.onSession(s));
    this.client.on('link-error', (err: unknown, info?: LinkErrorInfo) => {
      const e = toXnatError(err);
      this.lastError = { code: e.code, message: e.message };
      countCode(this.linkFailures, e.code);
      // During an outage of a session, transient failures are the outage itself: one 'link restored'
      // line sums them up at its end (status keeps lastError). Before the first session, and for
      // failures a retry will not fix (auth, suites), every one is a warning; an auth refusal's line
      // says when the (slow) next try comes.
      const quiet = this.client.inOutage && e.retryable;
      this.log[quiet ? 'debug' : 'warn'](
        {
          code: e.code,
          detail: e.detail,
          hint: e.hint,
          ...(info?.slow && info.retryInMs !== undefined ? { retryInMs: info.retryInMs } : {}),
        },
        'link failed',
      );
    });
    this.client.on('restored', (o: OutageSummary) => {
      this.log.warn(
        {
          outageMs: Math.round(o.outageMs),
          attempts: o.attempts,
          resumed: o.resumed,
          code: o.lastError?.code,
        },
        'link restored',
      );
    });
  }

  /** Reverse mode: binds the listen socket now (XNAT_ERR_LINK_LISTEN when taken); nothing otherwise. */
  async listen(): Promise<void> {
    await this.listener?.ensureBound();
  }

  start(): void {
    const relayKey = keyFingerprint(this.relay.publicKey);
    if (this.listener) {
      this.log.info({ relayKey }, 'waiting for the relay to dial');
      // Bound now so the port is known at once; a failure is the first dial's (logged, retried on backoff).
      this.listener.ensureBound().catch(() => {});
    } else this.log.info({ relayKey }, 'connecting');
    this.client.start();
  }

  close(): void {
    this.closed = true;
    this.mappings.close();
    this.session?.close();
    this.client.close();
    this.udp?.close();
    void this.listener?.close();
  }

  /** A handshake on reverse mode's listen socket failed: counted like a failed dial (strangers included). */
  private reverseFailed(err: XnatError, remote: string): void {
    countCode(this.linkFailures, err.code);
    // A peer that spoke xnat to us (a relay with other keys) is worth a line; silent strangers are not.
    if (!err.code.startsWith('XNAT_ERR_AUTH_') && !err.code.startsWith('XNAT_ERR_LINK_SUITE')) return;
    this.lastError = { code: err.code, message: err.message };
    this.log.warn({ remote, code: err.code, detail: err.detail, hint: err.hint }, 'relay link rejected');
  }

  status(): RelayEntryStatus {
    const s = this.session;
    const session: SessionStatus | undefined = s && {
      id: s.id.toString('hex'),
      agent: this.profile.agent.name,
      agentKey: keyFingerprint(s.agentKey),
      state: s.state,
      since: this.sessionSince,
      rttMs: s.stats.rttMs,
      links: s.stats.links,
      resumes: s.stats.resumes,
      bytesSent: s.stats.bytesSent,
      bytesReceived: s.stats.bytesReceived,
      replayBytes: s.stats.replayBytes,
      streams: this.streams.status(),
      reconnects: this.history.reconnects,
      ...rttFields(this.sessionHistory),
      ...this.flows?.sessionStatus(),
      ...(this.endpoint ? { commands: commandCountersStatus(this.endpoint.snapshot().commands) } : {}),
      datagramPath: this.udp ? this.udp.status(s) : tcpLaneOnly(),
    };
    const bound = this.listener?.bound;
    return {
      address: this.address,
      dialedBy: this.listener ? 'relay' : 'agent',
      ...(this.listener && this.relay.listen
        ? { listen: formatHostPort(bound ? { host: bound.address, port: bound.port } : this.relay.listen) }
        : {}),
      state: s ? s.state : 'connecting',
      session,
      ...(this.lastError ? { lastError: this.lastError } : {}),
      reconnects: this.history.reconnects,
      linkFailures: { ...this.linkFailures },
    };
  }

  /** The current session's command endpoint (for an embedder's commands); undefined between sessions. */
  get commandEndpoint(): CommandEndpoint | undefined {
    return this.endpoint;
  }

  /** Resets one visitor stream (an operator closed it): the relay resets the visitor's socket. */
  closeStream(streamId: number): boolean {
    return this.streams.close(streamId);
  }

  /** The session id shown in status, if one exists. */
  get sessionId(): string | undefined {
    return this.session?.id.toString('hex');
  }

  mappingStatus(): MappingStatus[] {
    return this.mappings.status((m) => ({
      ...(m.profile.protocol === 'tcp'
        ? { healthy: m.health.healthy, lan: lanTargetStatus(this.targets.targets.get(m.profile.name)) }
        : {}),
      ...(m.remotePort > 0 && this.relay.address
        ? { publicAddress: formatHostPort({ host: this.relay.address.host, port: m.remotePort }) }
        : {}),
      ...(m.profile.protocol === 'udp' ? udpMappingStatus(this.flows, m.profile.name) : {}),
      // udp: every datagram is counted as it passes; tcp: closed streams plus the open ones so far.
      traffic:
        m.profile.protocol === 'udp' ? { ...m.traffic } : this.streams.traffic(m.profile.name, m.traffic),
    }));
  }

  /** A reloaded mapping list (see MappingRegistrar.apply); live connections of unchanged mappings go on. */
  applyMappings(next: readonly MappingProfile[]): void {
    this.mappings.apply(next);
  }

  private onSession(session: Session): void {
    this.session = session;
    this.sessionSince = Date.now();
    this.sessionHistory = new LinkHistory();
    const sessionHistory = this.sessionHistory;
    this.attachments = 0;
    const log = this.log.child({ session: session.id.toString('hex').slice(0, 12) });
    const mux = new Mux(session, {
      role: 'agent',
      initialWindow: this.profile.tuning.streamWindowBytes,
      windowBudget: this.profile.tuning.sessionWindowBytes,
      maxStreams: this.profile.tuning.maxStreams,
      // The TCP pipe reads and writes streams directly; a service gets its own Duplex (services.ts).
      duplexStreams: false,
      clock: this.clock,
      logger: log,
    });
    const services = this.hooks.services;
    const flows = new AgentFlows(mux, this.clock, log, {
      maxFlows: this.profile.tuning.maxFlows,
      onEvent: this.emit,
      ...(services
        ? {
            openTarget: (m: UdpMapping, visitor: string, onReply: (d: Buffer) => void) =>
              m.handler === undefined ? undefined : services.flow(m.handler, visitor, onReply),
          }
        : {}),
      closeRemote: (flowId) => {
        if (session.state !== 'closed') sendOneWay(endpoint, flowClose, { flowId });
      },
      traffic: (name) => this.mappings.get(name)?.traffic,
    });
    this.flows = flows;
    const registry = buildAgentRegistry({
      session,
      flows,
      mappings: this.mappings,
      udp: this.udp,
      log,
      appCommands: this.hooks.appCommands,
      diagBundle: this.hooks.diagBundle,
      endpoint: () => endpoint,
      commands: () => this.endpoint?.snapshot(),
      mappingStatus: () => this.mappingStatus(),
      targets: () => this.targets.targets,
      holdOff: (ms) => this.client.holdOff(ms),
    });
    const endpoint = new CommandEndpoint(muxCommandChannel(mux), {
      registry,
      peer: this.address,
      clock: this.clock,
      logger: log,
    });
    this.mux = mux;
    this.endpoint = endpoint;
    log.info('session established');
    const peer = { agent: this.profile.agent.name, relay: this.address, session: session.id.toString('hex') };
    const resumes = () => Math.max(0, this.attachments - 1);
    const onAttached = (link?: RttSource) => {
      this.attachments++;
      this.lastError = undefined;
      this.history.attached();
      sessionHistory.attached();
      takeRttSamples(link, this.history, sessionHistory);
      this.emit('session.attached', { ...peer, resumes: resumes() });
      if (this.attachments > 1) {
        log.info({ resumes: resumes() }, 'session resumed');
        this.emit('session.resumed', { ...peer, resumes: resumes() });
      }
    };
    if (session.state === 'attached') onAttached(session.link);
    session.on('attached', onAttached);
    session.on('detached', (err?: XnatError) => {
      this.history.detached(err?.code);
      sessionHistory.detached(err?.code);
      // Info: the outage's one warning is 'link restored', with its duration, when it ends.
      log.info({ code: err?.code }, 'session detached');
      this.emit('session.detached', { ...peer, resumes: resumes(), code: err?.code });
    });
    session.on('closed', (err?: XnatError) => {
      mux.resetAll((err?.code ?? 'XNAT_ERR_SESSION_CLOSED') as ErrorCode);
      flows.closeAll();
      endpoint.close();
      if (this.flows === flows) this.flows = undefined;
      if (this.session === session) {
        this.session = undefined;
        this.mappings.detach(session);
      }
      if (err?.code === 'XNAT_ERR_SESSION_EXPIRED') log.warn({ code: err.code }, 'session expired');
      else log.info({ code: err?.code }, 'session closed');
      this.emit('session.closed', { ...peer, resumes: resumes(), code: err?.code });
    });
    mux.on('stream', (stream: MuxStream, meta: Buffer) => this.targets.accept(stream, meta, log));
    this.mappings.attach(session, endpoint, log);
  }
}
