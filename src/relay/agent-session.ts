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
  pushBounded,
  type MappingStatus,
  type ReconnectEvent,
  type SessionStatus,
  type StreamStatus,
} from '../observe/status.ts';
import { joinSocketToStream } from '../forward/tcp-pipe.ts';
import { encodeOpenMeta, flowClose, flowOpen, sendOneWay } from '../protocol/index.ts';
import type { Clock } from '../util/clock.ts';
import { keyFingerprint } from '../crypto/keys.ts';
import type { ClaimRequest, MappingEntry, MappingServer, MappingTable } from './mapping-table.ts';
import { buildRelayRegistry } from './commands.ts';
import { admitStream } from './stream-shares.ts';
import { IdleStreams } from '../forward/idle-streams.ts';
import { CapLog } from '../observe/cap-log.ts';

/** A visitor's stream as status needs it; byte counts are read from the stream's own stats (no listeners). */
interface LiveStream {
  readonly stream: MuxStream;
  readonly mapping: string;
  readonly visitor: string;
  readonly openedAt: number;
}

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

/** UDP flows one session serves at once (each costs the agent a socket). */
const MAX_FLOWS_PER_SESSION = 4096;

export interface AgentSessionDeps {
  readonly table: MappingTable;
  readonly tuning: Tuning;
  readonly resumeWindowMs: number;
  readonly logger: Logger;
  readonly clock: Clock;
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
  private readonly idle: IdleStreams;
  private readonly refusedLog: CapLog;
  readonly refused: VisitorRefusals = { share: 0, streamLimit: 0, idleTimeout: 0 };
  private readonly reconnects: ReconnectEvent[] = [];
  private readonly claimed = new Set<MappingEntry>();
  private attachments = 0;
  /** UDP flows this session serves: flow id -> mapping and visitor. */
  private readonly flows = new Map<number, { entry: MappingEntry; address: string; port: number }>();
  private nextFlowId = 1;

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
      maxStreams: deps.tuning.maxStreams,
      clock: deps.clock,
      logger: this.log,
    });
    this.endpoint = new CommandEndpoint(muxCommandChannel(this.mux), {
      registry: buildRelayRegistry(this),
      peer: this,
      clock: deps.clock,
      logger: this.log,
    });
    this.idle = new IdleStreams(deps.clock);
    this.refusedLog = new CapLog(this.log, deps.clock, 'visitors refused');
    this.attachments = session.state === 'attached' ? 1 : 0;
    if (this.attachments === 1) pushBounded(this.reconnects, { at: Date.now(), event: 'attached' });
    this.log.info({ agentKey: keyFingerprint(session.agentKey) }, 'session established');
    session.on('attached', () => {
      this.attachments++;
      pushBounded(this.reconnects, { at: Date.now(), event: 'attached' });
      if (this.attachments > 1) this.log.info({ resumes: this.attachments - 1 }, 'session resumed');
    });
    session.on('detached', (err?: { code?: string }) => {
      pushBounded(this.reconnects, { at: Date.now(), event: 'detached', code: err?.code });
      this.log.warn({ code: err?.code, resumeWindowMs: deps.resumeWindowMs }, 'session detached');
    });
    session.on('closed', (err?: { code?: string }) => void this.onClosed(err?.code));
    this.mux.on('datagram', (flowId: number, data: Buffer) => {
      const flow = this.flows.get(flowId);
      if (flow) flow.entry.udp?.send(data, flow.address, flow.port);
    });
  }

  get activeStreams(): number {
    return this.streams.size;
  }

  get resumeWindowMs(): number {
    return this.deps.resumeWindowMs;
  }

  /** Claims a public port for one mapping, within this agent's allow list. */
  async claim(req: ClaimRequest): Promise<MappingEntry> {
    const entry = await this.deps.table.claim(this, req, this.agent.allow);
    this.claimed.add(entry);
    if (entry.protocol === 'tcp') this.idleMs.set(entry.name, req.idleTimeoutMs ?? DEFAULT_TCP_IDLE_MS);
    return entry;
  }

  /** The mappings this session serves, as status objects. */
  mappingStatus(): MappingStatus[] {
    return [...this.claimed].map((e) => ({
      name: e.name,
      protocol: e.protocol,
      remotePort: e.port,
      phase: 'ready' as const,
      agents: [...e.servers].map((s) => s.agentName),
      activeStreams: [...this.streams.values()].filter((s) => s.mapping === e.name).length,
      totalStreams: e.totalVisitors,
    }));
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
      stream = this.mux.openStream(
        encodeOpenMeta({
          mapping: entry.name,
          protocol: 'tcp',
          visitor: { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
        }),
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
    void joinSocketToStream(socket, stream, this.log).then((r) => {
      this.streams.delete(id);
      this.idle.delete(stream);
      const left = (this.perMapping.get(entry.name) ?? 1) - 1;
      if (left > 0) this.perMapping.set(entry.name, left);
      else this.perMapping.delete(entry.name);
      if (r.code === 'XNAT_ERR_FORWARD_IDLE_TIMEOUT') this.refused.idleTimeout++;
      const done = { ...fields, up: r.bytesFromSocket, down: r.bytesToSocket };
      if (r.clean) this.log.debug(done, 'visitor closed');
      else this.log.info({ ...done, code: r.code }, 'visitor reset');
    });
  }

  openFlow(entry: MappingEntry, address: string, port: number): number | undefined {
    if (this.flows.size >= MAX_FLOWS_PER_SESSION || this.session.state === 'closed') return undefined;
    const flowId = this.nextFlowId;
    this.nextFlowId = (this.nextFlowId % 0xffffffff) + 1;
    this.flows.set(flowId, { entry, address, port });
    sendOneWay(this.endpoint, flowOpen, { flowId, mapping: entry.name, visitor: { address, port } });
    this.log.debug({ mapping: entry.name, flowId, visitor: `${address}:${port}` }, 'flow opened');
    return flowId;
  }

  sendFlow(flowId: number, data: Buffer): void {
    this.mux.sendDatagram(flowId, data);
  }

  closeFlow(flowId: number): void {
    if (!this.flows.delete(flowId) || this.session.state === 'closed') return;
    sendOneWay(this.endpoint, flowClose, { flowId });
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
      reconnects: [...this.reconnects],
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
    this.flows.clear();
    this.endpoint.close();
    if (code === 'XNAT_ERR_SESSION_EXPIRED') this.log.warn({ code }, 'session expired');
    else this.log.info({ code }, 'session closed');
    await this.deps.table.release(this);
  }
}
