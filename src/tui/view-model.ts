// Turns a relay or agent snapshot into the dashboard's header and its sessions and mappings rows with
// their colours. Pure; it knows nothing of ink, keys or the admin connection (view-rows.ts has the rest).
import type { MappingStatus, ReconnectEvent, SessionStatus, Status } from '../observe/status.ts';
import type { Cell, Column } from './table.tsx';
import type { SessionRate } from './rates.ts';
import { mappingKey, type MappingTrend } from './trends.ts';
import type { LanSide } from './agent-side.ts';
import {
  shortBytes,
  shortCode,
  shortCount,
  shortDuration,
  shortRate,
  shortRtt,
  sparkline,
} from './format.ts';

/** One row of the sessions table: a relay's session, or one of an agent's relays (with its session). */
export interface SessionRow {
  /** Stable identity across snapshots (session id on a relay, relay address on an agent). */
  readonly key: string;
  /** Agent name (relay side) or relay address (agent side). */
  readonly label: string;
  readonly state: string;
  readonly session: SessionStatus | undefined;
  /** The agent name a kick would name; set on the relay side only. */
  readonly kickable: string | undefined;
  /** Agent side: why the last link attempt failed (kept while connecting). */
  readonly lastError?: { readonly code: string; readonly message: string };
  /** Reconnect events: the session's, or on an agent the relay's across sessions. */
  readonly reconnects: readonly ReconnectEvent[];
}

export const STATE_COLOR: Record<string, string> = {
  attached: 'green',
  detached: 'yellow',
  closed: 'red',
  connecting: 'cyan',
};
const PHASE_COLOR: Record<string, string> = {
  ready: 'green',
  pending: 'yellow',
  registering: 'yellow',
  failed: 'red',
  disabled: 'magenta',
};

export function sessionRows(s: Status): SessionRow[] {
  if (s.role === 'relay') {
    return s.sessions.map((x) => ({
      key: x.id,
      // Reverse mode (the relay dials this agent) is marked where it is cheap to see.
      label: x.dialedBy === 'relay' ? `${x.agent} (rev)` : x.agent,
      state: x.state,
      session: x,
      kickable: x.agent,
      reconnects: x.reconnects,
    }));
  }
  return s.relays.map((r) => ({
    key: r.address,
    label: r.dialedBy === 'relay' && !r.address.startsWith('reverse:') ? `${r.address} (rev)` : r.address,
    state: r.state,
    session: r.session,
    kickable: undefined,
    ...(r.lastError ? { lastError: r.lastError } : {}),
    reconnects: r.reconnects ?? r.session?.reconnects ?? [],
  }));
}

/** The header line: role, name, version, uptime (at the snapshot's time) and where it listens or dials. */
export function headerText(s: Status, wallNow: number): string {
  const up = `up ${shortDuration((s.at ?? wallNow) - s.startedAt)}`;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (s.role === 'relay') {
    const control = s.control ? `${s.control.address}:${s.control.port}` : '-';
    return `xnat relay ${s.version} · ${up} · control ${control} · ${plural(s.sessions.length, 'session')} · ${plural(s.mappings.length, 'mapping')}`;
  }
  const relays = s.relays.map((r) => `${r.address} ${r.state}`).join(', ') || 'no relay';
  return `xnat agent ${s.name} ${s.version} · ${up} · relay ${relays}`;
}

/** Short names of a session's datagram path for the sessions panel. */
const DGRAM_PATH: Record<string, string> = { udp: 'udp', 'tcp-lane': 'lane', probing: 'probe' };

/** Sessions (relay) or relays (agent): state, RTT last/p50/p99, resumes, connections, throughput. */
export function sessionColumns(role: Status['role'] | undefined): readonly Column[] {
  return [
    // On the agent the relay address keeps its width; the last error takes what is left.
    role === 'agent'
      ? { title: 'relay', width: 12, max: 28 }
      : { title: 'agent', width: 8, max: 24, flex: 1 },
    { title: 'state', width: 8, max: 10 },
    { title: 'rtt', width: 6, align: 'right' },
    { title: 'p50', width: 6, align: 'right', hideBelow: role === 'agent' ? 90 : 0 },
    { title: 'p99', width: 6, align: 'right' },
    // The agent side needs room for the last error: these go first on narrow terminals.
    { title: 'res', width: 3, align: 'right', hideBelow: role === 'agent' ? 90 : 0 },
    { title: 'conn', width: 4, align: 'right', hideBelow: role === 'agent' ? 90 : 0 },
    { title: 'sent/s', width: 8, align: 'right' },
    { title: 'recv/s', width: 8, align: 'right' },
    { title: 'sent', width: 7, align: 'right', hideBelow: 120 },
    { title: 'recv', width: 7, align: 'right', hideBelow: 120 },
    { title: 'replay', width: 6, align: 'right', hideBelow: 110 },
    // Which way UDP datagrams take (docs/protocol.md, "The UDP path"): udp, lane (TCP) or probe.
    { title: 'dgram', width: 5, hideBelow: 130 },
    { title: 'last error', width: 10, max: 40, flex: 1, hideBelow: role === 'agent' ? 0 : Infinity },
  ];
}

