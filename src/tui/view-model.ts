// Turns a relay or agent snapshot into the dashboard's rows: header text, session, mapping, stream and
// reconnect rows with their colours. Pure; it knows nothing of ink, keys or the admin connection.
import type { MappingStatus, SessionStatus, Status } from '../observe/status.ts';
import type { Cell, Column } from './table.tsx';
import type { SessionRate } from './rates.ts';
import { clockTime, shortBytes, shortCode, shortDuration, shortRate, shortRtt } from './format.ts';

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
}

const STATE_COLOR: Record<string, string> = {
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
};

export function sessionRows(s: Status): SessionRow[] {
  if (s.role === 'relay') {
    return s.sessions.map((x) => ({
      key: x.id,
      label: x.agent,
      state: x.state,
      session: x,
      kickable: x.agent,
    }));
  }
  return s.relays.map((r) => ({
    key: r.address,
    label: r.address,
    state: r.state,
    session: r.session,
    kickable: undefined,
  }));
}

/** The header line: role, name, version, uptime and where it listens or what it dials. */
export function headerText(s: Status, wallNow: number): string {
  const up = `up ${shortDuration(wallNow - s.startedAt)}`;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (s.role === 'relay') {
    const control = s.control ? `${s.control.address}:${s.control.port}` : '-';
    return `xnat relay ${s.version} · ${up} · control ${control} · ${plural(s.sessions.length, 'session')} · ${plural(s.mappings.length, 'mapping')}`;
  }
  const relays = s.relays.map((r) => `${r.address} ${r.state}`).join(', ') || 'no relay';
  return `xnat agent ${s.name} ${s.version} · ${up} · relay ${relays}`;
}

export const SESSION_COLUMNS: readonly Column[] = [
  { title: 'agent', width: 12, flex: 1 },
  { title: 'state', width: 10 },
  { title: 'rtt', width: 6, align: 'right' },
  { title: 'res', width: 3, align: 'right' },
  { title: 'sent', width: 7, align: 'right' },
  { title: 'sent/s', width: 8, align: 'right' },
  { title: 'recv', width: 7, align: 'right' },
  { title: 'recv/s', width: 8, align: 'right' },
  { title: 'replay', width: 6, align: 'right' },
];

/** Agent-side tables name the relay, not the agent, in the first column. */
export function sessionColumns(role: Status['role'] | undefined): readonly Column[] {
  if (role !== 'agent') return SESSION_COLUMNS;
  return [{ ...SESSION_COLUMNS[0]!, title: 'relay' }, ...SESSION_COLUMNS.slice(1)];
}

export function sessionCells(row: SessionRow, rate: SessionRate | undefined): Cell[] {
  const x = row.session;
  return [
    { text: row.label },
    { text: row.state, color: STATE_COLOR[row.state] },
    { text: x ? shortRtt(x.rttMs) : '-' },
    { text: x ? String(x.resumes) : '-' },
    { text: x ? shortBytes(x.bytesSent) : '-' },
    { text: shortRate(rate?.sentPerSec) },
    { text: x ? shortBytes(x.bytesReceived) : '-' },
    { text: shortRate(rate?.receivedPerSec) },
    { text: x ? shortBytes(x.replayBytes) : '-' },
  ];
}

/** The error column is wide only when some mapping failed; otherwise its room goes to the target column. */
export function mappingColumns(role: Status['role'] | undefined, anyError = false): readonly Column[] {
  return [
    { title: 'name', width: 10, flex: 1 },
    { title: 'proto', width: 5 },
    { title: 'port', width: 5, align: 'right' },
    { title: 'phase', width: 11 },
    { title: role === 'agent' ? 'local' : 'agents', width: 10, flex: 2 },
    { title: 'streams', width: 7, align: 'right' },
    anyError ? { title: 'error', width: 15, flex: 2 } : { title: 'error', width: 5 },
  ];
}

export function mappingCells(m: MappingStatus): Cell[] {
  return [
    { text: m.name },
    { text: m.protocol },
    { text: m.remotePort > 0 ? String(m.remotePort) : '-' },
    { text: m.phase, color: PHASE_COLOR[m.phase] },
    { text: m.local ?? m.agents?.join(',') ?? '' },
    { text: `${m.activeStreams}/${m.totalStreams}` },
    { text: shortCode(m.error?.code), color: 'red' },
  ];
}

export const STREAM_COLUMNS: readonly Column[] = [
  { title: 'id', width: 6, align: 'right' },
  { title: 'mapping', width: 12, flex: 1 },
  { title: 'visitor', width: 21, flex: 2 },
  { title: 'up', width: 7, align: 'right' },
  { title: 'down', width: 7, align: 'right' },
  { title: 'age', width: 7, align: 'right' },
];

export function streamRows(session: SessionStatus | undefined): Cell[][] {
  if (!session) return [];
  return [...session.streams]
    .sort((a, b) => a.id - b.id)
    .map((x) => [
      { text: String(x.id) },
      { text: x.mapping },
      { text: x.visitor },
      { text: shortBytes(x.bytesUp) },
      { text: shortBytes(x.bytesDown) },
      { text: shortDuration(x.ageMs) },
    ]);
}

export const HISTORY_COLUMNS: readonly Column[] = [
  { title: 'time', width: 8 },
  { title: 'event', width: 9 },
  { title: 'code', width: 20, flex: 1 },
];

/** Reconnect events of a session, newest first. */
export function historyRows(session: SessionStatus | undefined): Cell[][] {
  if (!session) return [];
  // Snapshots keep the history newest last; reversing keeps the order of events in the same millisecond.
  return [...session.reconnects]
    .reverse()
    .map((e) => [
      { text: clockTime(e.at) },
      { text: e.event, color: e.event === 'attached' ? 'green' : 'yellow' },
      { text: e.code ?? '' },
    ]);
}
