// The LAN side of mappings on a dashboard: a relay asks its agents every few seconds (one round of
// stats.query through admin.agentStats, one request at a time) and sums per mapping their LAN connect errors
// and connect latency; an agent shows its own, from its status. Pure but for the one round it runs.
import type { Status, MappingStatus } from '../observe/status.ts';
import type { Clock } from '../util/clock.ts';
import type { DashboardSource } from './source.ts';

/** How often a round of agent queries starts, in ms: modest, whatever the snapshot interval. */
export const AGENT_SIDE_INTERVAL_MS = 5_000;
/** Agents asked per round at most (a relay with more shows '-' for the rest). */
export const MAX_AGENTS_PER_ROUND = 16;

/** Per agent, per mapping: the counters its stats.query reply gave (connects, connectErrors, connectMs*). */
export type AgentSide = ReadonlyMap<string, Readonly<Record<string, Readonly<Record<string, number>>>>>;

/** One mapping's LAN side summed over the agents serving it. */
export interface LanSide {
  readonly connectErrors: number;
  /** Mean connect time over their successful dials, in ms; undefined before any succeeded. */
  readonly connectMsAvg: number | undefined;
}

/** Sums the LAN side of `m` over its agents; undefined when no agent of it answered yet. */
export function lanSideOf(m: MappingStatus, side: AgentSide): LanSide | undefined {
  let errors = 0;
  let connects = 0;
  let msSum = 0;
  let any = false;
  for (const agent of new Set(m.agents ?? m.servers?.map((s) => s.agent) ?? [])) {
    const t = side.get(agent)?.[m.name];
    if (!t) continue;
    any = true;
    errors += t.connectErrors ?? 0;
    connects += t.connects ?? 0;
    msSum += t.connectMsSum ?? (t.connectMsAvg ?? 0) * (t.connects ?? 0);
  }
  if (!any) return undefined;
  return { connectErrors: errors, connectMsAvg: connects > 0 ? msSum / connects : undefined };
}

/** An agent's own mapping: its LAN side from its status (null for a mapping without one: udp). */
export function ownLanSide(m: MappingStatus): LanSide | null {
  return m.lan ? { connectErrors: m.lan.connectErrors, connectMsAvg: m.lan.connectMsAvg } : null;
}

export class AgentSidePoller {
  private lastRound = Number.NEGATIVE_INFINITY;
  private running = false;
  private data: AgentSide = new Map();

  constructor(
    private readonly clock: Clock,
    private readonly intervalMs = AGENT_SIDE_INTERVAL_MS,
  ) {}

  /**
   * Called with every snapshot: starts a round when the last one began `intervalMs` ago and has ended.
   * `onRound` gets the new table (agents without an attached session keep their last answer).
   */
  maybePoll(status: Status, source: DashboardSource, onRound: (side: AgentSide) => void): void {
    if (status.role !== 'relay' || !source.agentStats || this.running) return;
    const now = this.clock.now();
    if (now - this.lastRound < this.intervalMs) return;
    this.lastRound = now;
    this.running = true;
    const ask = source.agentStats.bind(source);
    const present = new Set(status.sessions.map((s) => s.agent));
    const attached = [...new Set(status.sessions.filter((s) => s.state === 'attached').map((s) => s.agent))];
    void (async () => {
      const next = new Map<string, Readonly<Record<string, Readonly<Record<string, number>>>>>();
      for (const [agent, v] of this.data) if (present.has(agent)) next.set(agent, v);
      for (const agent of attached.slice(0, MAX_AGENTS_PER_ROUND)) {
        try {
          next.set(agent, (await ask(agent)).mappings ?? {});
        } catch {
          // Gone meanwhile, or an old agent without stats.query: its last answer (if any) stays.
        }
      }
      this.data = next;
      this.running = false;
      onRound(next);
    })();
  }

  /** Forgets the round in flight (a new admin connection starts afresh). */
  reset(): void {
    this.running = false;
    this.lastRound = Number.NEGATIVE_INFINITY;
  }
}
