// Per-test environment for end-to-end tests: a temp folder, free ports, tracked processes and servers,
// all torn down when the test ends. It knows nothing of xnat's profiles or log lines.
import type { ExecutionContext } from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { startProcess, type StartOptions, type XnatProcess } from '../../helpers/procs.ts';

/** Deadline of one wait on a log line or condition; generous for a loaded 2-core machine. */
export const WAIT_MS = 30_000;
/** Grace period for a process asked to stop with SIGTERM before it is SIGKILLed, in milliseconds. */
const STOP_GRACE_MS = 3_000;

/** Something the environment closes at teardown (a server, a proxy, a socket). */
type Closer = () => unknown;

/** One test's temp folder, processes and servers; everything is released by the test's teardown. */
export class TestEnv {
  readonly dir: string;
  private readonly procs = new Set<XnatProcess>();
  private readonly closers: Closer[] = [];

  constructor(t: ExecutionContext) {
    this.dir = mkdtempSync(join(tmpdir(), 'xnat-e2e-'));
    t.teardown(() => this.dispose());
  }

  /** Writes `text` to `name` inside the temp folder (mode 600: profiles hold private keys); returns the path. */
  write(name: string, text: string): string {
    const path = join(this.dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  /** Starts `node bin/xnat.js ...args` and kills it at teardown. */
  start(args: readonly string[], opts: StartOptions = {}): XnatProcess {
    const p = startProcess(args, opts);
    this.procs.add(p);
    void p.exited.then(() => this.procs.delete(p));
    return p;
  }

  /** Runs a one-shot `xnat` command to its end; resolves with the process (exit, stdout lines, stderr). */
  async run(args: readonly string[], opts: StartOptions = {}): Promise<XnatProcess> {
    const p = this.start(args, { name: args[0], ...opts });
    p.stdin.end();
    await p.exited;
    return p;
  }

  /** Registers a closer run at teardown (in reverse order of registration). */
  onDispose(close: Closer): void {
    this.closers.push(close);
  }

  private async dispose(): Promise<void> {
    for (const close of this.closers.reverse()) {
      try {
        await close();
      } catch {
        // Teardown goes on: one stuck server must not leak the rest.
      }
    }
    await Promise.all([...this.procs].map((p) => p.stop('SIGKILL', STOP_GRACE_MS)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A TCP port that was free on 127.0.0.1 a moment ago (bound to port 0, then released). For the few
 * places that need a port known before a process starts (relay restart, fixed remotePort, admin).
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Whether `program` (a name on PATH or an absolute path) can be run. */
export function hasProgram(program: string): boolean {
  return spawnSync('sh', ['-c', `command -v "${program}"`], { stdio: 'ignore' }).status === 0;
}

/**
 * Whether tests needing `programs` should run: yes when all are installed, and also under CI (where a
 * missing program must fail the test, not skip it). Otherwise the caller skips, and this says why.
 */
export function programsAvailable(...programs: string[]): boolean {
  const missing = programs.filter((p) => !hasProgram(p));
  if (missing.length === 0 || process.env.CI) return true;
  console.warn(`e2e: skipping tests that need ${missing.join(', ')} (not installed; CI would fail them)`);
  return false;
}

/** Throws a clear error when a program is missing (the CI path of programsAvailable). */
export function requirePrograms(...programs: string[]): void {
  const missing = programs.filter((p) => !hasProgram(p));
  if (missing.length > 0) throw new Error(`required program(s) not installed: ${missing.join(', ')}`);
}
