// `xnat dashboard` in a real terminal: a private tmux server per test (its socket in the test's folder), one window per
// dashboard, keys sent with send-keys and the screen read with capture-pane. It knows nothing of xnat's
// screens; tests match what they expect in the captured text.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { REPO_ROOT, waitFor } from '../../helpers/procs.ts';
import { WAIT_MS, type TestEnv } from './env.ts';

const run = promisify(execFile);

/** True when a tmux binary is on PATH (CI installs it; see .ci/run). */
export async function haveTmux(): Promise<boolean> {
  try {
    await run('tmux', ['-V']);
    return true;
  } catch {
    return false;
  }
}

export interface TmuxPane {
  /** The pane's text now (capture-pane -p, no colours). */
  capture(): Promise<string>;
  /** Sends keys as tmux names them: 'Tab', 'Down', 'y', 'q'. */
  keys(...keys: string[]): Promise<void>;
  /** Captures until `ok` holds; rejects with the last screen at the deadline. */
  until(ok: (screen: string) => boolean, what: string, deadlineMs?: number): Promise<string>;
}

export class Tmux {
  /** The server's socket lives in the test's temp folder, removed with it. */
  private readonly socket: string;

  constructor(env: TestEnv) {
    this.socket = env.path(`tmux-${randomBytes(3).toString('hex')}.sock`);
    env.onDispose(() => this.tmux('kill-server').catch(() => {}));
  }

  private async tmux(...args: string[]): Promise<string> {
    const { stdout } = await run('tmux', ['-S', this.socket, '-f', '/dev/null', ...args], { cwd: REPO_ROOT });
    return stdout;
  }

  /**
   * Starts `node bin/xnat.js ...args` in a new detached session `name` of columns x rows; `envVars`
   * go to the command's environment only (a token stays off the command line).
   */
  async start(
    name: string,
    args: readonly string[],
    size: { columns: number; rows: number },
    envVars: Record<string, string> = {},
  ): Promise<TmuxPane> {
    const env = Object.entries(envVars).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    const quoted = ['node', 'bin/xnat.js', ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    await this.tmux(
      'new-session',
      '-d',
      '-s',
      name,
      '-x',
      String(size.columns),
      '-y',
      String(size.rows),
      '-c',
      REPO_ROOT,
      ...env,
      // The pane stays after the command ends, so a crash leaves its last words on screen.
      `${quoted}; echo "[exited $?]"; sleep 600`,
    );
    const capture = () => this.tmux('capture-pane', '-p', '-t', name);
    return {
      capture,
      keys: async (...keys) => {
        for (const k of keys) await this.tmux('send-keys', '-t', name, k);
      },
      until: async (ok, what, deadlineMs = WAIT_MS) => {
        let last = '';
        try {
          await waitFor(
            async () => {
              last = await capture();
              return ok(last);
            },
            deadlineMs,
            what,
          );
        } catch {
          throw new Error(`${what}: not on screen after ${deadlineMs} ms; last screen:\n${last}`);
        }
        return last;
      },
    };
  }
}
