// The agent's tie to one relay: the redial loop, the session's mux and commands (registration is
// mapping-registrar.ts), and the LAN side of every stream. It knows nothing of the CLI or of other relays.
import type { Session } from '../session/index.ts';
import { SessionClient, type LinkErrorInfo, type OutageSummary } from '../session/index.ts';
import { publicKeyFromPrivate, keyFingerprint } from '../crypto/keys.ts';
import { Mux, type MuxStream } from '../mux/mux.ts';
import { CommandEndpoint } from '../command/endpoint.ts';
import { createRegistry } from '../command/registry.ts';
import { muxCommandChannel } from '../command/channel.ts';
import {
  decodeOpenMeta,
  type OpenMeta,
  flowClose,
  flowOpen,
  handleOneWay,
  relayShutdown,
  mappingHealth,
  mappingRevoked,
  sendOneWay,
  udpOffer,
} from '../protocol/index.ts';
import { AgentUdpPaths } from './udp-path-client.ts';
import { tcpLaneOnly } from '../link/udp-path-history.ts';
import { dialTarget } from '../forward/tcp-target.ts';
import { proxyHeaderV2 } from '../forward/proxy-protocol.ts';
import { joinLan } from './lan-stream.ts';
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
import { AgentStreams, formatVisitor } from './agent-streams.ts';
import { MappingRegistrar, type MappingState } from './mapping-registrar.ts';
import type { CommandDef } from '../command/registry.ts';
import { noEvents, type EventSink } from '../observe/events.ts';
import type { UdpTarget } from '../forward/udp-target.ts';
import { emptyTargetStats, noteDial, registerAgentQueries, type TargetStats } from './agent-queries.ts';
import { registerAgentDiag } from './diag-bundle.ts';
import type { LinkListener } from './link-listener.ts';
import { relayDial } from './relay-dial.ts';

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
  /** Per mapping name: how its LAN target answered dials (stats.query). */
  private readonly targets = new Map<string, TargetStats>();
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
      ...(m.profile.protocol === 'tcp' ? { healthy: m.health.healthy } : {}),
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
    const registry = createRegistry(this.hooks.appCommands);
    handleOneWay(registry, flowOpen, (req) => {
      const m = this.mappings.get(req.mapping)?.profile;
      if (m?.protocol !== 'udp') {
        log.warn({ mapping: req.mapping, code: 'XNAT_ERR_MAPPING_UNKNOWN' }, 'flow refused');
        flows.refuse(req.flowId);
        return;
      }
      // v2 DGRAM: the same header before every datagram of the flow (the LAN service reads each alone).
      const header = m.proxyProtocol
        ? proxyHeaderV2({ source: req.visitor, destination: req.public ?? { address: '', port: 0 } }, 'udp')
        : undefined;
      flows.open(req.flowId, m, `${req.visitor.address}:${req.visitor.port}`, header);
    });
    handleOneWay(registry, flowClose, (req) => flows.close(req.flowId));
    registerAgentQueries(registry, {
      sessionStats: () => session.stats,
      mappings: () => this.mappingStatus(),
      targets: () => this.targets,
      commands: () => this.endpoint?.snapshot(),
    });
    registerAgentDiag(registry, { endpoint: () => endpoint, bundle: this.hooks.diagBundle });
    handleOneWay(registry, udpOffer, (req) => this.udp?.offered(session, req.link, req.index));
    handleOneWay(registry, relayShutdown, (req) => {
      // The relay says when it expects to be back: redialing earlier would only be refused.
      this.client.holdOff(req.reconnectAfterMs);
      log.warn({ reason: req.reason, reconnectAfterMs: req.reconnectAfterMs }, 'relay shutting down');
    });
    handleOneWay(registry, mappingRevoked, (req) => this.mappings.revoked(req.name, req.error));
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
    mux.on('stream', (stream: MuxStream, meta: Buffer) => this.onStream(stream, meta, log));
    this.mappings.attach(session, endpoint, log);
  }

  /** A visitor's stream: dial the LAN target and join; a target that fails resets the stream (and visitor). */
  private onStream(stream: MuxStream, metaBytes: Buffer, log: Logger): void {
    let meta: OpenMeta;
    try {
      meta = decodeOpenMeta(metaBytes);
    } catch (err) {
      stream.reset(toXnatError(err).code);
      return;
    }
    const mapping = this.mappings.get(meta.mapping);
    if (!mapping) {
      stream.reset('XNAT_ERR_MAPPING_UNKNOWN');
      return;
    }
    const m = mapping;
    const ended = this.streams.track(stream, m.profile.name, meta.visitor, m.traffic);
    // Fields on the lines written, not a child logger per stream (streams are many and mostly silent).
    const fields = { mapping: m.profile.name, stream: stream.id };
    const visitor = formatVisitor(meta.visitor);
    const { local, handler } = m.profile;
    if (handler !== undefined || !local) {
      if (handler === undefined || !this.hooks.services?.stream(handler, stream, meta)) {
        log.warn({ ...fields, handler, code: 'XNAT_ERR_MAPPING_NO_HANDLER' }, 'target failed');
        ended(0, 0);
        return stream.reset('XNAT_ERR_MAPPING_NO_HANDLER');
      }
      m.activeStreams++;
      m.totalStreams++;
      this.emit('stream.opened', { mapping: m.profile.name, stream: stream.id, visitor });
      stream.once('close', () => {
        m.activeStreams--;
        ended(stream.stats.bytesIn, stream.stats.bytesOut);
        const code = stream.resetCode;
        this.emit('stream.closed', {
          mapping: m.profile.name,
          stream: stream.id,
          visitor,
          clean: !code,
          code,
        });
      });
      return;
    }
    m.activeStreams++;
    m.totalStreams++;
    this.emit('stream.opened', { mapping: m.profile.name, stream: stream.id, visitor });
    // A visitor may reset before the LAN dial completes: give the dial up then, and never join a LAN
    // socket to a dead stream (the pipe resets such a socket at once).
    let target = this.targets.get(m.profile.name);
    if (!target) this.targets.set(m.profile.name, (target = emptyTargetStats()));
    const t = target;
    const dialStart = this.clock.now();
    // The dial starts on receipt of the open; the pipe joins in the connect event's own turn.
    const cancel = dialTarget(local.host, local.port, { clock: this.clock }, (e, socket) => {
      stream.off('close', cancel);
      if (socket) {
        noteDial(t, this.clock.now() - dialStart, true);
        if (m.health.succeeded()) this.reportHealth(m, true, 0, log);
        void joinLan(socket, stream, meta, m.profile, m.bandwidth, this.clock, log).then((r) => {
          m.activeStreams--;
          // The pipe counts from the LAN socket's view: what it wrote went up, what it read goes down.
          ended(r.bytesToSocket, r.bytesFromSocket);
          this.emit('stream.closed', { ...fields, visitor, clean: r.clean, code: r.code });
          if (!r.clean) log.info({ ...fields, code: r.code }, 'stream reset');
        });
        return;
      }
      m.activeStreams--;
      ended(0, 0);
      const code = e?.code ?? 'XNAT_ERR_FORWARD_TARGET_UNREACHABLE';
      this.emit('stream.closed', { ...fields, visitor, clean: false, code });
      if (code === 'XNAT_ERR_ABORTED')
        return log.debug({ ...fields }, 'visitor gone before the target answered');
      noteDial(t, this.clock.now() - dialStart, false);
      log.warn({ ...fields, code, detail: e?.detail }, 'target failed');
      stream.reset(code);
      const backoffMs = m.health.failed();
      if (backoffMs !== undefined) this.reportHealth(m, false, backoffMs, log);
    });
    stream.once('close', cancel);
  }

  /** Tells the relay (mapping.health) so it sends new visitors to other agents during the back-off. */
  private reportHealth(m: MappingState, healthy: boolean, retryAfterMs: number, log: Logger): void {
    const endpoint = this.endpoint;
    if (!endpoint || !this.session || this.session.state === 'closed') return;
    try {
      sendOneWay(endpoint, mappingHealth, { name: m.profile.name, healthy, retryAfterMs });
    } catch {
      // The session is ending: a new one registers the mapping afresh (healthy until the next refusal).
    }
    log[healthy ? 'info' : 'warn'](
      { mapping: m.profile.name, ...(healthy ? {} : { retryAfterMs }) },
      healthy ? 'target healthy' : 'target unhealthy',
    );
  }
}