export function sessionCells(row: SessionRow, rate: SessionRate | undefined): Cell[] {
  const x = row.session;
  const rtt = x?.rtt;
  const conns = x ? x.streams.length + (x.activeFlows ?? 0) : undefined;
  // A relay being dialled shows why the last attempt failed; once attached the error is history.
  const err = row.state !== 'attached' ? row.lastError : undefined;
  return [
    { text: row.label },
    { text: row.state, color: STATE_COLOR[row.state] },
    { text: x ? shortRtt(rtt?.lastMs ?? x.rttMs) : '-' },
    { text: shortRtt(rtt?.p50Ms) },
    { text: shortRtt(rtt?.p99Ms) },
    { text: x ? String(x.resumes) : '-' },
    { text: conns === undefined ? '-' : String(conns) },
    { text: shortRate(rate?.sentPerSec) },
    { text: shortRate(rate?.receivedPerSec) },
    { text: x ? shortBytes(x.bytesSent) : '-' },
    { text: x ? shortBytes(x.bytesReceived) : '-' },
    { text: x ? shortBytes(x.replayBytes) : '-' },
    { text: DGRAM_PATH[x?.datagramPath?.path ?? ''] ?? '-' },
    { text: err ? shortCode(err.code) : '', color: 'red' },
  ];
}

/** The forwarding line of a mapping: `tcp 203.0.113.5:25565 -> 192.168.1.20:25565` (relay: -> agents). */
export function forwardingText(m: MappingStatus): string {
  const from = m.publicAddress ?? (m.remotePort > 0 ? `:${m.remotePort}` : ':-');
  const to = m.local ?? (m.agents && m.agents.length > 0 ? m.agents.join(',') : 'no agent');
  return `${m.protocol} ${from} -> ${to}`;
}

/**
 * The mappings panel. Two columns show the LAN side: LAN connect errors and mean LAN connect time; on a
 * relay summed over the agents serving the mapping (stats.query), on an agent its own.
 */
export function mappingColumns(role?: Status['role']): readonly Column[] {
  // At 80 columns a relay's forwarding line needs the room, and errors are what an operator acts on; an
  // agent's forwarding line names its LAN target, so there both columns wait for a wide terminal.
  const lan: Column[] =
    role === 'relay'
      ? [
          { title: 'lan err', width: 7, align: 'right' },
          { title: 'lan ms', width: 6, align: 'right', hideBelow: 90 },
        ]
      : role === 'agent'
        ? [
            { title: 'lan err', width: 7, align: 'right', hideBelow: 110 },
            { title: 'lan ms', width: 6, align: 'right', hideBelow: 110 },
          ]
        : [];
  return [
    { title: 'mapping', width: 7, max: 16, flex: 1 },
    { title: 'forwarding', width: 16, max: 64, flex: 3 },
    { title: 'open', width: 4, align: 'right' },
    { title: 'total', width: 5, align: 'right' },
    { title: '/min', width: 4, align: 'right', hideBelow: 90 },
    { title: 'rate', width: 8, align: 'right' },
    { title: 'trend', width: 12, hideBelow: 110 },
    ...lan,
    { title: 'state', width: 5, max: 12 },
  ];
}

/** A mapping's state word: disabled, its error code when failed, else its phase. */
function stateOf(m: MappingStatus): { text: string; color: string | undefined } {
  if (m.disabled) return { text: 'disabled', color: PHASE_COLOR.disabled };
  if (m.phase === 'failed' && m.error) return { text: shortCode(m.error.code), color: 'red' };
  return { text: m.phase, color: PHASE_COLOR[m.phase] };
}

/** A mapping's row; `lan` (relay only: pass null when unknown) fills the agents' side columns. */
export function mappingCells(
  m: MappingStatus,
  trend: MappingTrend | undefined,
  lan?: LanSide | null,
): Cell[] {
  const st = stateOf(m);
  const lanCells: Cell[] =
    lan === undefined
      ? []
      : [
          lan === null
            ? { text: '-' }
            : {
                text: shortCount(lan.connectErrors),
                ...(lan.connectErrors > 0 ? { color: 'red' } : {}),
              },
          { text: lan === null ? '-' : shortRtt(lan.connectMsAvg) },
        ];
  return [
    { text: m.name },
    { text: forwardingText(m) },
    { text: String(m.activeFlows ?? m.activeStreams) },
    { text: shortCount(m.totalFlows ?? m.totalStreams) },
    { text: trend?.perMinute === undefined ? '-' : shortCount(trend.perMinute) },
    { text: shortRate(trend?.bytesPerSec) },
    { text: sparkline(trend?.spark ?? [], 12), color: 'cyan' },
    ...lanCells,
    st,
  ];
}

export { mappingKey };
