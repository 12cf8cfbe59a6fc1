// The dashboard's lower panels as rows: live connections and UDP flows of a session, its reconnect
// timeline, and recent log lines. Pure; it knows nothing of ink, keys or the admin connection.
import type { SessionStatus } from '../observe/status.ts';
import type { ReconnectEvent } from '../observe/status.ts';
import { LEVEL_VALUES, type LogEntry, type LogLevelName } from '../observe/log-ring.ts';
import type { Cell, Column } from './table.tsx';
import { itemKey } from './trends.ts';
import { clockTime, shortBytes, shortCode, shortDuration, shortRate } from './format.ts';

/** One live connection (stream) or UDP flow of a session, as the connections panel lists it. */
export interface ConnectionRow {
  /** Stable across snapshots: itemKey(). */
  readonly key: string;
  readonly kind: 'tcp' | 'udp';
  readonly id: number;
  readonly sessionId: string;
  readonly mapping: string;
  readonly visitor: string;
  readonly cells: Cell[];
}

export const CONNECTION_COLUMNS: readonly Column[] = [
  { title: 'kind', width: 4 },
  { title: 'id', width: 3, max: 10, align: 'right', hideBelow: 100 },
  { title: 'mapping', width: 7, max: 16, flex: 1 },
  { title: 'visitor', width: 15, max: 47, flex: 2 },
  { title: 'age', width: 6, align: 'right' },
  { title: 'up', width: 7, align: 'right' },
  { title: 'down', width: 7, align: 'right' },
  { title: 'rate', width: 8, align: 'right' },
];

/** Streams (by id) then flows (most recently active first) of one session. */
export function connectionRows(
  session: SessionStatus | undefined,
  rates: ReadonlyMap<string, number>,
): ConnectionRow[] {
  if (!session) return [];
  const streams = [...session.streams]
    .sort((a, b) => a.id - b.id)
    .map((x): ConnectionRow => {
      const key = itemKey(session.id, 'tcp', x.id);
      return {
        key,
        kind: 'tcp',
        id: x.id,
        sessionId: session.id,
        mapping: x.mapping,
        visitor: x.visitor,
        cells: [
          { text: 'tcp' },
          { text: String(x.id) },
          { text: x.mapping },
          { text: x.visitor },
          { text: shortDuration(x.ageMs) },
          { text: shortBytes(x.bytesUp) },
          { text: shortBytes(x.bytesDown) },
          { text: shortRate(rates.get(key)) },
        ],
      };
    });
  const flows = (session.flows ?? []).map((f): ConnectionRow => {
    const key = itemKey(session.id, 'udp', f.id);
    return {
      key,
      kind: 'udp',
      id: f.id,
      sessionId: session.id,
      mapping: f.mapping,
      visitor: f.visitor,
      cells: [
        { text: 'udp', color: 'magenta' },
        { text: String(f.id) },
        { text: f.mapping },
        { text: f.visitor },
        { text: shortDuration(f.ageMs) },
        { text: shortBytes(f.bytesUp) },
        { text: shortBytes(f.bytesDown) },
        { text: shortRate(rates.get(key)) },
      ],
    };
  });
  return [...streams, ...flows];
}

export const HISTORY_COLUMNS: readonly Column[] = [
  { title: 'time', width: 8 },
  { title: 'event', width: 8 },
  { title: 'for', width: 6, align: 'right' },
  { title: 'cause', width: 5, max: 30, flex: 1 },
];

/**
 * Reconnect events, newest first: 'attached' after an outage shows how long the outage lasted,
 * 'detached' how long the link had been up, and the code that ended it.
 */
export function historyRows(events: readonly ReconnectEvent[]): Cell[][] {
  // Snapshots keep the history newest last; reversing keeps the order of events in the same millisecond.
  return [...events]
    .reverse()
    .map((e) => [
      { text: clockTime(e.at) },
      { text: e.event, color: e.event === 'attached' ? 'green' : 'yellow' },
      { text: e.durationMs === undefined ? '' : shortDuration(e.durationMs) },
      { text: shortCode(e.code) },
    ]);
}

/** Filter levels in the order the l key cycles through them. */
export const LOG_FILTERS: readonly LogLevelName[] = ['debug', 'info', 'warn', 'error'];

const LEVEL_COLOR: Record<string, string | undefined> = {
  trace: 'gray',
  debug: 'gray',
  info: undefined,
  warn: 'yellow',
  error: 'red',
  fatal: 'red',
};

export const LOG_COLUMNS: readonly Column[] = [
  { title: 'time', width: 8 },
  { title: 'level', width: 5 },
  { title: 'message', width: 20, max: 400, flex: 1 },
];

/** Log lines at `min` or above, newest first. */
export function logRows(lines: readonly LogEntry[], min: LogLevelName): Cell[][] {
  const floor = LEVEL_VALUES[min];
  return lines
    .filter((l) => LEVEL_VALUES[l.level] >= floor)
    .reverse()
    .map((l) => [
      { text: clockTime(l.time) },
      { text: l.level, color: LEVEL_COLOR[l.level] },
      { text: l.fields ? `${l.msg}  ${l.fields}` : l.msg, color: LEVEL_COLOR[l.level] },
    ]);
}
