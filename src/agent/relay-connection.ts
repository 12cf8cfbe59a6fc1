// The agent's tie to one relay: the redial loop, the session's mux and commands, mapping registration,
// and the LAN side of every stream. It knows nothing of the CLI or of other relays.
import type { Session } from '../session/index.ts';
import { SessionClient, type OutageSummary } from '../session/index.ts';
import { connectLink } from '../link/link.ts';
import { SuiteProposal } from '../link/suites.ts';
import { publicKeyFromPrivate, keyFingerprint } from '../crypto/keys.ts';
import { dialTcp } from '../transport/tcp.ts';
import { Mux, type MuxStream } from '../mux/mux.ts';
import { CommandEndpoint } from '../command/endpoint.ts';
import { createRegistry } from '../command/registry.ts';
import { muxCommandChannel } from '../command/channel.ts';
import {
  callRequest,
  decodeOpenMeta,
  flowClose,
  flowOpen,
  handleOneWay,
  hello,
  relayShutdown,
  mappingRegister,
  PROTOCOL_VERSION,
  sendOneWay,
} from '../protocol/index.ts';
import { dialTarget } from '../forward/tcp-target.ts';
import { joinSocketToStream } from '../forward/tcp-pipe.ts';
import type { AgentProfile, RelayEntry, MappingProfile, UdpMapping } from '../config/index.ts';
import { formatHostPort } from '../config/index.ts';
import type { Logger } from '../observe/log.ts';
import {
  pushBounded,
  commandCountersStatus,
  type ReconnectEvent,
  type SessionStatus,
  type MappingStatus,
} from '../observe/status.ts';
import { toXnatError, type ErrorCode, type XnatError } from '../errors.ts';
import type { Clock, TimerHandle } from '../util/clock.ts';
import { Backoff } from '../util/backoff.ts';
import { AgentFlows, udpMappingStatus } from './udp-flows.ts';
import { VERSION } from '../util/version.ts';
import type { CommandDef } from '../command/registry.ts';
import { noEvents, type EventSink } from '../observe/events.ts';
import type { OpenMeta } from '../protocol/open-meta.ts';
import type { UdpTarget } from '../forward/udp-target.ts';
import { emptyTargetStats, noteDial, registerAgentQueries, type TargetStats } from './agent-queries.ts';

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
}

/** What a mapping forwards to, for status and logs: `host:port`, or `inproc:NAME` for a handler mapping. */
export function mappingTarget(m: MappingProfile): string {
  return m.handler !== undefined ? `inproc:${m.handler}` : m.local ? formatHostPort(m.local) : '';
}

/** Registration of failed mappings is retried with this backoff (the relay profile may be fixed meanwhile). */
const MAPPING_RETRY = { initialMs: 2_000, maxMs: 60_000 } as const;

interface MappingState {
  readonly profile: MappingProfile;
  phase: MappingStatus['phase'];
  remotePort: number;
  error: { code: string; message: string } | undefined;
  activeStreams: number;
  totalStreams: number;
}

export class RelayConnection {
  readonly address: string;
  private readonly log: Logger;
  private readonly client: SessionClient;
  private readonly mappings = new Map<string, MappingState>();
  private readonly reconnects: ReconnectEvent[] = [];
  private session: Session | undefined;
  private mux: Mux | undefined;
  private endpoint: CommandEndpoint | undefined;
  private flows: AgentFlows | undefined;
  private lastError: { code: string; message: string } | undefined;
  private retryTimer: TimerHandle | undefined;
  private readonly retryBackoff = new Backoff(MAPPING_RETRY);
  private sessionSince = 0;
  private attachments = 0;
  private closed = false;
  private readonly emit: EventSink;
  /** Per mapping name: how its LAN target answered dials (stats.query). */
  private readonly targets = new Map<string, TargetStats>();

