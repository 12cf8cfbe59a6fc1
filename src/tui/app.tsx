// The dashboard screen: header, status line, sessions / mappings / streams / reconnects panels and a
// footer, driven by keys. It reads DashboardController state only; it knows nothing of sockets.
import { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { Box, Text, useApp, useInput, useStdout, type Key } from 'ink';
import type { DashboardController, DashboardState } from './controller.ts';
import { RETRY_MS } from './controller.ts';
import { Table } from './table.tsx';
import { shortCode } from './format.ts';
import {
  HISTORY_COLUMNS,
  STREAM_COLUMNS,
  headerText,
  historyRows,
  mappingCells,
  mappingColumns,
  sessionCells,
  sessionColumns,
  sessionRows,
  streamRows,
} from './view-model.ts';

/** The panels in tab order. */
const PANELS = ['sessions', 'mappings', 'streams', 'history'] as const;
type Panel = (typeof PANELS)[number];

/** Terminal size assumed when the output stream does not say (pipes, tests). */
const DEFAULT_COLUMNS = 80;
const DEFAULT_ROWS = 24;
/** Lines that are not table rows: header, status line, footer, and a title and column header per panel. */
const FIXED_LINES = 3 + PANELS.length * 2;
/** Share of the table rows each panel gets (12 rows at 80x24: 4, 3, 3, 2). */
const ROW_WEIGHTS: Record<Panel, number> = { sessions: 4, mappings: 3, streams: 3, history: 2 };

export interface AppProps {
  readonly controller: DashboardController;
  /** Wall clock for uptimes, ms since the epoch; default Date.now. */
  readonly wallNow?: () => number;
  /** Called after q / Ctrl+C, once the controller is closed. */
  readonly onQuit?: () => void;
  /** A short hint shown first on the status line (the demo puts its "try: curl ..." there). */
  readonly note?: string;
}

/** Rows of table body per panel for a terminal of `rows` lines (one line kept free so ink never scrolls). */
export function panelHeights(rows: number): Record<Panel, number> {
  const body = Math.max(PANELS.length, rows - 1 - FIXED_LINES);
  const total = PANELS.reduce((n, p) => n + ROW_WEIGHTS[p], 0);
  const out = {} as Record<Panel, number>;
  let used = 0;
  for (const p of PANELS) {
    out[p] = Math.max(1, Math.floor((body * ROW_WEIGHTS[p]) / total));
    used += out[p];
  }
  out.streams += Math.max(0, body - used);
  return out;
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

function StatusLine({
  state,
  intervalMs,
  note,
}: {
  state: DashboardState;
  intervalMs: number;
  note?: string;
}) {
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
  if (state.paused) {
    return (
      <Text wrap="truncate" color="black" backgroundColor="yellow">
        {' PAUSED – press p to resume '}
      </Text>
    );
  }
  return (
    <Text wrap="truncate" dimColor>
      {note && <Text color="cyan">{`${note} · `}</Text>}
      {`live · every ${intervalMs >= 1000 ? `${intervalMs / 1000} s` : `${intervalMs} ms`} · ${state.received} snapshot${state.received === 1 ? '' : 's'}`}
    </Text>
  );
}

type Footer =
  { kind: 'confirm'; agent: string } | { kind: 'notice'; text: string; color: string } | undefined;

export function App({ controller, wallNow = Date.now, onQuit, note }: AppProps) {
  const state = useSyncExternalStore(controller.subscribe, controller.getState);
  const { exit } = useApp();
  const { columns, rows } = useTerminalSize();
  const [focus, setFocus] = useState<Panel>('sessions');
  const [selectedKey, setSelectedKey] = useState<string | undefined>(undefined);
  const [offsets, setOffsets] = useState<Record<Panel, number>>({
    sessions: 0,
    mappings: 0,
    streams: 0,
    history: 0,
  });
  const [footer, setFooter] = useState<Footer>(undefined);

  useEffect(() => {
    controller.start();
  }, [controller]);

  const status = state.status;
  const sessions = status ? sessionRows(status) : [];
  // Selection follows the session, not the row index, across snapshots; a vanished one falls back to the first.
  const found = sessions.findIndex((r) => r.key === selectedKey);
  const cursor = sessions.length === 0 ? -1 : found >= 0 ? found : 0;
  const selected = cursor >= 0 ? sessions[cursor] : undefined;
  const mappings = status ? status.mappings.map(mappingCells) : [];
  const streams = streamRows(selected?.session);
  const history = historyRows(selected?.session);
  const heights = panelHeights(rows);
  const lengths: Record<Panel, number> = {
    sessions: sessions.length,
    mappings: mappings.length,
    streams: streams.length,
    history: history.length,
  };

  const quit = () => {
    controller.close();
    onQuit?.();
    exit();
  };

  const move = (delta: number) => {
    if (focus === 'sessions') {
      if (sessions.length === 0) return;
      const next = Math.max(0, Math.min(sessions.length - 1, cursor + delta));
      setSelectedKey(sessions[next]!.key);
      // Keep the selected row inside the window.
      setOffsets((o) => {
        const top = Math.min(o.sessions, next);
        return { ...o, sessions: Math.max(top, next - heights.sessions + 1) };
      });
      return;
    }
    const max = Math.max(0, lengths[focus] - heights[focus]);
    setOffsets((o) => ({ ...o, [focus]: Math.max(0, Math.min(max, o[focus] + delta)) }));
  };

  const requestKick = () => {
    if (status?.role !== 'relay') {
      setFooter({ kind: 'notice', text: 'kick works on a relay dashboard only', color: 'yellow' });
    } else if (!selected?.kickable) {
      setFooter({ kind: 'notice', text: 'no session selected', color: 'yellow' });
    } else {
      setFooter({ kind: 'confirm', agent: selected.kickable });
    }
  };

  const kick = (agent: string) => {
    setFooter({ kind: 'notice', text: `kicking ${agent}…`, color: 'yellow' });
    controller.kick(agent).then(
      (kicked) =>
        setFooter({
          kind: 'notice',
          text: kicked ? `kicked ${agent}` : `${agent} had no session to kick`,
          color: kicked ? 'green' : 'yellow',
        }),
      (err: unknown) =>
        setFooter({
          kind: 'notice',
          text: `kick failed: ${shortCode((err as { code?: string }).code ?? 'XNAT_ERR_INTERNAL')}`,
          color: 'red',
        }),
    );
  };

  const onKey = (input: string, key: Key) => {
    if (key.ctrl && input === 'c') return quit();
    if (footer?.kind === 'confirm') {
      if (input === 'y' || input === 'Y') kick(footer.agent);
      else setFooter(undefined);
      return;
    }
    if (footer) setFooter(undefined);
    if (input === 'q') return quit();
    if (key.tab) {
      const i = PANELS.indexOf(focus);
      setFocus(PANELS[(i + (key.shift ? PANELS.length - 1 : 1)) % PANELS.length]!);
    } else if (key.upArrow || input === 'k') move(-1);
    else if (key.downArrow || input === 'j') move(1);
    else if (key.pageUp) move(-heights[focus]);
    else if (key.pageDown) move(heights[focus]);
    else if (input === 'K') requestKick();
    else if (input === 'p') controller.togglePause();
  };
  // ink re-subscribes a new handler only when its effects flush, which can lag a render behind; a key
  // must always see the state on screen (a confirmation prompt above all), so go through a ref.
  const onKeyRef = useRef(onKey);
  onKeyRef.current = onKey;
  useInput((input, key) => onKeyRef.current(input, key));

  const canKick = status?.role === 'relay';
  const who = selected ? ` of ${selected.label}` : '';
  return (
    <Box flexDirection="column" width={columns}>
      <Text wrap="truncate" bold>
        {status ? headerText(status, wallNow()) : 'xnat dashboard'}
      </Text>
      <StatusLine state={state} intervalMs={controller.intervalMs} note={note} />
      <Table
        title={status?.role === 'agent' ? 'Relays' : 'Sessions'}
        columns={sessionColumns(status?.role)}
        rows={sessions.map((r) => sessionCells(r, r.session ? state.rates.get(r.session.id) : undefined))}
        width={columns}
        height={heights.sessions}
        offset={offsets.sessions}
        cursor={cursor}
        focused={focus === 'sessions'}
        empty={status ? '(no session)' : '(waiting for the first snapshot)'}
      />
      <Table
        title="Mappings"
        columns={mappingColumns(status?.role, status?.mappings.some((m) => m.error) ?? false)}
        rows={mappings}
        width={columns}
        height={heights.mappings}
        offset={offsets.mappings}
        focused={focus === 'mappings'}
      />
      <Table
        title={`Streams${who}`}
        columns={STREAM_COLUMNS}
        rows={streams}
        width={columns}
        height={heights.streams}
        offset={offsets.streams}
        focused={focus === 'streams'}
      />
      <Table
        title={`Reconnects${who}`}
        columns={HISTORY_COLUMNS}
        rows={history}
        width={columns}
        height={heights.history}
        offset={offsets.history}
        focused={focus === 'history'}
      />
      {footer?.kind === 'confirm' ? (
        <Text wrap="truncate" color="yellow" bold>
          {`Kick agent ${footer.agent}? Its session and streams end; the agent starts a new one. (y/n)`}
        </Text>
      ) : footer?.kind === 'notice' ? (
        <Text wrap="truncate" color={footer.color}>
          {footer.text}
        </Text>
      ) : (
        <Text wrap="truncate" dimColor>
          {`↑↓/jk select · tab panel · ${canKick ? 'K kick · ' : ''}p ${state.paused ? 'resume' : 'pause'} · q quit`}
        </Text>
      )}
    </Box>
  );
}
