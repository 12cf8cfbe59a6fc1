// The dashboard screen: header, status line, the sessions / mappings / connections / reconnects / logs
// panels and a footer with the keys; actions on the selection after a y/n confirmation. It reads
// DashboardController state only; it knows nothing of sockets.
import { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { Box, Text, useApp, useInput, useStdout, type Key } from 'ink';
import type { Status } from '../observe/status.ts';
import type { LogLevelName } from '../observe/log-ring.ts';
import type { DashboardController, DashboardState } from './controller.ts';
import { RETRY_MS } from './controller.ts';
import { Table } from './table.tsx';
import { shortCode } from './format.ts';
import { layout, PANELS, type Panel } from './layout.ts';
import { lanSideOf, ownLanSide } from './agent-side.ts';
import { selectionActions, type Confirm } from './actions.ts';
import {
  headerText,
  mappingCells,
  mappingColumns,
  mappingKey,
  sessionCells,
  sessionColumns,
  sessionRows,
} from './view-model.ts';
import {
  CONNECTION_COLUMNS,
  HISTORY_COLUMNS,
  LOG_COLUMNS,
  LOG_FILTERS,
  connectionRows,
  historyRows,
  logRows,
} from './view-rows.ts';

/** Terminal size assumed when the output stream does not say (pipes, tests). */
const DEFAULT_COLUMNS = 80;
const DEFAULT_ROWS = 24;
/** How long an action's result stays on the status line, in ms. */
export const NOTICE_MS = 5_000;

export interface AppProps {
  readonly controller: DashboardController;
  /** Wall clock for uptimes when a snapshot carries no time, ms since the epoch; default Date.now. */
  readonly wallNow?: () => number;
  /** Called after q / Ctrl+C, once the controller is closed. */
  readonly onQuit?: () => void;
  /**
   * A short hint shown first on the status line; a function of the snapshot on screen follows it (the
   * demo's "try: curl ..." names the port the mapping has now).
   */
  readonly note?: string | ((s: Status | undefined) => string | undefined);
  /** How long action results stay on the status line; default NOTICE_MS. */
  readonly noticeMs?: number;
}

function useTerminalSize(): { columns: number; rows: number } {
  const { stdout } = useStdout();
  const read = () => ({ columns: stdout.columns || DEFAULT_COLUMNS, rows: stdout.rows || DEFAULT_ROWS });
  const [size, setSize] = useState(read);
  useEffect(() => {
    const onResize = () => setSize(read());
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout]);
  return size;
}

interface Notice {
  readonly text: string;
  readonly color: string;
  readonly id: number;
}

function StatusLine(props: { state: DashboardState; intervalMs: number; note?: string; notice?: Notice }) {
  const { state, note, notice } = props;
  if (state.connection === 'lost') {
    const why = state.lastError ? `${shortCode(state.lastError.code)}: ${state.lastError.message}` : '';
    const tries = state.failedAttempts > 0 ? ` (${state.failedAttempts} failed)` : '';
    return (
      <Text wrap="truncate" color="white" backgroundColor="red">
        {` admin connection lost – retrying every ${RETRY_MS / 1000} s${tries} · ${why} `}
      </Text>
    );
  }
  if (state.connection === 'connecting') {
    return <Text color="yellow">connecting to the admin endpoint…</Text>;
  }
  if (notice) {
    return (
      <Text wrap="truncate" color={notice.color}>
        {notice.text}
      </Text>
    );
  }
  if (state.paused) {
    return (
      <Text wrap="truncate" color="black" backgroundColor="yellow">
        {' PAUSED – press p to resume '}
      </Text>
    );
  }
  const every = props.intervalMs >= 1000 ? `${props.intervalMs / 1000} s` : `${props.intervalMs} ms`;
  return (
    <Text wrap="truncate" dimColor>
      {note && <Text color="cyan">{`${note} · `}</Text>}
      {`live · every ${every} · ${state.received} snapshot${state.received === 1 ? '' : 's'}`}
    </Text>
  );
}

export function App({ controller, wallNow = Date.now, onQuit, note, noticeMs = NOTICE_MS }: AppProps) {
  const state = useSyncExternalStore(controller.subscribe, controller.getState);
  const { exit } = useApp();
  const { columns, rows } = useTerminalSize();
  const [focus, setFocus] = useState<Panel>('sessions');
  const [selected, setSelected] = useState<Partial<Record<Panel, string>>>({});
  const [offsets, setOffsets] = useState<Record<Panel, number>>({
    sessions: 0,
    mappings: 0,
    connections: 0,
    history: 0,
    logs: 0,
  });
  const [confirm, setConfirm] = useState<Confirm | undefined>(undefined);
  const [notice, setNotice] = useState<Notice | undefined>(undefined);
  const [logLevel, setLogLevel] = useState<LogLevelName>('info');
  const noticeSeq = useRef(0);

  useEffect(() => {
    controller.start();
  }, [controller]);
  // A result line clears by itself, so the key legend and live line come back.
  useEffect(() => {
    if (!notice) return;
    const t = setTimeout(() => setNotice((n) => (n?.id === notice.id ? undefined : n)), noticeMs);
    return () => clearTimeout(t);
  }, [notice, noticeMs]);
  const show = (text: string, color: string) => setNotice({ text, color, id: ++noticeSeq.current });

  const status = state.status;
  const role = status?.role;
  const sessions = status ? sessionRows(status) : [];
  // Selection follows the item's key, not the row index, across snapshots; a vanished one falls back to the first.
  const pick = <T extends { key: string }>(panel: Panel, list: readonly T[]) => {
    const i = list.findIndex((r) => r.key === selected[panel]);
    const cursor = list.length === 0 ? -1 : i >= 0 ? i : 0;
    return { cursor, item: cursor >= 0 ? list[cursor] : undefined };
  };
  const sel = pick('sessions', sessions);
  const session = sel.item;
  const mappingList = (status?.mappings ?? []).map((m) => ({ key: mappingKey(m), m }));
  const mapSel = pick('mappings', mappingList);
  const conns = connectionRows(session?.session, state.itemRates);
  const connSel = pick('connections', conns);
  const history = historyRows(session?.reconnects ?? []);
  const logs = logRows(state.logs, logLevel);
  const lengths: Record<Panel, number> = {
    sessions: sessions.length,
    mappings: mappingList.length,
    connections: conns.length,
    history: history.length,
    logs: logs.length,
  };
  const lay = layout(columns, rows, lengths);
  const heights = lay.heights;
  const cursors: Partial<Record<Panel, number>> = {
    sessions: sel.cursor,
    mappings: mapSel.cursor,
    connections: connSel.cursor,
  };
  const keyed: Partial<Record<Panel, readonly { key: string }[]>> = {
    sessions,
    mappings: mappingList,
    connections: conns,
  };

  const quit = () => {
    controller.close();
    onQuit?.();
    exit();
  };

  const move = (delta: number) => {
    const list = keyed[focus];
    if (list) {
      if (list.length === 0) return;
      const next = Math.max(0, Math.min(list.length - 1, (cursors[focus] ?? 0) + delta));
      setSelected((s) => ({ ...s, [focus]: list[next]!.key }));
      // Keep the selected row inside the window.
      setOffsets((o) => {
        const top = Math.min(o[focus], next);
        return { ...o, [focus]: Math.max(top, next - heights[focus] + 1) };
      });
      return;
    }
    const max = Math.max(0, lengths[focus] - heights[focus]);
    setOffsets((o) => ({ ...o, [focus]: Math.max(0, Math.min(max, o[focus] + delta)) }));
  };

  const actions = selectionActions({
    controller,
    role,
    session,
    mapping: mapSel.item?.m,
    connection: connSel.item,
    show,
    ask: (question, run) => setConfirm({ question, run }),
  });

  const onKey = (input: string, key: Key) => {
    if (key.ctrl && input === 'c') return quit();
    if (confirm) {
      setConfirm(undefined);
      if (input === 'y' || input === 'Y') {
        show('working…', 'yellow');
        void confirm.run().then((r) => show(r.text, r.color));
      } else show('cancelled', 'gray');
      return;
    }
    if (input === 'q') return quit();
    if (key.tab) {
      // Functional: several keys typed before a render still move one panel each.
      const step = key.shift ? PANELS.length - 1 : 1;
      setFocus((f) => PANELS[(PANELS.indexOf(f) + step) % PANELS.length]!);
    } else if (key.upArrow || input === 'k') move(-1);
    else if (key.downArrow || input === 'j') move(1);
    else if (key.pageUp) move(-heights[focus]);
    else if (key.pageDown) move(heights[focus]);
    else if (input === 'K') actions.kick();
    else if (input === 'x') actions.close();
    else if (input === 'd') actions.toggle();
    else if (input === 'r') actions.reload();
    else if (input === 'l') {
      setLogLevel((l) => LOG_FILTERS[(LOG_FILTERS.indexOf(l) + 1) % LOG_FILTERS.length]!);
      setOffsets((o) => ({ ...o, logs: 0 }));
    } else if (input === 'p') controller.togglePause();
  };
  // ink re-subscribes a new handler only when its effects flush, which can lag a render behind; a key
  // must always see the state on screen (a confirmation prompt above all), so go through a ref.
  const onKeyRef = useRef(onKey);
  onKeyRef.current = onKey;
  useInput((input, key) => onKeyRef.current(input, key));

  const who = session ? ` of ${session.label}` : '';
  const panel = (p: Panel, width: number) => {
    const common = { width, height: heights[p], offset: offsets[p], focused: focus === p };
    switch (p) {
      case 'sessions':
        return (
          <Table
            key={p}
            {...common}
            title={role === 'agent' ? 'Relays' : 'Sessions'}
            columns={sessionColumns(role)}
            rows={sessions.map((r) => sessionCells(r, r.session ? state.rates.get(r.session.id) : undefined))}
            cursor={sel.cursor}
            empty={status ? '(no session)' : '(waiting for the first snapshot)'}
          />
        );
      case 'mappings':
        return (
          <Table
            key={p}
            {...common}
            title="Mappings"
            columns={mappingColumns(role)}
            rows={mappingList.map(({ key, m }) =>
              mappingCells(
                m,
                state.trends.get(key),
                role === 'relay' ? (lanSideOf(m, state.agentSide) ?? null) : ownLanSide(m),
              ),
            )}
            cursor={focus === 'mappings' ? mapSel.cursor : undefined}
          />
        );
      case 'connections':
        return (
          <Table
            key={p}
            {...common}
            title={`Connections and flows${who}`}
            columns={CONNECTION_COLUMNS}
            rows={conns.map((c) => c.cells)}
            cursor={focus === 'connections' ? connSel.cursor : undefined}
          />
        );
      case 'history':
        return (
          <Table key={p} {...common} title={`Reconnects${who}`} columns={HISTORY_COLUMNS} rows={history} />
        );
      case 'logs':
        return (
          <Table
            key={p}
            {...common}
            title={`Log (${logLevel} and above)`}
            columns={LOG_COLUMNS}
            rows={logs}
            empty={state.logs.length === 0 ? '(no log lines yet)' : `(nothing at ${logLevel} or above)`}
          />
        );
    }
  };
  const noteText = typeof note === 'function' ? note(status) : note;
  const legend = [
    'jk/↑↓',
    'tab',
    role === 'relay' ? 'K kick' : undefined,
    'x close',
    role === 'relay' ? 'd on/off' : undefined,
    'r reload',
    'l log',
    `p ${state.paused ? 'resume' : 'pause'}`,
    'q quit',
  ]
    .filter(Boolean)
    .join(' · ');
  return (
    <Box flexDirection="column" width={columns}>
      <Text wrap="truncate" bold>
        {status ? headerText(status, wallNow()) : 'xnat dashboard'}
      </Text>
      <StatusLine state={state} intervalMs={controller.intervalMs} note={noteText} notice={notice} />
      {lay.wide ? (
        <Box flexDirection="row">
          <Box flexDirection="column" width={lay.leftWidth}>
            {lay.left.map((p) => panel(p, lay.leftWidth))}
          </Box>
          <Box flexDirection="column" width={lay.rightWidth} marginLeft={1}>
            {lay.right.map((p) => panel(p, lay.rightWidth))}
          </Box>
        </Box>
      ) : (
        lay.left.map((p) => panel(p, columns))
      )}
      {confirm ? (
        <Text wrap="truncate" color="yellow" bold>
          {`[y/n] ${confirm.question}`}
        </Text>
      ) : (
        <Text wrap="truncate" dimColor>
          {legend}
        </Text>
      )}
    </Box>
  );
}
