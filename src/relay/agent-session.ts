// One agent's session as the relay sees it: its mux, command endpoint, claimed mappings, lifecycle and status.
// Its visitors live in visitor-streams.ts (TCP) and session-flows.ts (UDP); the Relay hands it a Session.
import type { Socket } from 'node:net';
import type { Session } from '../session/index.ts';
import { Mux } from '../mux/mux.ts';
import { CommandEndpoint } from '../command/endpoint.ts';
import { muxCommandChannel } from '../command/channel.ts';
import type { AgentEntry, Tuning } from '../config/index.ts';
import type { Logger } from '../observe/log.ts';
import { commandCountersStatus, type MappingStatus, type SessionStatus } from '../observe/status.ts';
import { LinkHistory, rttFields, takeRttSamples, type RttSource } from '../observe/link-history.ts';
import { mappingEntryStatus } from './mapping-status.ts';
import { mappingRevoked, sendOneWay } from '../protocol/index.ts';
import { XnatError, type ErrorCode } from '../errors.ts';
import { isAllowed } from '../util/ports.ts';
import type { UdpPathTable } from '../link/udp-path-table.ts';
import type { UdpSocket } from '../transport/udp.ts';
import type { Clock } from '../util/clock.ts';
import { keyFingerprint } from '../crypto/keys.ts';
import type { ClaimRequest, MappingEntry, MappingServer, MappingTable } from './mapping-table.ts';
import type { RelayFlow, UdpEntry } from './udp-router.ts';
import { buildRelayRegistry } from './commands.ts';
import { ClaimOptions } from './claim-options.ts';
import { VisitorStreams, type VisitorRefusals } from './visitor-streams.ts';
import { SessionFlows } from './session-flows.ts';
import { UdpPathOffers } from './udp-path-offer.ts';
import type { CommandDef } from '../command/registry.ts';
import type { EventSink } from '../observe/events.ts';

// Moved with their code; exported here as before.
export { NEW_FLOW_LANE_MS } from './session-flows.ts';
export { DEFAULT_TCP_IDLE_MS, type VisitorRefusals } from './visitor-streams.ts';

export interface AgentSessionDeps {
  readonly table: MappingTable;
  readonly tuning: Tuning;
  readonly resumeWindowMs: number;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Lifecycle events for an embedder (src/api/). */
  readonly onEvent: EventSink;
  /** An embedder's commands, looked up by name after xnat's own. */
  readonly appCommands?: (name: string) => CommandDef | undefined;
  /** The relay's UDP path socket and table; absent when the UDP path is off or unavailable. */
  readonly udpPaths?: { readonly table: UdpPathTable; readonly socket: UdpSocket };
}

export class AgentSession implements MappingServer {
  readonly mux: Mux;
  readonly endpoint: CommandEndpoint;
  readonly agentName: string;
  readonly since = Date.now();
  readonly log: Logger;
  /** Weight, compression and health of each claimed mapping. */
  private readonly options = new ClaimOptions();
  /** The visitors of this session's TCP mappings, one stream each. */
  private readonly visitors: VisitorStreams;
  /** The visitors of this session's UDP mappings, one flow each. */
  private readonly flows: SessionFlows;
  private readonly udpPaths: UdpPathOffers;
  private readonly history = new LinkHistory();
  private readonly claimed = new Set<MappingEntry>();
  private attachments = 0;

