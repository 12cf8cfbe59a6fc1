// One agent's session as the relay sees it: its mux, its command endpoint, its mappings and visitors.
// It knows nothing of how links are accepted; the Relay hands it a Session and tears it down on close.
import type { Socket } from 'node:net';
import type { Session } from '../session/index.ts';
import { Mux, type MuxStream } from '../mux/mux.ts';
import { CommandEndpoint } from '../command/endpoint.ts';
import { muxCommandChannel } from '../command/channel.ts';
import type { AgentEntry, Tuning } from '../config/index.ts';
import type { Logger } from '../observe/log.ts';
import {
  commandCountersStatus,
  type MappingStatus,
  type SessionStatus,
  type StreamStatus,
} from '../observe/status.ts';
import { LinkHistory, rttFields, takeRttSamples, type RttSource } from '../observe/link-history.ts';
import { mappingEntryStatus } from './mapping-status.ts';
import { joinSocketToStream } from '../forward/tcp-pipe.ts';
import {
  encodeOpenMeta,
  flowClose,
  flowOpen,
  mappingRevoked,
  sendOneWay,
  udpOffer,
} from '../protocol/index.ts';
import { XnatError, type ErrorCode } from '../errors.ts';
import { isAllowed } from '../util/ports.ts';
import { UdpPath } from '../link/udp-path.ts';
import { UdpPathHistory } from '../link/udp-path-history.ts';
import type { UdpPathTable } from '../link/udp-path-table.ts';
import type { UdpSocket } from '../transport/udp.ts';
import type { Clock } from '../util/clock.ts';
import { keyFingerprint } from '../crypto/keys.ts';
import type { ClaimRequest, MappingEntry, MappingServer, MappingTable } from './mapping-table.ts';
import { flowStatuses, type RelayFlow, type UdpEntry } from './udp-router.ts';
import { emptyDrops, type UdpDropCause } from '../forward/udp-drops.ts';
import { MAX_FRAME_PAYLOAD } from '../wire/frame.ts';
import { buildRelayRegistry } from './commands.ts';
import { admitStream } from './stream-shares.ts';
import { IdleStreams } from '../forward/idle-streams.ts';
import { CapLog } from '../observe/cap-log.ts';
import { BandwidthBuckets } from '../forward/bandwidth.ts';
import { deflateStream } from '../forward/compress.ts';
import { ClaimOptions } from './claim-options.ts';
import type { CommandDef } from '../command/registry.ts';
import type { EventSink } from '../observe/events.ts';

/** A visitor's stream as status needs it; byte counts are read from the stream's own stats (no listeners). */
interface LiveStream {
  readonly stream: MuxStream;
  readonly mapping: string;
  readonly visitor: string;
  readonly openedAt: number;
}

/**
 * A new UDP flow's datagrams take the TCP lane (behind its flow.open) for at most this long, in ms,
 * unless the agent answered on the flow before; then the UDP path, if up (docs/protocol.md, "Flows").
 */
export const NEW_FLOW_LANE_MS = 1000;

/** Idle timeout of a TCP visitor connection when the agent's mapping gives none, in ms (1 hour). */
export const DEFAULT_TCP_IDLE_MS = 60 * 60 * 1000;

