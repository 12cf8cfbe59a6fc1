// The agent's answers to the relay's queries (stats.query, mapping.status): its session, streams, command
// counters and, per mapping, how its LAN target answers. It reads what it is given; it owns no state.
import type { CommandRegistry } from '../command/registry.ts';
import type { CommandStats } from '../command/stats.ts';
import type { SessionStats } from '../session/index.ts';
import type { LanTargetStatus, MappingStatus } from '../observe/status.ts';
import { handleRequest, mappingStatus, statsQuery } from '../protocol/index.ts';

/** How one mapping's LAN target answered since the agent started: dials, failures, connect time in ms. */
export interface TargetStats {
  connects: number;
  connectErrors: number;
  connectMsLast: number;
  connectMsMax: number;
  connectMsSum: number;
}

export function emptyTargetStats(): TargetStats {
  return { connects: 0, connectErrors: 0, connectMsLast: 0, connectMsMax: 0, connectMsSum: 0 };
}

/** Records one dial of a LAN target that took `ms` and succeeded or not. */
export function noteDial(t: TargetStats, ms: number, ok: boolean): void {
  if (!ok) {
    t.connectErrors++;
    return;
  }
  t.connects++;
  t.connectMsLast = ms;
  t.connectMsMax = Math.max(t.connectMsMax, ms);
  t.connectMsSum += ms;
}

/** The status form of a target's stats (zeros before the first dial). */
export function lanTargetStatus(t: TargetStats | undefined): LanTargetStatus {
  if (!t || t.connects === 0) return { connects: 0, connectErrors: t?.connectErrors ?? 0 };
  return { connects: t.connects, connectErrors: t.connectErrors, connectMsAvg: t.connectMsSum / t.connects };
}

export interface AgentQuerySource {
  sessionStats(): SessionStats;
  mappings(): MappingStatus[];
  targets(): ReadonlyMap<string, TargetStats>;
  commands(): CommandStats | undefined;
}

export function registerAgentQueries(registry: CommandRegistry, src: AgentQuerySource): void {
  handleRequest(registry, statsQuery, () => {
    const s = src.sessionStats();
    const ms = src.mappings();
    const c = src.commands();
    const mappings: Record<string, Record<string, number>> = {};
    for (const [name, t] of src.targets())
      mappings[name] = {
        ...t,
        connectMsAvg: t.connects > 0 ? Math.round((t.connectMsSum / t.connects) * 100) / 100 : 0,
      };
    return {
      at: Date.now(),
      session: {
        bytesSent: s.bytesSent,
        bytesReceived: s.bytesReceived,
        framesSent: s.framesSent,
        framesReceived: s.framesReceived,
        replayBytes: s.replayBytes,
        links: s.links,
        resumes: s.resumes,
      },
      streams: {
        active: ms.reduce((n, m) => n + m.activeStreams, 0),
        total: ms.reduce((n, m) => n + m.totalStreams, 0),
      },
      ...(c
        ? {
            commands: {
              messagesIn: c.messagesIn,
              messagesOut: c.messagesOut,
              malformed: c.malformed,
              busy: c.busy,
              unknownCommands: c.unknownCommands,
            },
          }
        : {}),
      mappings,
    };
  });
  handleRequest(registry, mappingStatus, (req) => ({
    mappings: src
      .mappings()
      .filter((m) => req.name === undefined || m.name === req.name)
      .map((m) => ({
        name: m.name,
        protocol: m.protocol,
        remotePort: m.remotePort,
        phase: m.phase,
        ...(m.error ? { error: m.error } : {}),
        activeStreams: m.activeStreams,
        totalStreams: m.totalStreams,
        ...(m.activeFlows !== undefined ? { activeFlows: m.activeFlows, totalFlows: m.totalFlows } : {}),
      })),
  }));
}
