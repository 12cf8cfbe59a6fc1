// One session's UDP flows on the relay: their ids and books, their datagrams each way, their drops.
import type { Session } from '../session/index.ts';
import type { Mux } from '../mux/mux.ts';
import type { CommandEndpoint } from '../command/endpoint.ts';
import type { Logger } from '../observe/log.ts';
import type { EventSink } from '../observe/events.ts';
import type { FlowStatus, UdpDrops } from '../observe/status.ts';
import { flowClose, flowOpen, sendOneWay } from '../protocol/index.ts';
import { emptyDrops, type UdpDropCause } from '../forward/udp-drops.ts';
import { MAX_FRAME_PAYLOAD } from '../wire/frame.ts';
import type { Clock } from '../util/clock.ts';
import {
  flowStatuses,
  type FlowServer,
  type RelayFlow,
  type UdpEntry,
  type UdpRouter,
} from './udp-router.ts';

/**
 * A new UDP flow's datagrams take the TCP lane (behind its flow.open) for at most this long, in ms,
 * unless the agent answered on the flow before; then the UDP path, if up (docs/protocol.md, "Flows").
 */
export const NEW_FLOW_LANE_MS = 1000;

export interface SessionFlowsDeps {
  readonly session: Session;
  readonly mux: Mux;
  readonly endpoint: CommandEndpoint;
  readonly udpRouter: UdpRouter;
  readonly log: Logger;
  readonly clock: Clock;
  readonly onEvent: EventSink;
}

export class SessionFlows {
  /** UDP flows this session serves, by flow id (each mapping's table holds the same objects). */
  private readonly flows = new Map<number, RelayFlow>();
  private nextFlowId = 1;
  /** Open flows per UDP mapping name (the pick's load of a udp mapping). */
  private readonly perMapping = new Map<string, number>();
  /** UDP drops this session saw, by cause (its mappings count theirs too). */
  private readonly drops = emptyDrops();

  constructor(private readonly deps: SessionFlowsDeps) {
    deps.mux.on('datagram', (flowId: number, data: Buffer) => this.onDatagram(flowId, data));
  }

  get size(): number {
    return this.flows.size;
  }

  /** Flows open now of one mapping. */
  countOf(mapping: string): number {
    return this.perMapping.get(mapping) ?? 0;
  }

  /** A new UDP visitor of `mapping`, served by `server` (the session); undefined once the session closed. */
  open(
    server: FlowServer,
    mapping: UdpEntry,
    key: string,
    address: string,
    port: number,
  ): RelayFlow | undefined {
    if (this.deps.session.state === 'closed') return undefined;
    const flowId = this.nextFlowId;
    this.nextFlowId = (this.nextFlowId % 0xffffffff) + 1;
    const now = this.deps.clock.now();
    const flow: RelayFlow = {
      server,
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
    this.perMapping.set(mapping.name, (this.perMapping.get(mapping.name) ?? 0) + 1);
    // The open goes on the command lane, the datagrams on the best-effort one: they may arrive in either
    // order (the lane is behind the open, the UDP path may not be), and the agent holds datagrams of a
    // flow it does not know yet for a moment (docs/protocol.md).
    sendOneWay(this.deps.endpoint, flowOpen, {
      flowId,
      mapping: mapping.name,
      visitor: { address, port },
      ...(mapping.local ? { public: mapping.local } : {}),
    });
    this.deps.log.debug({ mapping: mapping.name, flowId, visitor: `${address}:${port}` }, 'flow opened');
    this.deps.onEvent('flow.opened', { mapping: mapping.name, flow: flowId, visitor: `${address}:${port}` });
    return flow;
  }

  send(flow: RelayFlow, data: Buffer): void {
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
    else if (!this.deps.mux.sendDatagram(flow.flowId, data, known ? 'any' : 'lane'))
      this.dropOf(flow, 'noLink');
  }

  /** The relay dropped the flow (idle, evicted, released): tell the agent. */
  close(flowId: number): void {
    const flow = this.flows.get(flowId);
    if (!flow || !this.forget(flowId)) return;
    this.ended(flow, 'expired');
    if (this.deps.session.state === 'closed') return;
    try {
      sendOneWay(this.deps.endpoint, flowClose, { flowId });
    } catch {
      // The command lane closed under us (the session is ending): the agent drops its flows itself.
    }
  }

  /** Closes (as close() does) every flow of one mapping: it is no longer served here. */
  closeMapping(mapping: UdpEntry | undefined): void {
    for (const [id, f] of this.flows) if (f.mapping === mapping) this.close(id);
  }

  /** The agent dropped a flow (its idle timer or its cap): forget it here, without telling it back. */
  drop(flowId: number): void {
    const flow = this.flows.get(flowId);
    if (!flow) return;
    this.forget(flowId);
    if (flow.mapping.flows.peek(flow.key) === flow) flow.mapping.flows.delete(flow.key);
    this.ended(flow, 'peer');
  }

  /** The session closed: every flow ends (the mappings' tables drop theirs as the session is released). */
  closeAll(): void {
    for (const f of this.flows.values()) this.ended(f, 'session-closed');
    this.flows.clear();
    this.perMapping.clear();
  }

  status(): { activeFlows: number; flows: FlowStatus[]; flowDrops: UdpDrops } {
    return {
      activeFlows: this.flows.size,
      flows: flowStatuses(this.flows.values(), this.deps.clock.now()),
      flowDrops: { ...this.drops },
    };
  }

  private ended(flow: RelayFlow, reason: string): void {
    const visitor = `${flow.address}:${flow.port}`;
    this.deps.onEvent('flow.closed', { mapping: flow.mapping.name, flow: flow.flowId, visitor, reason });
  }

  /** Removes a flow from this session's books; false when it was unknown. */
  private forget(flowId: number): boolean {
    const flow = this.flows.get(flowId);
    if (!flow) return false;
    this.flows.delete(flowId);
    const left = (this.perMapping.get(flow.mapping.name) ?? 1) - 1;
    if (left > 0) this.perMapping.set(flow.mapping.name, left);
    else this.perMapping.delete(flow.mapping.name);
    return true;
  }

  private onDatagram(flowId: number, data: Buffer): void {
    const flow = this.flows.get(flowId);
    if (!flow) {
      this.drops.unknownFlow++;
      this.deps.udpRouter.count(undefined, 'unknownFlow');
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
    this.drops[cause]++;
    this.deps.udpRouter.count(flow.mapping, cause);
  }
}
