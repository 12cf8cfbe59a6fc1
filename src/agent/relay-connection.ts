// The agent's tie to one relay: the redial loop, the session's mux and commands (registration is
// mapping-registrar.ts), and the LAN side of every stream. It knows nothing of the CLI or of other relays.
import type { Session } from '../session/index.ts';
import { SessionClient, type LinkErrorInfo, type OutageSummary } from '../session/index.ts';
import { connectLink } from '../link/link.ts';
import { SuiteProposal } from '../link/suites.ts';
import { publicKeyFromPrivate, keyFingerprint } from '../crypto/keys.ts';
import { dialTcp } from '../transport/tcp.ts';
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
  mappingRevoked,
  sendOneWay,
  udpOffer,
} from '../protocol/index.ts';
import { AgentUdpPaths } from './udp-path-client.ts';
import { tcpLaneOnly } from '../link/udp-path-history.ts';
import { dialTarget } from '../forward/tcp-target.ts';
import { joinSocketToStream } from '../forward/tcp-pipe.ts';
import type { AgentProfile, RelayEntry, MappingProfile } from '../config/index.ts';
import { formatHostPort } from '../config/index.ts';
import type { Logger } from '../observe/log.ts';
import {
  countCode,
  type SessionStatus,
  type MappingStatus,
  type StreamStatus,
  type ReconnectEvent,
} from '../observe/status.ts';
import { LinkHistory, rttFields } from '../observe/link-history.ts';
import { toXnatError, type ErrorCode, type XnatError } from '../errors.ts';
import type { Clock } from '../util/clock.ts';
import { AgentFlows, udpMappingStatus } from './udp-flows.ts';
import { MappingRegistrar, type MappingState } from './mapping-registrar.ts';

/** What the session's 'attached' event hands over: a link that reports RTT samples. */
interface RttSource {
  on?(event: 'rtt', listener: (srtt: number, sample?: number) => void): unknown;
}

/** A visitor address as host:port ([v6]:port); '?' when the relay no longer knew it. */
function formatVisitor(v: { address: string; port: number }): string {
  if (!v.address) return '?';
  return v.address.includes(':') ? `[${v.address}]:${v.port}` : `${v.address}:${v.port}`;
}

/** A visitor's stream on this side, for status: its visitor comes from the open metadata. */
interface LiveStream {
  readonly stream: MuxStream;
  readonly mapping: string;
  readonly visitor: string;
  readonly openedAt: number;
}

/** The relay entry of an agent's status. */
export interface RelayEntryStatus {
  address: string;
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
  private readonly streams = new Map<number, LiveStream>();
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

