// The agent's UDP flows of one session: a LAN socket per flow, datagrams both ways on the mux's
// best-effort lane, idle expiry. It knows nothing of how flows are announced (flow.open does that).
import type { Mux } from '../mux/mux.ts';
import type { UdpMapping } from '../config/index.ts';
import { openUdpTarget, type UdpTarget } from '../forward/udp-target.ts';
import { FlowTable } from '../forward/flow-table.ts';
import type { Logger } from '../observe/log.ts';
import type { Clock } from '../util/clock.ts';

/** Flows per session at once; each holds a LAN socket (the relay caps the same). */
const MAX_FLOWS = 4096;

export class AgentFlows {
  /** Keyed by mapping name, since each mapping has its own idle timeout. */
  private readonly tables = new Map<string, FlowTable<UdpTarget>>();
  /** flow id -> mapping name, to find the flow's table. */
  private readonly owner = new Map<number, string>();
  datagramsUnknown = 0;

  constructor(
    private readonly mux: Mux,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    mux.on('datagram', (flowId: number, data: Buffer) => {
      const name = this.owner.get(flowId);
      const target = name === undefined ? undefined : this.tables.get(name)?.get(String(flowId));
      if (target) target.send(data);
      else this.datagramsUnknown++;
    });
  }

  get size(): number {
    return this.owner.size;
  }

  open(flowId: number, mapping: UdpMapping, visitor: string): void {
    if (this.owner.has(flowId) || this.owner.size >= MAX_FLOWS) return;
    let table = this.tables.get(mapping.name);
    if (!table) {
      table = new FlowTable<UdpTarget>(this.clock, mapping.idleTimeoutMs, MAX_FLOWS, (key, target) => {
        target.close();
        this.owner.delete(Number(key));
      });
      this.tables.set(mapping.name, table);
    }
    const target = openUdpTarget(mapping.local.host, mapping.local.port, (data) => {
      table.get(String(flowId)); // traffic from the LAN side keeps the flow alive too
      this.mux.sendDatagram(flowId, data);
    });
    table.add(String(flowId), target);
    this.owner.set(flowId, mapping.name);
    this.log.debug({ mapping: mapping.name, flowId, visitor }, 'flow opened');
  }

  close(flowId: number): void {
    const name = this.owner.get(flowId);
    if (name === undefined) return;
    this.owner.delete(flowId);
    this.tables.get(name)?.delete(String(flowId))?.close();
  }

  closeAll(): void {
    for (const table of this.tables.values()) {
      for (const t of table.values()) t.close();
      table.clear();
    }
    this.owner.clear();
  }
}