  constructor(
    private readonly profile: AgentProfile,
    private readonly relay: RelayEntry,
    logger: Logger,
    private readonly clock: Clock,
    private readonly hooks: AgentHooks = {},
  ) {
    this.emit = hooks.onEvent ?? noEvents;
    this.address = formatHostPort(relay.address);
    this.log = logger.child({ relay: this.address });
    for (const m of profile.mappings) {
      this.mappings.set(m.name, {
        profile: m,
        phase: 'pending',
        remotePort: 0,
        error: undefined,
        activeStreams: 0,
        totalStreams: 0,
      });
    }
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
      agentKey: staticKeys.publicKey,
      replayBufferBytes: tuning.replayBufferBytes,
      clock,
      logger: this.log,
    });
    this.client.on('session', (s: Session) => this.onSession(s));
    this.client.on('link-error', (err: unknown) => {
      const e = toXnatError(err);
      this.lastError = { code: e.code, message: e.message };
      // During an outage of a session, transient failures are the outage itself: one 'link restored'
      // line sums them up at its end (status keeps lastError). Before the first session, and for
      // failures a retry will not fix (auth, suites), every one is a warning.
      const quiet = this.client.inOutage && e.retryable;
      this.log[quiet ? 'debug' : 'warn']({ code: e.code, detail: e.detail, hint: e.hint }, 'link failed');
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
    this.retryTimer?.cancel();
    this.session?.close();
    this.client.close();
  }

  status(): {
    address: string;
    state: SessionStatus['state'];
    session: SessionStatus | undefined;
    lastError?: { code: string; message: string };
  } {
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
      streams: [],
      reconnects: [...this.reconnects],
      ...this.flows?.sessionStatus(),
      ...(this.endpoint ? { commands: commandCountersStatus(this.endpoint.snapshot().commands) } : {}),
    };
    return {
      address: this.address,
      state: s ? s.state : 'connecting',
      session,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** The current session's command endpoint (for an embedder's commands); undefined between sessions. */
  get commandEndpoint(): CommandEndpoint | undefined {
    return this.endpoint;
  }

  mappingStatus(): MappingStatus[] {
    return [...this.mappings.values()].map((m) => ({
      name: m.profile.name,
      protocol: m.profile.protocol,
      remotePort: m.remotePort,
      local: mappingTarget(m.profile),
      phase: m.phase,
      ...(m.error ? { error: m.error } : {}),
      activeStreams: m.activeStreams,
      totalStreams: m.totalStreams,
      ...(m.profile.protocol === 'udp' ? udpMappingStatus(this.flows, m.profile.name) : {}),
    }));
  }

  private onSession(session: Session): void {
    this.session = session;
    this.sessionSince = Date.now();
    this.attachments = 0;
    this.retryBackoff.reset();
    const log = this.log.child({ session: session.id.toString('hex').slice(0, 12) });
    const mux = new Mux(session, {
      role: 'agent',
      initialWindow: this.profile.tuning.streamWindowBytes,
      maxStreams: this.profile.tuning.maxStreams,
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
      flows.open(req.flowId, m, `${req.visitor.address}:${req.visitor.port}`);
    });
    handleOneWay(registry, flowClose, (req) => flows.close(req.flowId));
    registerAgentQueries(registry, {
      sessionStats: () => session.stats,
      mappings: () => this.mappingStatus(),
      targets: () => this.targets,
      commands: () => this.endpoint?.snapshot(),
    });
    handleOneWay(registry, relayShutdown, (req) => {
      log.warn({ reason: req.reason }, 'relay shutting down');
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
    const onAttached = () => {
      this.attachments++;
      this.lastError = undefined;
      pushBounded(this.reconnects, { at: Date.now(), event: 'attached' });
      this.emit('session.attached', { ...peer, resumes: resumes() });
      if (this.attachments > 1) {
        log.info({ resumes: resumes() }, 'session resumed');
        this.emit('session.resumed', { ...peer, resumes: resumes() });
      }
    };
    if (session.state === 'attached') onAttached();
    session.on('attached', onAttached);
    session.on('detached', (err?: XnatError) => {
      pushBounded(this.reconnects, { at: Date.now(), event: 'detached', code: err?.code });
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
        for (const m of this.mappings.values()) m.phase = 'pending';
      }
      if (err?.code === 'XNAT_ERR_SESSION_EXPIRED') log.warn({ code: err.code }, 'session expired');
      else log.info({ code: err?.code }, 'session closed');
      this.emit('session.closed', { ...peer, resumes: resumes(), code: err?.code });
    });
    mux.on('stream', (stream: MuxStream, meta: Buffer) => this.onStream(stream, meta, log));
    void this.register(session, endpoint, log);
  }

  /** hello, then mapping.register for every mapping not yet ready; failures are retried later. */
  private async register(session: Session, endpoint: CommandEndpoint, log: Logger): Promise<void> {
    const todo = [...this.mappings.values()].filter((m) => m.phase !== 'ready');
    try {
      await callRequest(endpoint, hello, {
        protocolVersion: PROTOCOL_VERSION,
        agentName: this.profile.agent.name,
        software: `xnat/${VERSION}`,
      });
      for (const m of todo) m.phase = 'registering';
      const reply = await callRequest(endpoint, mappingRegister, {
        mappings: todo.map((m) => ({
          name: m.profile.name,
          protocol: m.profile.protocol,
          remotePort: m.profile.remotePort,
          idleTimeoutMs: m.profile.idleTimeoutMs,
        })),
      });
      for (const r of reply.results) {
        const m = this.mappings.get(r.name);
        if (!m) continue;
        if (r.ok) {
          m.phase = 'ready';
          m.remotePort = r.remotePort ?? 0;
          m.error = undefined;
          log.info(
            {
              mapping: r.name,
              protocol: m.profile.protocol,
              remotePort: m.remotePort,
              local: mappingTarget(m.profile),
            },
            'mapping ready',
          );
          this.emit('mapping.ready', {
            agent: this.profile.agent.name,
            relay: this.address,
            mapping: r.name,
            protocol: m.profile.protocol,
            remotePort: m.remotePort,
          });
        } else {
          m.phase = 'failed';
          m.error = r.error;
          log.warn({ mapping: r.name, code: r.error?.code, detail: r.error?.message }, 'mapping failed');
          this.emit('mapping.failed', {
            agent: this.profile.agent.name,
            relay: this.address,
            mapping: r.name,
            protocol: m.profile.protocol,
            remotePort: 0,
            code: r.error?.code ?? 'XNAT_ERR_INTERNAL',
          });
        }
      }
    } catch (err) {
      const e = toXnatError(err);
      for (const m of todo) if (m.phase === 'registering') m.phase = 'pending';
      if (this.session !== session || this.closed) return;
      log.warn({ code: e.code }, 'registration failed');
    }
    if (this.session !== session || this.closed) return;
    if ([...this.mappings.values()].some((m) => m.phase !== 'ready')) {
      this.retryTimer?.cancel();
      this.retryTimer = this.clock.setTimeout(() => {
        if (this.session === session && session.state !== 'closed')
          void this.register(session, endpoint, log);
      }, this.retryBackoff.next());
    }
  }

  /** A visitor's stream: dial the LAN target and join; a target that fails resets the stream (and visitor). */
  private onStream(stream: MuxStream, metaBytes: Buffer, log: Logger): void {
    let mapping: MappingState | undefined;
    let meta: OpenMeta;
    try {
      meta = decodeOpenMeta(metaBytes);
      mapping = this.mappings.get(meta.mapping);
    } catch (err) {
      stream.reset(toXnatError(err).code);
      return;
    }
    if (!mapping) {
      stream.reset('XNAT_ERR_MAPPING_UNKNOWN');
      return;
    }
    const m = mapping;
    // Fields on the lines written, not a child logger per stream (streams are many and mostly silent).
    const fields = { mapping: m.profile.name, stream: stream.id };
    const visitor = `${meta.visitor.address}:${meta.visitor.port}`;
    const { local, handler } = m.profile;
    if (handler !== undefined || !local) {
      if (handler === undefined || !this.hooks.services?.stream(handler, stream, meta)) {
        log.warn({ ...fields, handler, code: 'XNAT_ERR_MAPPING_NO_HANDLER' }, 'target failed');
        return stream.reset('XNAT_ERR_MAPPING_NO_HANDLER');
      }
      m.activeStreams++;
      m.totalStreams++;
      this.emit('stream.opened', { mapping: m.profile.name, stream: stream.id, visitor });
      stream.once('close', () => {
        m.activeStreams--;
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
    const dial = new AbortController();
    const giveUp = () => dial.abort();
    stream.once('close', giveUp);
    let target = this.targets.get(m.profile.name);
    if (!target) this.targets.set(m.profile.name, (target = emptyTargetStats()));
    const t = target;
    const dialStart = this.clock.now();
    dialTarget(local.host, local.port, { clock: this.clock, signal: dial.signal }).then(
      (socket) => {
        stream.off('close', giveUp);
        noteDial(t, this.clock.now() - dialStart, true);
        void joinSocketToStream(socket, stream, log).then((r) => {
          m.activeStreams--;
          this.emit('stream.closed', { ...fields, visitor, clean: r.clean, code: r.code });
          if (!r.clean) log.info({ ...fields, code: r.code }, 'stream reset');
        });
      },
      (err: unknown) => {
        stream.off('close', giveUp);
        m.activeStreams--;
        const e = toXnatError(err);
        this.emit('stream.closed', { ...fields, visitor, clean: false, code: e.code });
        if (e.code !== 'XNAT_ERR_ABORTED') noteDial(t, this.clock.now() - dialStart, false);
        if (e.code === 'XNAT_ERR_ABORTED')
          return log.debug({ ...fields }, 'visitor gone before the target answered');
        log.warn({ ...fields, code: e.code, detail: e.detail }, 'target failed');
        stream.reset(e.code);
      },
    );
  }
}
