// The agent's UDP flows of one session: a LAN socket per flow, datagrams both ways on the mux's
// best-effort lane, datagrams that beat their flow.open held a moment, idle expiry, eviction at the cap,
// counters. It knows nothing of how flows are announced (flow.open does that) nor of the command lane.
import type { Mux } from '../mux/mux.ts';
import type { UdpMapping } from '../config/index.ts';
import { openUdpTarget, type UdpTarget } from '../forward/udp-target.ts';
import { FlowTable, type FlowEndReason } from '../forward/flow-table.ts';
import { PendingDatagrams } from '../forward/udp-pending.ts';
import { DropLog, emptyDrops, type DropCounts, type UdpDropCause } from '../forward/udp-drops.ts';
import { MAX_FRAME_PAYLOAD } from '../wire/frame.ts';
import {
  MAX_STATUS_FLOWS,
  type FlowStatus,
  type MappingStatus,
  type SessionStatus,
  type UdpDrops,
  type TrafficCounters,
} from '../observe/status.ts';
import type { Logger } from '../observe/log.ts';
import type { Clock } from '../util/clock.ts';
import { noEvents, type EventSink } from '../observe/events.ts';

/** Default flows per session at once; each holds a LAN socket. Profile: tuning.maxFlows. */
export const DEFAULT_AGENT_MAX_FLOWS = 4096;

export interface AgentFlowsOptions {
  /** Flows per session at once; a new flow beyond it evicts the least-recently-active one. */
  readonly maxFlows?: number;
  /** Tells the relay that this side dropped a flow (idle or evicted), so its next datagram opens a new one. */
  readonly closeRemote: (flowId: number) => void;
  /** The service end of a flow of a handler mapping (an embedder's in-process service); undefined refuses it. */
  readonly openTarget?: (
    mapping: UdpMapping,
    visitor: string,
    onReply: (data: Buffer) => void,
  ) => UdpTarget | undefined;
  readonly onEvent?: EventSink;
  /** The mapping's traffic counters, kept by the owner across sessions (datagrams are counted here). */
  readonly traffic?: (mapping: string) => TrafficCounters | undefined;
}

interface AgentFlow {
  readonly id: number;
  readonly mapping: string;
  readonly visitor: string;
  readonly target: UdpTarget;
  /** Written before every datagram to the service (a PROXY protocol v2 DGRAM header), if any. */
  readonly prefix: Buffer | undefined;
  readonly openedAt: number;
  packetsUp: number;
  bytesUp: number;
  packetsDown: number;
  bytesDown: number;
  drops: number;
}

interface MappingFlows {
  readonly name: string;
  readonly table: FlowTable<AgentFlow>;
  total: number;
  readonly drops: DropCounts;
}

export class AgentFlows {
  /** Keyed by mapping name, since each mapping has its own idle timeout. */
  private readonly mappings = new Map<string, MappingFlows>();
  /** flow id -> mapping name, to find the flow's table. */
  private readonly owner = new Map<number, string>();
  private readonly pending: PendingDatagrams;
  private readonly drops = emptyDrops();
  private readonly dropLog: DropLog;
  private readonly maxFlows: number;
  private readonly emit: EventSink;
  private closed = false;

  constructor(
    private readonly mux: Mux,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly opts: AgentFlowsOptions,
  ) {
    this.maxFlows = Math.max(1, opts.maxFlows ?? DEFAULT_AGENT_MAX_FLOWS);
    this.emit = opts.onEvent ?? noEvents;
    this.dropLog = new DropLog(clock, log, { side: 'agent' });
    this.pending = new PendingDatagrams(clock, (n) => this.drop('unknownFlow', undefined, n));
    mux.on('datagram', (flowId: number, data: Buffer) => this.onDatagram(flowId, data));
  }

  get size(): number {
    return this.owner.size;
  }

