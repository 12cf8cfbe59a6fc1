// Starts the dashboard on a terminal: first connection, alternate screen, ink render, clean exit.
// It knows nothing of admin endpoints or profiles; the caller passes how to connect (src/cli/dashboard.ts).
import { render } from 'ink';
import { setFlagsFromString } from 'node:v8';
import { XnatError } from '../errors.ts';
import type { Clock } from '../util/clock.ts';
import { App, type AppProps } from './app.tsx';
import { DashboardController } from './controller.ts';
import type { ConnectSource, DashboardSource } from './source.ts';

/**
 * V8 doubles its young generation (up to 2 x 16 MiB on 64-bit Node) whenever enough has survived its
 * scavenges, and a redraw every interval always leaves some: without this a dashboard grows by 20-30 MiB
 * of young generation in its first minute. A factor of 1 keeps it at the size start-up left (V8 still
 * shrinks it while little is allocated); frames cost no more CPU (docs/dashboard.md, "Memory"). The
 * dashboard is not the data path: only `xnat demo` runs a relay and an agent beside it, for a try-out.
 */
const YOUNG_GENERATION_FLAG = '--semi-space-growth-factor=1';

/** Terminal sequences to enter and leave the alternate screen (the shell's screen comes back on exit). */
const ENTER_ALT_SCREEN = '\u001b[?1049h\u001b[H';
const LEAVE_ALT_SCREEN = '\u001b[?1049l';

export interface RunDashboardOptions {
  /** Opens a connection to the admin endpoint; called again every 2 s after a loss. */
  readonly connect: ConnectSource;
  /** Push interval in ms (100..60 000); default 1 000. */
  readonly intervalMs?: number;
  readonly clock?: Clock;
  /** Default process.stdin; must be a TTY (keys are read in raw mode). */
  readonly stdin?: NodeJS.ReadStream;
  /** Default process.stdout. */
  readonly stdout?: NodeJS.WriteStream;
  /** Draw on the terminal's alternate screen; default true when stdout is a TTY. */
  readonly fullScreen?: boolean;
  /** A short hint shown on the status line, or one computed from the snapshot on screen. */
  readonly note?: AppProps['note'];
}

/**
 * Runs the dashboard until the user quits (q or Ctrl+C) or the process gets SIGTERM/SIGHUP.
 * The first connection is tried before drawing: a non-retryable failure (wrong token) rejects at once;
 * a retryable one (endpoint not up yet) opens the dashboard with its reconnect banner.
 */
export async function runDashboard(opts: RunDashboardOptions): Promise<void> {
  const stdin = opts.stdin ?? process.stdin;
  setFlagsFromString(YOUNG_GENERATION_FLAG);
  const stdout = opts.stdout ?? process.stdout;
  if (!stdin.isTTY) throw new XnatError('XNAT_ERR_TUI_NO_TTY', { detail: 'stdin is not a terminal' });

  let first: Promise<DashboardSource> | undefined = opts.connect();
  try {
    await first;
  } catch (err) {
    if (err instanceof XnatError && !err.retryable) throw err;
  }
  const connect: ConnectSource = () => {
    const p = first ?? opts.connect();
    first = undefined;
    return p;
  };
  const controller = new DashboardController({ connect, intervalMs: opts.intervalMs, clock: opts.clock });

  const fullScreen = opts.fullScreen ?? stdout.isTTY === true;
  let onScreen = false;
  const leaveScreen = () => {
    if (onScreen) stdout.write(LEAVE_ALT_SCREEN);
    onScreen = false;
  };
  if (fullScreen) {
    stdout.write(ENTER_ALT_SCREEN);
    onScreen = true;
  }
  // Whatever ends the process, give the user their shell screen back.
  process.once('exit', leaveScreen);
  const instance = render(<App controller={controller} note={opts.note} />, {
    stdin,
    stdout,
    exitOnCtrlC: false,
  });
  const onSignal = () => instance.unmount();
  process.once('SIGTERM', onSignal);
  process.once('SIGHUP', onSignal);
  try {
    await instance.waitUntilExit();
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    process.off('exit', leaveScreen);
    controller.close();
    instance.cleanup();
    leaveScreen();
  }
}