/** Visitors this session turned away, by cause. */
export interface VisitorRefusals {
  /** The mapping held its share of the stream cap (see stream-shares.ts). */
  share: number;
  /** The mux refused the stream (cap, closed session). */
  streamLimit: number;
  /** Connections reset after their mapping's idle timeout. */
  idleTimeout: number;
}

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
  private readonly streams = new Map<number, LiveStream>();
  /** Open streams per TCP mapping name, for fair shares of the stream cap. */
  private readonly perMapping = new Map<string, number>();
  /** Idle timeout per TCP mapping name, from the agent's claim. */
  private readonly idleMs = new Map<string, number>();
  /** Weight, compression and health of each claimed mapping. */
  private readonly options = new ClaimOptions();
  /** Open flows per UDP mapping name (the pick's load of a udp mapping). */
  private readonly flowsPerMapping = new Map<string, number>();
  /** The agent's total bandwidth (agents[].bandwidth), shared by all its visitors' pipes. */
  private readonly bandwidth: BandwidthBuckets;
  private readonly idle: IdleStreams;
  private readonly refusedLog: CapLog;
  readonly refused: VisitorRefusals = { share: 0, streamLimit: 0, idleTimeout: 0 };
  private readonly history = new LinkHistory();
  private readonly claimed = new Set<MappingEntry>();
  private attachments = 0;
  /** UDP flows this session serves, by flow id (each mapping's table holds the same objects). */
  private readonly flows = new Map<number, RelayFlow>();
  private nextFlowId = 1;
  /** UDP drops this session saw, by cause (its mappings count theirs too). */
  private readonly flowDrops = emptyDrops();
  /** The UDP paths of this session's links, for status. */
  private readonly udpHistory = new UdpPathHistory();

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
    this.idle = new IdleStreams(deps.clock);
    this.bandwidth = new BandwidthBuckets(agent.bandwidth, deps.clock);
    this.refusedLog = new CapLog(this.log, deps.clock, 'visitors refused');
    this.attachments = session.state === 'attached' ? 1 : 0;
    if (this.attachments === 1) this.watchLink(session.link);
    if (this.attachments === 1) this.offerUdpPath();
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
      this.offerUdpPath();
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
    this.mux.on('datagram', (flowId: number, data: Buffer) => this.onDatagram(flowId, data));
  }

  /** A link joined: record it and take its RTT samples. */
  private watchLink(link: RttSource | undefined): void {
    this.history.attached();
    takeRttSamples(link, this.history);
  }

  get activeStreams(): number {
    return this.streams.size;
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
    return this.streams.size + this.flows.size;
  }

  loadOf(mapping: string): number {
    return (this.perMapping.get(mapping) ?? 0) + (this.flowsPerMapping.get(mapping) ?? 0);
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
    if (entry.protocol === 'tcp') this.idleMs.set(entry.name, req.idleTimeoutMs ?? DEFAULT_TCP_IDLE_MS);
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
      if (entry.protocol === 'tcp') this.idleMs.delete(entry.name);
      for (const s of this.streams.values()) if (s.mapping === entry.name) s.stream.reset(code);
      for (const [id, f] of this.flows) if (f.mapping === entry.flowState) this.closeFlow(id);
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
    const out = { streams: 0, bytesUp: 0, bytesDown: 0 };
    for (const s of this.streams.values()) {
      if (s.mapping !== mapping) continue;
      out.streams++;
      out.bytesUp += s.stream.stats.bytesOut;
      out.bytesDown += s.stream.stats.bytesIn;
    }
    return out;
  }

  /** Resets one visitor stream (an operator closed it): the visitor sees a reset. */
  resetStream(streamId: number): boolean {
    const s = this.streams.get(streamId);
    if (!s) return false;
    this.log.info({ mapping: s.mapping, stream: streamId, visitor: s.visitor }, 'stream closed by admin');
    s.stream.reset('XNAT_ERR_ADMIN_CLOSED');
    return true;
  }

  /** A visitor arrived on one of our public ports: open a stream and join the socket to it. */
  acceptVisitor(entry: MappingEntry, socket: Socket): void {
    const visitor = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    if (!admitStream(this.perMapping, this.idleMs.keys(), entry.name, this.deps.tuning.maxStreams)) {
      this.refused.share++;
      this.refusedLog.hit('XNAT_ERR_MAPPING_SHARE_FULL', { mapping: entry.name, visitor });
      socket.resetAndDestroy();
      return;
    }
    let stream;
    try {
      stream = this.mux.open(
        encodeOpenMeta({
          mapping: entry.name,
          protocol: 'tcp',
          visitor: { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
          local: { address: socket.localAddress ?? '', port: socket.localPort ?? 0 },
          ...(this.options.compresses(entry.name) ? { compress: 'deflate' as const } : {}),
        }),
        undefined,
        // The visitor's first bytes (most protocols speak first) ride in the open: one frame, and the
        // agent has them to write the moment its LAN connect is up.
        { holdForFirstBytes: true },
      );
    } catch (err) {
      this.refused.streamLimit++;
      this.refusedLog.hit((err as { code?: string }).code ?? 'XNAT_ERR_INTERNAL', {
        mapping: entry.name,
        visitor,
      });
      socket.resetAndDestroy();
      return;
    }
    const id = stream.id;
    this.streams.set(id, { stream, mapping: entry.name, visitor, openedAt: Date.now() });
    this.perMapping.set(entry.name, (this.perMapping.get(entry.name) ?? 0) + 1);
    this.idle.add(stream, this.idleMs.get(entry.name) ?? DEFAULT_TCP_IDLE_MS);
    // No child logger per visitor: at thousands of connections a second and of idle streams, the fields
    // go on the few lines that are written instead.
    const fields = { mapping: entry.name, stream: id, visitor };
    this.log.debug(fields, 'visitor connected');
    this.deps.onEvent('stream.opened', { mapping: entry.name, stream: id, visitor });
    const bw = this.bandwidth;
    bw.update(this.agent.bandwidth); // a reload replaces the entry: its limits apply from here
    const limits = {
      fromSocket: bw.up ? [bw.up] : [],
      toSocket: bw.down ? [bw.down] : [],
      clock: this.deps.clock,
    };
    const tunnel = this.options.compresses(entry.name) ? deflateStream(stream) : stream;
    void joinSocketToStream(socket, tunnel, this.log, limits).then((r) => {
      this.deps.onEvent('stream.closed', {
        mapping: entry.name,
        stream: id,
        visitor,
        clean: r.clean,
        code: r.code,
      });
      this.streams.delete(id);
      this.idle.delete(stream);
      const left = (this.perMapping.get(entry.name) ?? 1) - 1;
      if (left > 0) this.perMapping.set(entry.name, left);
      else this.perMapping.delete(entry.name);
      if (r.code === 'XNAT_ERR_FORWARD_IDLE_TIMEOUT') this.refused.idleTimeout++;
      entry.traffic.bytesUp += r.bytesFromSocket;
      entry.traffic.bytesDown += r.bytesToSocket;
      const done = { ...fields, up: r.bytesFromSocket, down: r.bytesToSocket };
      if (r.clean) this.log.debug(done, 'visitor closed');
      else this.log.info({ ...done, code: r.code }, 'visitor reset');
    });
  }

  /**
   * A UDP path for the link just attached, under a fresh receiver index, offered to the agent on the
   * command lane (bound to the link by its handshake hash, so a replay on a later link is ignored). The
   * session closes the path with its link; nothing goes over UDP before the agent's first probe.
   */
  private offerUdpPath(): void {
    const udp = this.deps.udpPaths;
    const link = this.session.link;
    if (!udp || !link?.udpKeys) return;
    const keys = link.udpKeys;
    const path = udp.table.add(
      (index) =>
        new UdpPath({
          role: 'relay',
          keys,
          localIndex: index,
          clock: this.deps.clock,
          logger: this.log,
          transmit: (bytes, to) => {
            if (to) udp.socket.send(bytes, to.port, to.address);
          },
          onDatagram: (flowId, data) => this.session.deliverDatagram(flowId, data),
          onClose: () => {
            udp.table.remove(path!.localIndex, path!);
            this.udpHistory.ended(path!);
          },
        }),
    );
    if (!path || !this.session.useDatagramPath(link, path)) return;
    this.udpHistory.use(path);
    try {
      sendOneWay(this.endpoint, udpOffer, {
        link: link.handshakeHash.subarray(0, 8).toString('hex'),
        index: path.localIndex,
      });
    } catch {
      // The command lane closed under us: the session is ending and closes the path.
    }
  }

  openFlow(mapping: UdpEntry, key: string, address: string, port: number): RelayFlow | undefined {
    if (this.session.state === 'closed') return undefined;
    const flowId = this.nextFlowId;
    this.nextFlowId = (this.nextFlowId % 0xffffffff) + 1;
    const now = this.deps.clock.now();
    const flow: RelayFlow = {
      server: this,
      flowId,
      mapping,
      key,
      address,
      port,
      openedAt: now,
      lastAt: now,
      packetsUp: 0,
      bytesUp: 0,
      packetsDown: 0,
      bytesDown: 0,
      drops: 0,
    };
    this.flows.set(flowId, flow);
    this.flowsPerMapping.set(mapping.name, (this.flowsPerMapping.get(mapping.name) ?? 0) + 1);
    // The open goes on the command lane, the datagrams on the best-effort one: they may arrive in either
    // order (the lane is behind the open, the UDP path may not be), and the agent holds datagrams of a
    // flow it does not know yet for a moment (docs/protocol.md).
    sendOneWay(this.endpoint, flowOpen, {
      flowId,
      mapping: mapping.name,
      visitor: { address, port },
      ...(mapping.local ? { public: mapping.local } : {}),
    });
    this.log.debug({ mapping: mapping.name, flowId, visitor: `${address}:${port}` }, 'flow opened');
    this.deps.onEvent('flow.opened', { mapping: mapping.name, flow: flowId, visitor: `${address}:${port}` });
    return flow;
  }

  sendFlow(flow: RelayFlow, data: Buffer): void {
    flow.lastAt = this.deps.clock.now();
    flow.packetsUp++;
    flow.bytesUp += data.length;
    flow.mapping.traffic.packetsUp++;
    flow.mapping.traffic.bytesUp += data.length;
    // A new flow's datagrams ride the link's lane, in order right behind its flow.open, until the agent
    // answered on it (it has the flow open) or NEW_FLOW_LANE_MS passed; then the UDP path may take them.
    // Over UDP they could beat the open and overflow the agent's small pending queue in a burst.
    const known = flow.packetsDown > 0 || flow.lastAt - flow.openedAt >= NEW_FLOW_LANE_MS;
    if (data.length > MAX_FRAME_PAYLOAD) this.dropOf(flow, 'tooLarge');
    else if (!this.mux.sendDatagram(flow.flowId, data, known ? 'any' : 'lane')) this.dropOf(flow, 'noLink');
  }

  closeFlow(flowId: number): void {
    const flow = this.flows.get(flowId);
    if (!flow || !this.forgetFlow(flowId)) return;
    this.flowEnded(flow, 'expired');
    if (this.session.state === 'closed') return;
    try {
      sendOneWay(this.endpoint, flowClose, { flowId });
    } catch {
      // The command lane closed under us (the session is ending): the agent drops its flows itself.
    }
  }

  /** The agent dropped a flow (its idle timer or its cap): forget it here, without telling it back. */
  dropFlow(flowId: number): void {
    const flow = this.flows.get(flowId);
    if (!flow) return;
    this.forgetFlow(flowId);
    if (flow.mapping.flows.peek(flow.key) === flow) flow.mapping.flows.delete(flow.key);
    this.flowEnded(flow, 'peer');
  }

  private flowEnded(flow: RelayFlow, reason: string): void {
    const visitor = `${flow.address}:${flow.port}`;
    this.deps.onEvent('flow.closed', { mapping: flow.mapping.name, flow: flow.flowId, visitor, reason });
  }

  /** Removes a flow from this session's books; false when it was unknown. */
  private forgetFlow(flowId: number): boolean {
    const flow = this.flows.get(flowId);
    if (!flow) return false;
    this.flows.delete(flowId);
    const left = (this.flowsPerMapping.get(flow.mapping.name) ?? 1) - 1;
    if (left > 0) this.flowsPerMapping.set(flow.mapping.name, left);
    else this.flowsPerMapping.delete(flow.mapping.name);
    return true;
  }

  private onDatagram(flowId: number, data: Buffer): void {
    const flow = this.flows.get(flowId);
    if (!flow) {
      this.flowDrops.unknownFlow++;
      this.deps.table.udpRouter.count(undefined, 'unknownFlow');
      return;
    }
    flow.mapping.flows.touch(flow.key, 'service');
    flow.lastAt = this.deps.clock.now();
    flow.packetsDown++;
    flow.bytesDown += data.length;
    flow.mapping.traffic.packetsDown++;
    flow.mapping.traffic.bytesDown += data.length;
    flow.mapping.send(data, flow.address, flow.port);
  }

  private dropOf(flow: RelayFlow, cause: UdpDropCause): void {
    flow.drops++;
    this.flowDrops[cause]++;
    this.deps.table.udpRouter.count(flow.mapping, cause);
  }

  status(): SessionStatus {
    const now = Date.now();
    const streams: StreamStatus[] = [...this.streams.values()].map((s) => ({
      id: s.stream.id,
      mapping: s.mapping,
      visitor: s.visitor,
      bytesUp: s.stream.stats.bytesOut,
      bytesDown: s.stream.stats.bytesIn,
      ageMs: now - s.openedAt,
    }));
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
      activeFlows: this.flows.size,
      flows: flowStatuses(this.flows.values(), this.deps.clock.now()),
      flowDrops: { ...this.flowDrops },
      visitorsRefused: { ...this.refused },
      repliesDropped: this.mux.stats.repliesDropped + this.endpoint.snapshot().refusalsDropped,
      commands: commandCountersStatus(this.endpoint.snapshot().commands),
      datagramPath: this.udpHistory.status(),
    };
  }

  /** Kicks the session: streams reset, listeners released; the agent will start a new session. */
  kick(): void {
    this.session.destroy();
  }

  private async onClosed(code: string | undefined): Promise<void> {
    const reason = (code ?? 'XNAT_ERR_SESSION_CLOSED') as Parameters<Mux['resetAll']>[0];
    this.mux.resetAll(reason);
    this.idle.stop();
    this.refusedLog.close();
    for (const f of this.flows.values()) this.flowEnded(f, 'session-closed');
    this.flows.clear();
    this.flowsPerMapping.clear();
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
