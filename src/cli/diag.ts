// `xnat diag`: fetches a diagnostic bundle through an admin endpoint (a relay's, an agent's own, or on a
// relay an agent's with --agent) and writes it to a file or stdout, with a progress bar on a terminal.
import type { Command } from 'commander';
import { once } from 'node:events';
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AdminClient } from '../admin/admin-client.ts';
import { XnatError, toXnatError } from '../errors.ts';
import { DIAG_MAX_BYTES, DIAG_MIN_BYTES } from '../protocol/index.ts';
import { formatBytes, parseSize } from '../util/bytes.ts';
import { resolveAdminTarget } from './admin-target.ts';

/** The default file name: `xnat-diag-<who>-<UTC time>.json` (who: the agent's name, or "local"). */
export function defaultDiagName(who: string, now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `xnat-diag-${who}-${stamp}.json`;
}

/** A progress bar of `width` cells: `[#####-----]  50%  1.0 MiB / 2.0 MiB`. */
export function progressBar(done: number, total: number, width = 24): string {
  const frac = total > 0 ? Math.min(1, done / total) : 1;
  const full = Math.round(frac * width);
  const pct = `${Math.floor(frac * 100)}%`.padStart(4);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${pct}  ${formatBytes(done)} / ${formatBytes(total)}`;
}

/** Parses --max-bytes ("1MiB", "65536"); XNAT_ERR_CLI_USAGE outside DIAG_MIN_BYTES..DIAG_MAX_BYTES. */
export function parseMaxBytes(text: string): number {
  const n = parseSize(text);
  if (n === undefined || n < DIAG_MIN_BYTES || n > DIAG_MAX_BYTES)
    throw new XnatError('XNAT_ERR_CLI_USAGE', {
      detail: `--max-bytes must be between ${formatBytes(DIAG_MIN_BYTES)} and ${formatBytes(DIAG_MAX_BYTES)}`,
    });
  return n;
}

/** Counts bytes on their way and reports them (at most every 100 ms on a terminal, so the bar never floods). */
function progressCounter(size: number, tty: boolean, label: string): Transform {
  let done = 0;
  let last = 0;
  const draw = (final: boolean) => {
    if (tty) process.stderr.write(`\r${label} ${progressBar(done, size)}${final ? '\n' : ''}`);
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      done += chunk.length;
      const now = Date.now();
      if (now - last >= 100) {
        last = now;
        draw(false);
      }
      cb(null, chunk);
    },
    flush(cb) {
      draw(true);
      cb();
    },
  });
}

/** Replaces C0 control bytes other than tab and newline, and DEL, by '?'. */
function controlFilter(): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const out = Buffer.from(chunk);
      for (let i = 0; i < out.length; i++) {
        const b = out[i]!;
        if ((b < 0x20 && b !== 0x09 && b !== 0x0a) || b === 0x7f) out[i] = 0x3f;
      }
      cb(null, out);
    },
  });
}

interface DiagOptions {
  profile?: string;
  admin?: string;
  token?: string;
  agent?: string;
  output?: string;
  maxBytes?: string;
}

async function runDiag(opts: DiagOptions): Promise<void> {
  const maxBytes = opts.maxBytes === undefined ? DIAG_MAX_BYTES : parseMaxBytes(opts.maxBytes);
  const target = await resolveAdminTarget(opts);
  const toStdout = opts.output === '-';
  const file = toStdout ? undefined : (opts.output ?? defaultDiagName(opts.agent ?? 'local'));
  const tty = process.stderr.isTTY === true;
  const who = opts.agent === undefined ? 'local' : `agent ${opts.agent}`;
  const client = await AdminClient.connect(target.host, target.port, target.token);
  try {
    const bundle = await client.diag(opts.agent, maxBytes);
    if (!tty) process.stderr.write(`diag: receiving ${formatBytes(bundle.size)} from ${who}\n`);
    const counter = progressCounter(bundle.size, tty, 'diag');
    if (!file) {
      // A bundle is JSON (control characters escaped); raw ones on a terminal come from a broken or hostile
      // peer and would move the cursor, so they print as '?'.
      const stages = process.stdout.isTTY ? [counter, controlFilter()] : [counter];
      await pipeline([bundle.source, ...stages, process.stdout], { end: false });
      await bundle.done;
      return;
    }
    // Written beside the target and renamed at the end: a failed transfer leaves no half bundle behind.
    const part = `${file}.part`;
    const out = createWriteStream(part, { mode: 0o600 });
    try {
      await once(out, 'open');
      await pipeline(bundle.source, counter, out);
      await bundle.done;
      renameSync(part, file);
    } catch (err) {
      rmSync(part, { force: true });
      if (!(err instanceof XnatError) && typeof (err as NodeJS.ErrnoException).code === 'string')
        throw new XnatError('XNAT_ERR_DIAG_OUTPUT', { detail: part, cause: err });
      // Why the transfer stopped, as the far side says it (an agent's session ended, say), says more.
      await bundle.done;
      throw toXnatError(err);
    }
    process.stderr.write(`diag: wrote ${file} (${formatBytes(bundle.size)})\n`);
  } finally {
    client.close();
  }
}

export function addDiagCommand(program: Command): void {
  program
    .command('diag')
    .description(
      'fetch a diagnostic bundle (versions, link history, status, redacted profile, recent logs) of a running relay or agent, or with --agent of an agent through its relay',
    )
    .option('-p, --profile <file>', 'profile of the running relay or agent (its admin block)')
    .option('--admin <host:port>', 'admin endpoint address (instead of --profile)')
    .option('--token <token>', 'admin token (default: XNAT_ADMIN_TOKEN)')
    .option('--agent <name>', "on a relay: the named agent's bundle, fetched over its session")
    .option('-o, --output <file>', 'where to write it ("-": stdout; default xnat-diag-<who>-<time>.json)')
    .option(
      '--max-bytes <size>',
      'largest bundle to accept (16KiB..4MiB; older log lines are dropped to fit)',
    )
    .action((opts: DiagOptions) => runDiag(opts));
}
