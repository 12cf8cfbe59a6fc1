// `xnat dashboard`: the interactive terminal UI for a running relay or agent, through its admin endpoint.
// It only wires the admin client into src/tui; the screen itself lives there.
import type { Command } from 'commander';
import { AdminClient } from '../admin/admin-client.ts';
import { XnatError } from '../errors.ts';
import { parseDuration } from '../util/bytes.ts';
import { capOldGeneration } from '../tui/heap-cap.ts';
import { runDashboard, DEFAULT_INTERVAL_MS, type ConnectSource } from '../tui/index.ts';
import { resolveAdminTarget, type AdminTarget } from './admin-target.ts';

/** Bounds of --interval, in ms, as the admin endpoint accepts them (admin.subscribe). */
const MIN_INTERVAL_MS = 100;
const MAX_INTERVAL_MS = 60_000;

/** A ConnectSource that opens a fresh authenticated admin client on every call (first try and retries). */
export function adminSource(target: AdminTarget): ConnectSource {
  // AdminClient already has the DashboardSource shape (status, subscribe, logs, the actions, close).
  return () => AdminClient.connect(target.host, target.port, target.token);
}

/** Parses --interval ("1s", "500ms", "2000"); XNAT_ERR_CLI_USAGE outside 100 ms..60 s. */
export function parseInterval(text: string): number {
  const ms = parseDuration(/^\d+$/.test(text) ? Number(text) : text);
  if (ms === undefined || ms < MIN_INTERVAL_MS || ms > MAX_INTERVAL_MS) {
    throw new XnatError('XNAT_ERR_CLI_USAGE', { detail: '--interval must be between 100ms and 60s' });
  }
  return ms;
}

export function addDashboardCommand(program: Command): void {
  program
    .command('dashboard')
    .description('interactive terminal dashboard of a running relay or agent (through its admin endpoint)')
    .option('-p, --profile <file>', 'profile of the running relay or agent (its admin block)')
    .option('--admin <host:port>', 'admin endpoint address (instead of --profile)')
    .option('--token <token>', 'admin token (default: XNAT_ADMIN_TOKEN)')
    .option('--interval <duration>', 'refresh interval (100ms..60s)', `${DEFAULT_INTERVAL_MS}ms`)
    .action(async (opts: { profile?: string; admin?: string; token?: string; interval: string }) => {
      const intervalMs = parseInterval(opts.interval);
      const target = await resolveAdminTarget(opts);
      // Here rather than in runDashboard: `xnat demo` draws the same screen in a process carrying a relay.
      const stopCap = capOldGeneration();
      try {
        await runDashboard({ connect: adminSource(target), intervalMs });
      } finally {
        stopCap();
      }
    });
}
