// The relay's UDP side of its mappings: a flow table per UDP mapping, routing each visitor datagram to the
// session serving its flow (a new flow to the session server-pick.ts picks), drop counters and their log line.
// It knows nothing of listeners or of how a session carries datagrams (MappingServer does that).
import { FlowTable } from '../forward/flow-table.ts';
import { DropLog, type DropCounts, type UdpDropCause } from '../forward/udp-drops.ts';
import {
  MAX_STATUS_FLOWS,
  type FlowStatus,
  type MappingStatus,
  type TrafficCounters,
} from '../observe/status.ts';
import type { Logger } from '../observe/log.ts';
import type { Clock } from '../util/clock.ts';
import { pickServer, type PickCandidate } from './server-pick.ts';

/** Default UDP visitors per mapping at once; a new one beyond it evicts the least-recently-active. */
export const DEFAULT_MAX_FLOWS_PER_MAPPING = 4096;
/** Default flows one visitor address may hold per mapping; beyond it that address's oldest flow goes. */
export const DEFAULT_MAX_FLOWS_PER_SOURCE = 64;
/** Default idle timeout of UDP flows when the agent gives none, in ms (game presets set their own). */
export const DEFAULT_FLOW_IDLE_MS = 60_000;

/** Caps of the relay's flow tables (profile: tuning.maxFlowsPerMapping, tuning.maxFlowsPerSource). */
export interface FlowLimits {
  readonly maxFlowsPerMapping: number;
  readonly maxFlowsPerSource: number;
}

/** What the router needs of a session serving UDP mappings. */
export interface FlowServer extends PickCandidate {
  readonly agentName: string;
  /** Streams open now. */
  readonly activeStreams: number;
  /** Flows served now. */
  readonly activeFlows: number;
  /** A link is attached now (datagrams get through). */
  readonly attached: boolean;
  /** A new UDP visitor: its flow, or undefined when the session refuses it (closing). */
  openFlow(mapping: UdpEntry, key: string, address: string, port: number): RelayFlow | undefined;
  sendFlow(flow: RelayFlow, data: Buffer): void;
  /** The relay dropped the flow (idle, evicted, released): tell the agent. */
  closeFlow(flowId: number): void;
}

/** One UDP visitor of a mapping, bound to the session that serves it for its whole life. */
export interface RelayFlow {
  readonly server: FlowServer;
  readonly flowId: number;
  readonly mapping: UdpEntry;
  /** Its key in the mapping's flow table: `address|port`. */
  readonly key: string;
  readonly address: string;
  readonly port: number;
  readonly openedAt: number;
  lastAt: number;
  packetsUp: number;
  bytesUp: number;
  packetsDown: number;
  bytesDown: number;
  drops: number;
}

/** The UDP state of one mapping entry. */
export interface UdpEntry {
  readonly name: string;
  readonly servers: ReadonlySet<FlowServer>;
  readonly flows: FlowTable<RelayFlow>;
  totalFlows: number;
  readonly drops: DropCounts;
  /** The public socket's bound address (the PROXY protocol destination the agent writes). */
  local?: { readonly address: string; readonly port: number };
  /** The mapping's traffic counters (the same object as its MappingEntry's). */
  readonly traffic: TrafficCounters;
  /** Set while an operator disabled the mapping: datagrams of new visitors are dropped. */
  readonly disabled?: () => boolean;
  /** Sends a datagram to a visitor through the mapping's public socket. */
  send(data: Buffer, address: string, port: number): void;
}

export class UdpRouter {
  private readonly dropLog: DropLog;
  /** Screens the first datagram of a new flow (who may visit); false drops it as `refused`. */
  admitFlow: (mapping: string, address: string) => boolean = () => true;

  constructor(
    private readonly clock: Clock,
    logger: Logger,
    private readonly limits: FlowLimits,
  ) {
    this.dropLog = new DropLog(clock, logger, { side: 'relay' });
  }

  /** A flow table for a new UDP mapping: evicting at the caps, telling the serving session on every end. */
  createTable(idleTimeoutMs: number | undefined, entry: () => UdpEntry): FlowTable<RelayFlow> {
    return new FlowTable<RelayFlow>(this.clock, {
      idleMs: idleTimeoutMs ?? DEFAULT_FLOW_IDLE_MS,
      max: this.limits.maxFlowsPerMapping,
      maxPerGroup: this.limits.maxFlowsPerSource,
      groupOf: (key) => key.slice(0, key.lastIndexOf('|')),
      onExpire: (_key, flow, reason) => {
        flow.server.closeFlow(flow.flowId);
        if (reason === 'table-full') this.count(entry(), 'tableFull');
        else if (reason === 'per-source') this.count(entry(), 'perSource');
      },
    });
  }

  /** A flow sticks to the session that took its first datagram; a new one goes where server-pick.ts says. */
  route(entry: UdpEntry, data: Buffer, address: string, port: number): void {
    const key = `${address}|${port}`;
    let flow = entry.flows.touch(key, 'visitor');
    if (!flow) {
      // A disabled mapping keeps its flows and takes no new visitor (counted as served by no agent).
      if (entry.disabled?.()) return this.count(entry, 'noAgent');
      if (!this.admitFlow(entry.name, address)) return;
      const server = pickServer(entry.servers, entry.name, this.clock.now());
      if (!server) return this.count(entry, 'noAgent');
      flow = server.openFlow(entry, key, address, port);
      if (!flow) return this.count(entry, 'sessionRefused');
      entry.flows.add(key, flow);
      entry.totalFlows++;
    }
    flow.server.sendFlow(flow, data);
  }

  /** Counts `n` drops of `cause` for `entry` (undefined: none known, e.g. an unknown flow id). */
  count(entry: UdpEntry | undefined, cause: UdpDropCause, n = 1): void {
    if (entry) entry.drops[cause] += n;
    this.dropLog.note(cause, n, entry?.name);
  }

  close(): void {
    this.dropLog.close();
  }
}

/** The UDP fields of a mapping's status: flows stand in the stream columns so existing views show them. */
export function udpMappingCounts(
  entry: UdpEntry,
): Pick<MappingStatus, 'activeStreams' | 'totalStreams' | 'activeFlows' | 'totalFlows' | 'flowDrops'> {
  return {
    activeStreams: entry.flows.size,
    totalStreams: entry.totalFlows,
    activeFlows: entry.flows.size,
    totalFlows: entry.totalFlows,
    flowDrops: { ...entry.drops },
  };
}

/** The most recently active of `flows` as status objects, at most MAX_STATUS_FLOWS. */
export function flowStatuses(flows: Iterable<RelayFlow>, now: number): FlowStatus[] {
  return [...flows]
    .sort((a, b) => b.lastAt - a.lastAt)
    .slice(0, MAX_STATUS_FLOWS)
    .map((f) => ({
      id: f.flowId,
      mapping: f.mapping.name,
      visitor: `${f.address}:${f.port}`,
      packetsUp: f.packetsUp,
      bytesUp: f.bytesUp,
      packetsDown: f.packetsDown,
      bytesDown: f.bytesDown,
      drops: f.drops,
      ageMs: Math.round(now - f.openedAt),
      idleMs: Math.round(now - f.lastAt),
    }));
}
