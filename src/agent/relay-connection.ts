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
  pushBounded,
  type ReconnectEvent,
  type SessionStatus,
  type MappingStatus,
} from '../observe/status.ts';
import { toXnatError, type ErrorCode, type XnatError } from '../errors.ts';
import type { Clock, TimerHandle } from '../util/clock.ts';
import { Backoff } from '../util/backoff.ts';
import { AgentFlows, udpMappingStatus } from './udp-flows.ts';
import { VERSION } from '../util/version.ts';

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
  /** The UDP path to this relay (one socket, one path per link); absent with tuning.udpPath off. */
  private readonly udp: AgentUdpPaths | undefined;
  private lastError: { code: string; message: string } | undefined;
  private retryTimer: TimerHandle | undefined;
  private readonly retryBackoff = new Backoff(MAPPING_RETRY);
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
    if (tuning.udpPath !== 'off') {
      this.udp = new AgentUdpPaths(relay.address, {
        clock,
        logger: this.log,
        keepaliveMs: tuning.udpPathKeepaliveMs,
      });
    }
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
    this.udp?.close();
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
      datagramPath: this.udp ? this.udp.status(s) : tcpLaneOnly(),
    };
    return {
      address: this.address,
      state: s ? s.state : 'connecting',
      session,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  mappingStatus(): MappingStatus[] {
    return [...this.mappings.values()].map((m) => ({
      name: m.profile.name,
      protocol: m.profile.protocol,
      remotePort: m.remotePort,
      local: formatHostPort(m.profile.local),
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
    const flows = new AgentFlows(mux, this.clock, log, {
      maxFlows: this.profile.tuning.maxFlows,
      closeRemote: (flowId) => {
        if (session.state !== 'closed') sendOneWay(endpoint, flowClose, { flowId });
      },
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
    const onAttached = () => {
      this.attachments++;
      this.lastError = undefined;
      pushBounded(this.reconnects, { at: Date.now(), event: 'attached' });
      if (this.attachments > 1) log.info({ resumes: this.attachments - 1 }, 'session resumed');
    };
    if (session.state === 'attached') onAttached();
    session.on('attached', onAttached);
    session.on('detached', (err?: XnatError) => {
      pushBounded(this.reconnects, { at: Date.now(), event: 'detached', code: err?.code });
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
        for (const m of this.mappings.values()) m.phase = 'pending';
      }
      if (err?.code === 'XNAT_ERR_SESSION_EXPIRED') log.warn({ code: err.code }, 'session expired');
      else log.info({ code: err?.code }, 'session closed');
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
              local: formatHostPort(m.profile.local),
            },
            'mapping ready',
          );
        } else {
          m.phase = 'failed';
          m.error = r.error;
          log.warn({ mapping: r.name, code: r.error?.code, detail: r.error?.message }, 'mapping failed');
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
    try {
      const meta = decodeOpenMeta(metaBytes);
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
          if (!r.clean) log.info({ ...fields, code: r.code }, 'stream reset');
        });
      },
      (err: unknown) => {
        stream.off('close', giveUp);
        m.activeStreams--;
        const e = toXnatError(err);
        if (e.code === 'XNAT_ERR_ABORTED')
          return log.debug({ ...fields }, 'visitor gone before the target answered');
        log.warn({ ...fields, code: e.code, detail: e.detail }, 'target failed');
        stream.reset(e.code);
      },
    );
  }
}