  constructor(
    readonly session: Session,
    /** The agent's profile entry; replaced on config.reload (a new allow list applies to new claims). */
    public agent: AgentEntry,
    private readonly deps: AgentSessionDeps,
  ) {
    this.agentName = agent.name;
    this.log = deps.logger.child({ agent: agent.name, session: session.id.toString('hex').slice(0, 12) });
    this.mux = new Mux(session, {
      role: 'relay',
      initialWindow: deps.tuning.streamWindowBytes,
      windowBudget: deps.tuning.sessionWindowBytes,
      maxStreams: deps.tuning.maxStreams,
      // The TCP pipe reads and writes streams directly; a service gets its own Duplex (services.ts).
      duplexStreams: false,
      clock: deps.clock,
      logger: this.log,
    });
    this.endpoint = new CommandEndpoint(muxCommandChannel(this.mux), {
      registry: buildRelayRegistry(this, deps.appCommands),
      peer: this,
      clock: deps.clock,
      logger: this.log,
    });
    const { clock, onEvent } = deps;
    this.visitors = new VisitorStreams({
      mux: this.mux,
      tuning: deps.tuning,
      log: this.log,
      clock,
      onEvent,
      options: this.options,
      bandwidth: () => this.agent.bandwidth,
    });
    this.flows = new SessionFlows({
      session,
      mux: this.mux,
      endpoint: this.endpoint,
      udpRouter: deps.table.udpRouter,
      log: this.log,
      clock,
      onEvent,
    });
    this.udpPaths = new UdpPathOffers({
      session,
      endpoint: this.endpoint,
      udpPaths: deps.udpPaths,
      log: this.log,
      clock,
    });
    this.attachments = session.state === 'attached' ? 1 : 0;
    if (this.attachments === 1) this.watchLink(session.link);
    if (this.attachments === 1) this.udpPaths.offer();
    this.log.info({ agentKey: keyFingerprint(session.agentKey) }, 'session established');
    const peer = { agent: agent.name, session: session.id.toString('hex') };
    if (this.attachments === 1) deps.onEvent('session.attached', { ...peer, resumes: 0 });
    session.on('attached', (link?: RttSource) => {
      this.attachments++;
      this.watchLink(link);
      const resumes = Math.max(0, this.attachments - 1);
      deps.onEvent('session.attached', { ...peer, resumes });
      if (this.attachments > 1) {
        this.log.info({ resumes }, 'session resumed');
        deps.onEvent('session.resumed', { ...peer, resumes });
      }
      this.udpPaths.offer();
    });
    session.on('detached', (err?: { code?: string }) => {
      this.history.detached(err?.code);
      this.log.warn({ code: err?.code, resumeWindowMs: deps.resumeWindowMs }, 'session detached');
      deps.onEvent('session.detached', {
        ...peer,
        resumes: Math.max(0, this.attachments - 1),
        code: err?.code,
      });
    });
    session.on('closed', (err?: { code?: string }) => void this.onClosed(err?.code));
  }

  /** A link joined: record it and take its RTT samples. */
  private watchLink(link: RttSource | undefined): void {
    this.history.attached();
    takeRttSamples(link, this.history);
  }

  /** Visitors this session turned away, by cause. */
  get refused(): VisitorRefusals {
    return this.visitors.refused;
  }

  get activeStreams(): number {
    return this.visitors.size;
  }

  get activeFlows(): number {
    return this.flows.size;
  }

  get attached(): boolean {
    return this.session.state === 'attached';
  }

  get resumeWindowMs(): number {
    return this.deps.resumeWindowMs;
  }

  get sessionLoad(): number {
    return this.visitors.size + this.flows.size;
  }

  loadOf(mapping: string): number {
    return this.visitors.countOf(mapping) + this.flows.countOf(mapping);
  }

  weightOf(mapping: string): number {
    return this.options.weightOf(mapping);
  }

  healthyOf(mapping: string, now: number): boolean {
    return this.options.healthyOf(mapping, now);
  }

  backoffLeftOf(mapping: string, now: number): number {
    return this.options.backoffLeftOf(mapping, now);
  }

  /** mapping.health from the agent: its LAN target refused (for retryAfterMs) or answers again. */
  setHealth(mapping: string, healthy: boolean, retryAfterMs: number): void {
    if (!this.options.has(mapping)) return;
    this.options.setHealth(mapping, healthy, retryAfterMs, this.deps.clock.now());
    if (healthy) this.log.info({ mapping }, 'mapping healthy');
    else this.log.warn({ mapping, retryAfterMs }, 'mapping unhealthy');
  }

  /** Claims a public port for one mapping, within this agent's allow list. */
  async claim(req: ClaimRequest): Promise<MappingEntry> {
    const entry = await this.deps.table.claim(this, req, this.agent.allow);
    this.claimed.add(entry);
    this.options.set(entry.name, entry.protocol, req);
    if (entry.protocol === 'tcp') this.visitors.claimed(entry.name, req.idleTimeoutMs);
    this.deps.onEvent('mapping.ready', {
      agent: this.agentName,
      mapping: entry.name,
      protocol: entry.protocol,
      remotePort: entry.port,
    });
    return entry;
  }

  /**
   * Stops serving the mappings named `names` (mapping.unregister, or a revoked port): this session's
   * visitor streams of them are reset with `code`, its flows forgotten, and a port no other agent serves
   * closes. Returns the names it served.
   */
  async unclaim(names: readonly string[], code: ErrorCode): Promise<string[]> {
    const wanted = new Set(names);
    const gone = [...this.claimed].filter((e) => wanted.has(e.name));
    for (const entry of gone) {
      this.claimed.delete(entry);
      if (entry.protocol === 'tcp') this.visitors.released(entry.name);
      this.visitors.resetMapping(entry.name, code);
      this.flows.closeMapping(entry.flowState);
    }
    await Promise.all(gone.map((e) => this.deps.table.releaseEntry(this, e)));
    return [...new Set(gone.map((e) => e.name))];
  }