  /** A new flow from flow.open; datagrams that arrived before it are delivered first, in order. */
  open(flowId: number, mapping: UdpMapping, visitor: string, prefix?: Buffer): void {
    if (this.closed || this.owner.has(flowId)) return;
    let target: UdpTarget | undefined;
    const onReply = (data: Buffer) => this.onReply(m, flow, data);
    if (mapping.local) target = openUdpTarget(mapping.local.host, mapping.local.port, onReply);
    else target = this.opts.openTarget?.(mapping, visitor, onReply);
    if (!target) {
      this.log.warn({ mapping: mapping.name, flowId, code: 'XNAT_ERR_MAPPING_NO_HANDLER' }, 'flow refused');
      return this.refuse(flowId);
    }
    const m = this.mappingFlows(mapping);
    if (this.owner.size >= this.maxFlows) this.evictForRoom(m);
    const key = String(flowId);
    const flow: AgentFlow = {
      id: flowId,
      mapping: mapping.name,
      visitor,
      prefix,
      openedAt: this.clock.now(),
      packetsUp: 0,
      bytesUp: 0,
      packetsDown: 0,
      bytesDown: 0,
      drops: 0,
      target,
    };
    m.table.add(key, flow);
    m.total++;
    this.owner.set(flowId, mapping.name);
    this.log.debug({ mapping: mapping.name, flowId, visitor }, 'flow opened');
    this.emit('flow.opened', { mapping: mapping.name, flow: flowId, visitor });
    for (const d of this.pending.take(flowId)) this.toService(m, flow, d);
  }

  /** flow.open for a mapping this side cannot serve: its datagrams count as of an unknown flow. */
  refuse(flowId: number): void {
    this.drop('unknownFlow', undefined, this.pending.take(flowId).length);
  }

  /** The relay dropped the flow (flow.close): the LAN socket closes; nothing is sent back. */
  close(flowId: number): void {
    const name = this.owner.get(flowId);
    this.pending.take(flowId);
    if (name === undefined) return;
    this.owner.delete(flowId);
    const flow = this.mappings.get(name)?.table.delete(String(flowId));
    flow?.target.close();
    if (flow)
      this.emit('flow.closed', { mapping: name, flow: flowId, visitor: flow.visitor, reason: 'peer' });
  }

  closeAll(): void {
    this.closed = true;
    for (const m of this.mappings.values()) {
      for (const f of m.table.values()) {
        f.target.close();
        this.emit('flow.closed', {
          mapping: m.name,
          flow: f.id,
          visitor: f.visitor,
          reason: 'session-closed',
        });
      }
      m.table.clear();
    }
    this.owner.clear();
    this.pending.clear();
    this.dropLog.close();
  }

  /** Counts of one mapping for its status (absent until its first flow). */
  mappingCounts(name: string): { active: number; total: number; drops: UdpDrops } | undefined {
    const m = this.mappings.get(name);
    return m && { active: m.table.size, total: m.total, drops: { ...m.drops } };
  }

  /** Session-wide drops by cause. */
  get dropCounts(): UdpDrops {
    return { ...this.drops };
  }

  /** The flow fields of the session's status. */
  sessionStatus(): Pick<SessionStatus, 'activeFlows' | 'flows' | 'flowDrops'> {
    return { activeFlows: this.size, flows: this.status(), flowDrops: this.dropCounts };
  }

  /** The most recently active flows, at most MAX_STATUS_FLOWS. */
  status(): FlowStatus[] {
    const now = this.clock.now();
    return [...this.mappings.values()]
      .flatMap((m) => m.table.list(MAX_STATUS_FLOWS))
      .sort((a, b) => b.lastSeen - a.lastSeen)
      .slice(0, MAX_STATUS_FLOWS)
      .map(({ value: f, lastSeen }) => ({
        id: f.id,
        mapping: f.mapping,
        visitor: f.visitor,
        packetsUp: f.packetsUp,
        bytesUp: f.bytesUp,
        packetsDown: f.packetsDown,
        bytesDown: f.bytesDown,
        drops: f.drops,
        ageMs: Math.round(now - f.openedAt),
        idleMs: Math.round(now - lastSeen),
      }));
  }