  constructor(
    private readonly profile: AgentProfile,
    private readonly relay: RelayEntry,
    logger: Logger,
    private readonly clock: Clock,
  ) {
    this.address = formatHostPort(relay.address);
    this.log = logger.child({ relay: this.address });
    this.mappings = new MappingRegistrar(profile.mappings, profile.agent.name, clock);
    const staticKeys = {
      privateKey: profile.agent.privateKey,
      publicKey: publicKeyFromPrivate(profile.agent.privateKey),
    };
    const { tuning } = profile;
    // One proposal across redials: under `auto` it moves on after a relay refuses a suite.
    const cipher = new SuiteProposal(tuning.cipher);
    this.client = new SessionClient({
      // One dial; the session client hedges them (a dial stuck on a dead path is overtaken and abandoned)
      // and aborts `signal` when this one lost or was given up.
      dial: async (signal) => {
        const socket = await dialTcp(relay.address.host, relay.address.port, { signal });
        if (signal.aborted) socket.destroy();
        else signal.addEventListener('abort', () => socket.destroy(), { once: true });
        return connectLink(socket, {
          staticKeys,
          remoteStaticKey: relay.publicKey,
          psk: relay.psk,
          keepaliveIntervalMs: tuning.keepaliveIntervalMs,
          keepaliveTimeoutMs: tuning.keepaliveTimeoutMs,
          cipher,
          cipherBackend: tuning.cipherBackend,
          clock,
          logger: this.log,
        });
      },
      backoff: { initialMs: profile.reconnect.initialDelayMs, maxMs: profile.reconnect.maxDelayMs },
      replacedDelayMs: profile.reconnect.replacedDelayMs,
      authRetryDelayMs: profile.reconnect.authRetryDelayMs,
      agentKey: staticKeys.publicKey,
      replayBufferBytes: tuning.replayBufferBytes,
      clock,
      logger: this.log,
    });
    if (tuning.udpPath !== 'off') {
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

  start(): void {
    this.log.info({ relayKey: keyFingerprint(this.relay.publicKey) }, 'connecting');
    this.client.start();
  }

  close(): void {
    this.closed = true;
    this.mappings.close();
    this.session?.close();
    this.client.close();
    this.udp?.close();
  }

  status(): RelayEntryStatus {
    const s = this.session;
    const now = Date.now();
    const streams: StreamStatus[] = [...this.streams.values()].map((x) => ({
      id: x.stream.id,
      mapping: x.mapping,
      visitor: x.visitor,
      // This side receives the visitor's bytes from the relay and sends the service's back.
      bytesUp: x.stream.stats.bytesIn,
      bytesDown: x.stream.stats.bytesOut,
      ageMs: now - x.openedAt,
    }));
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
      streams,
      reconnects: this.history.reconnects,
      ...rttFields(this.sessionHistory),
      ...this.flows?.sessionStatus(),
      datagramPath: this.udp ? this.udp.status(s) : tcpLaneOnly(),
    };
    return {
      address: this.address,
      state: s ? s.state : 'connecting',
      session,
      ...(this.lastError ? { lastError: this.lastError } : {}),
      reconnects: this.history.reconnects,
      linkFailures: { ...this.linkFailures },
    };
  }

  /** Resets one visitor stream (an operator closed it): the relay resets the visitor's socket. */
  closeStream(streamId: number): boolean {
    const x = this.streams.get(streamId);
    if (!x) return false;
    this.log.info({ mapping: x.mapping, stream: streamId, visitor: x.visitor }, 'stream closed by admin');
    x.stream.reset('XNAT_ERR_ADMIN_CLOSED');
    return true;
  }

  /** The session id shown in status, if one exists. */
  get sessionId(): string | undefined {
    return this.session?.id.toString('hex');
  }

  mappingStatus(): MappingStatus[] {
    return this.mappings.status((m) => ({
      ...(m.remotePort > 0
        ? { publicAddress: formatHostPort({ host: this.relay.address.host, port: m.remotePort }) }
        : {}),
      ...(m.profile.protocol === 'udp' ? udpMappingStatus(this.flows, m.profile.name) : {}),
      traffic: this.trafficOf(m),
    }));
  }

  /** A reloaded mapping list (see MappingRegistrar.apply); live connections of unchanged mappings go on. */
  applyMappings(next: readonly MappingProfile[]): void {
    this.mappings.apply(next);
  }

  /** Closed streams' bytes plus the open ones' so far (tcp); every datagram's (udp, counted as it passes). */
  private trafficOf(m: MappingState): MappingStatus['traffic'] {
    const t = m.traffic;
    if (m.profile.protocol === 'udp') return { ...t };
    let up = t.bytesUp;
    let down = t.bytesDown;
    for (const x of this.streams.values()) {
      if (x.mapping !== m.profile.name) continue;
      up += x.stream.stats.bytesIn;
      down += x.stream.stats.bytesOut;
    }
    return { bytesUp: up, bytesDown: down };
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
      clock: this.clock,
      logger: log,
    });
    const flows = new AgentFlows(mux, this.clock, log, {
      maxFlows: this.profile.tuning.maxFlows,
      closeRemote: (flowId) => {
        if (session.state !== 'closed') sendOneWay(endpoint, flowClose, { flowId });
      },
      traffic: (name) => this.mappings.get(name)?.traffic,
    });
    this.flows = flows;
    const registry = createRegistry();
    handleOneWay(registry, flowOpen, (req) => {
      const m = this.mappings.get(req.mapping)?.profile;
      if (m?.protocol !== 'udp') {
        log.warn({ mapping: req.mapping, code: 'XNAT_ERR_MAPPING_UNKNOWN' }, 'flow refused');
        flows.refuse(req.flowId);
        return;
      }
      flows.open(req.flowId, m, `${req.visitor.address}:${req.visitor.port}`);
    });
    handleOneWay(registry, flowClose, (req) => flows.close(req.flowId));
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
    const onAttached = (link?: RttSource) => {
      this.attachments++;
      this.lastError = undefined;
      this.history.attached();
      sessionHistory.attached();
      link?.on?.('rtt', (srtt: number, sample?: number) => {
        this.history.rtt(sample ?? srtt);
        sessionHistory.rtt(sample ?? srtt);
      });
      if (this.attachments > 1) log.info({ resumes: this.attachments - 1 }, 'session resumed');
    };
    if (session.state === 'attached') onAttached(session.link);
    session.on('attached', onAttached);
    session.on('detached', (err?: XnatError) => {
      this.history.detached(err?.code);
      sessionHistory.detached(err?.code);
      // Info: the outage's one warning is 'link restored', with its duration, when it ends.
      log.info({ code: err?.code }, 'session detached');
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
    const live: LiveStream = {
      stream,
      mapping: m.profile.name,
      visitor: formatVisitor(meta.visitor),
      openedAt: Date.now(),
    };
    this.streams.set(stream.id, live);
    const ended = (up: number, down: number) => {
      if (this.streams.get(stream.id) === live) this.streams.delete(stream.id);
      m.traffic.bytesUp += up;
      m.traffic.bytesDown += down;
    };
    // Fields on the lines written, not a child logger per stream (streams are many and mostly silent).
    const fields = { mapping: m.profile.name, stream: stream.id };
    m.activeStreams++;
    m.totalStreams++;
    // A visitor may reset before the LAN dial completes: give the dial up then, and never join a LAN
    // socket to a dead stream (the pipe resets such a socket at once).
    const dial = new AbortController();
    const giveUp = () => dial.abort();
    stream.once('close', giveUp);
    dialTarget(m.profile.local.host, m.profile.local.port, { clock: this.clock, signal: dial.signal }).then(
      (socket) => {
        stream.off('close', giveUp);
        void joinSocketToStream(socket, stream, log).then((r) => {
          m.activeStreams--;
          // The pipe counts from the LAN socket's view: what it wrote went up, what it read goes down.
          ended(r.bytesToSocket, r.bytesFromSocket);
          if (!r.clean) log.info({ ...fields, code: r.code }, 'stream reset');
        });
      },
      (err: unknown) => {
        stream.off('close', giveUp);
        m.activeStreams--;
        ended(0, 0);
        const e = toXnatError(err);
        if (e.code === 'XNAT_ERR_ABORTED')
          return log.debug({ ...fields }, 'visitor gone before the target answered');
        log.warn({ ...fields, code: e.code, detail: e.detail }, 'target failed');
        stream.reset(e.code);
      },
    );
  }
}