  /**
   * A new allow list (relay reload): ports it no longer covers are released as unclaim() does, and the
   * agent is told (mapping.revoked) so it marks them failed and retries. Returns the names revoked.
   */
  async applyAllow(agent: AgentEntry): Promise<string[]> {
    this.agent = agent;
    const revoked = [...this.claimed].filter((e) => !isAllowed(agent.allow, e.protocol, e.port));
    const names = await this.unclaim(
      revoked.map((e) => e.name),
      'XNAT_ERR_MAPPING_NOT_ALLOWED',
    );
    for (const e of revoked) {
      const error = new XnatError('XNAT_ERR_MAPPING_NOT_ALLOWED', { detail: `${e.port}/${e.protocol}` });
      this.log.warn({ mapping: e.name, port: e.port, code: error.code }, 'mapping revoked');
      if (this.session.state === 'closed') continue;
      try {
        sendOneWay(this.endpoint, mappingRevoked, { name: e.name, error: error.toJSON() });
      } catch {
        // The session is ending: the agent registers afresh on its next session anyway.
      }
    }
    return names;
  }

  /** The mappings this session serves, as status objects (the same figures as the relay's status). */
  mappingStatus(): MappingStatus[] {
    return [...this.claimed].map((e) => ({
      ...mappingEntryStatus(e, this.deps.table.publicHost),
      servers: this.deps.table.serverStatus(e),
    }));
  }

  liveStreams(mapping: string): { streams: number; bytesUp: number; bytesDown: number } {
    return this.visitors.live(mapping);
  }

  /** Resets one visitor stream (an operator closed it): the visitor sees a reset. */
  resetStream(streamId: number): boolean {
    return this.visitors.reset(streamId);
  }

  /** A visitor arrived on one of our public ports: open a stream and join the socket to it. */
  acceptVisitor(entry: MappingEntry, socket: Socket): void {
    this.visitors.accept(entry, socket);
  }

  openFlow(mapping: UdpEntry, key: string, address: string, port: number): RelayFlow | undefined {
    return this.flows.open(this, mapping, key, address, port);
  }

  sendFlow(flow: RelayFlow, data: Buffer): void {
    this.flows.send(flow, data);
  }

  closeFlow(flowId: number): void {
    this.flows.close(flowId);
  }

  /** The agent dropped a flow (its idle timer or its cap): forget it here, without telling it back. */
  dropFlow(flowId: number): void {
    this.flows.drop(flowId);
  }

  status(): SessionStatus {
    const streams = this.visitors.status();
    const st = this.session.stats;
    return {
      id: this.session.id.toString('hex'),
      agent: this.agent.name,
      agentKey: keyFingerprint(this.session.agentKey),
      state: this.session.state,
      since: this.since,
      rttMs: st.rttMs,
      links: st.links,
      resumes: st.resumes,
      bytesSent: st.bytesSent,
      bytesReceived: st.bytesReceived,
      replayBytes: st.replayBytes,
      streams,
      reconnects: this.history.reconnects,
      ...rttFields(this.history),
      ...this.flows.status(),
      visitorsRefused: { ...this.visitors.refused },
      repliesDropped: this.mux.stats.repliesDropped + this.endpoint.snapshot().refusalsDropped,
      commands: commandCountersStatus(this.endpoint.snapshot().commands),
      datagramPath: this.udpPaths.status(),
    };
  }

  /** Kicks the session: streams reset, listeners released; the agent will start a new session. */
  kick(): void {
    this.session.destroy();
  }

  private async onClosed(code: string | undefined): Promise<void> {
    const reason = (code ?? 'XNAT_ERR_SESSION_CLOSED') as Parameters<Mux['resetAll']>[0];
    this.mux.resetAll(reason);
    this.visitors.close();
    this.flows.closeAll();
    this.endpoint.close();
    this.deps.onEvent('session.closed', {
      agent: this.agentName,
      session: this.session.id.toString('hex'),
      resumes: Math.max(0, this.attachments - 1),
      code,
    });
    if (code === 'XNAT_ERR_SESSION_EXPIRED') this.log.warn({ code }, 'session expired');
    else this.log.info({ code }, 'session closed');
    await this.deps.table.release(this);
  }
}