  private onDatagram(flowId: number, data: Buffer): void {
    if (this.closed) return;
    const name = this.owner.get(flowId);
    const m = name === undefined ? undefined : this.mappings.get(name);
    const flow = m?.table.touch(String(flowId), 'visitor');
    // Not open (yet): its flow.open may still be on its way, on the command lane or behind it.
    if (!m || !flow) this.pending.hold(flowId, data);
    else this.toService(m, flow, data);
  }

  private toService(m: MappingFlows, flow: AgentFlow, data: Buffer): void {
    flow.packetsUp++;
    flow.bytesUp += data.length;
    const t = this.opts.traffic?.(m.name);
    if (t) {
      t.packetsUp++;
      t.bytesUp += data.length;
    }
    if (!flow.target.send(flow.prefix ? Buffer.concat([flow.prefix, data]) : data)) flow.drops++;
  }

  private onReply(m: MappingFlows, flow: AgentFlow, data: Buffer): void {
    if (m.table.touch(String(flow.id), 'service') !== flow) return; // closed meanwhile
    flow.packetsDown++;
    flow.bytesDown += data.length;
    const t = this.opts.traffic?.(m.name);
    if (t) {
      t.packetsDown++;
      t.bytesDown += data.length;
    }
    if (data.length > MAX_FRAME_PAYLOAD) {
      flow.drops++;
      this.drop('tooLarge', m);
    } else if (!this.mux.sendDatagram(flow.id, data)) {
      flow.drops++;
      this.drop('noLink', m);
    }
  }

  private mappingFlows(mapping: UdpMapping): MappingFlows {
    let m = this.mappings.get(mapping.name);
    if (m) return m;
    const table = new FlowTable<AgentFlow>(this.clock, {
      idleMs: mapping.idleTimeoutMs,
      max: this.maxFlows,
      onExpire: (_key, flow, reason) => this.ended(m!, flow, reason),
    });
    m = { name: mapping.name, table, total: 0, drops: emptyDrops() };
    this.mappings.set(mapping.name, m);
    return m;
  }

  /**
   * At the session's cap: the least-recently-active flow of the mapping holding the most flows goes, so a
   * flood on one mapping churns that mapping's flows and leaves the others' alone.
   */
  private evictForRoom(incoming: MappingFlows): void {
    let victim = incoming;
    for (const m of this.mappings.values()) if (m.table.size > victim.table.size) victim = m;
    victim.table.evictOne('table-full');
  }

  private ended(m: MappingFlows, flow: AgentFlow, reason: FlowEndReason): void {
    flow.target.close();
    this.owner.delete(flow.id);
    if (reason !== 'idle') this.drop(reason === 'per-source' ? 'perSource' : 'tableFull', m);
    if (!this.closed) {
      try {
        this.opts.closeRemote(flow.id);
      } catch {
        // The command lane closed under us (the session is ending): nothing is left to tell.
      }
    }
    this.log.debug({ mapping: flow.mapping, flowId: flow.id, reason }, 'flow closed');
    this.emit('flow.closed', { mapping: flow.mapping, flow: flow.id, visitor: flow.visitor, reason });
  }

  private drop(cause: UdpDropCause, m: MappingFlows | undefined, n = 1): void {
    this.drops[cause] += n;
    if (m) m.drops[cause] += n;
    if (n > 0) this.dropLog.note(cause, n, m?.name);
  }
}

/** A udp mapping's status fields from the current session's flows (zeros without one): flows are its visitors. */
export function udpMappingStatus(
  flows: AgentFlows | undefined,
  name: string,
): Pick<MappingStatus, 'activeStreams' | 'totalStreams' | 'activeFlows' | 'totalFlows' | 'flowDrops'> {
  const c = flows?.mappingCounts(name);
  const active = c?.active ?? 0;
  const total = c?.total ?? 0;
  return {
    activeStreams: active,
    totalStreams: total,
    activeFlows: active,
    totalFlows: total,
    ...(c ? { flowDrops: c.drops } : {}),
  };
}
