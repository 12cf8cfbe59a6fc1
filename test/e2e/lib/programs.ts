// Third-party LAN services for end-to-end tests: a throwaway OpenSSH server and a redis-server, each in the
// test's temp folder on a free loopback port, stopped at teardown. It knows nothing of xnat.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { promisify } from 'node:util';
import { waitFor } from '../../helpers/procs.ts';
import { WAIT_MS, freePort, type TestEnv } from './env.ts';

export const execFileAsync = promisify(execFile);

/** The sshd binary (sshd re-executes itself, so it must be started by absolute path). */
export const SSHD = '/usr/sbin/sshd';
/** Privilege separation folder sshd requires when started as root (the package's service unit makes it). */
const SSHD_PRIVSEP_DIR = '/run/sshd';

/** A started third-party server: its output so far and its process. */
interface Daemon {
  readonly child: ChildProcess;
  output: string;
}

/** Spawns `cmd args` and kills it (SIGKILL) at teardown; collects stdout and stderr together. */
function spawnDaemon(env: TestEnv, cmd: string, args: readonly string[]): Daemon {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const d: Daemon = { child, output: '' };
  const collect = (text: string) => (d.output = (d.output + text).slice(-64 * 1024));
  child.stdout!.setEncoding('utf8').on('data', collect);
  child.stderr!.setEncoding('utf8').on('data', collect);
  child.on('error', (err) => collect(`spawn error: ${err.message}\n`));
  env.onDispose(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return d;
}

/** Waits until the daemon's output contains `text`; fails early if it exits. */
async function waitForOutput(d: Daemon, text: string, what: string): Promise<void> {
  await waitFor(
    () => {
      if (d.output.includes(text)) return true;
      if (d.child.exitCode !== null || d.child.signalCode !== null)
        throw new Error(`${what} exited before "${text}":\n${d.output}`);
      return false;
    },
    WAIT_MS,
    `${what} to print "${text}" (output so far: ${d.output.slice(-500)})`,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${d.output.slice(-2000)}`);
  });
}

export interface Sshd {
  readonly port: number;
  /** The user to log in as (whoever runs the test). */
  readonly user: string;
  /** Private key file of the client key pair the server authorizes. */
  readonly clientKey: string;
}

/** Starts a throwaway sshd on 127.0.0.1:<free> with fresh host and client keys in the temp folder. */
export async function startSshd(env: TestEnv): Promise<Sshd> {
  const hostKey = env.path('ssh_host_ed25519_key');
  const clientKey = env.path('client_ed25519_key');
  for (const key of [hostKey, clientKey]) {
    await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'xnat-e2e', '-f', key]);
  }
  const authorizedKeys = env.write('authorized_keys', readFileSync(`${clientKey}.pub`, 'utf8'));
  const port = await freePort();
  const config = env.write(
    'sshd_config',
    [
      'ListenAddress 127.0.0.1',
      `Port ${port}`,
      `HostKey ${hostKey}`,
      `PidFile ${env.path('sshd.pid')}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      'PermitRootLogin yes',
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );
  if (process.getuid?.() === 0 && !existsSync(SSHD_PRIVSEP_DIR)) {
    mkdirSync(SSHD_PRIVSEP_DIR, { mode: 0o755 });
  }
  const d = spawnDaemon(env, SSHD, ['-D', '-e', '-f', config]);
  await waitForOutput(d, `Server listening on 127.0.0.1 port ${port}`, 'sshd');
  return { port, user: userInfo().username, clientKey };
}

/** Runs `ssh ... user@127.0.0.1 -p port command` non-interactively; resolves with its stdout. */
export async function sshRun(sshd: Sshd, port: number, command: string): Promise<string> {
  const { stdout } = await execFileAsync(
    'ssh',
    [
      '-F',
      '/dev/null',
      '-p',
      String(port),
      '-i',
      sshd.clientKey,
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      'ConnectTimeout=20',
      '-o',
      'LogLevel=ERROR',
      `${sshd.user}@127.0.0.1`,
      command,
    ],
    { timeout: WAIT_MS },
  );
  return stdout;
}

/** Starts redis-server on 127.0.0.1:<free> without persistence; resolves with its port. */
export async function startRedis(env: TestEnv): Promise<number> {
  const port = await freePort();
  const d = spawnDaemon(env, 'redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    env.dir,
  ]);
  await waitForOutput(d, 'Ready to accept connections', 'redis-server');
  return port;
}

/** Parses redis-benchmark -q output ("SET: 41152.26 requests per second, ...") into requests/s by test. */
export function parseBenchmark(output: string): Record<string, number> {
  const result: Record<string, number> = {};
  for (const line of output.split(/[\r\n]+/)) {
    const m = /^([A-Z_]+): ([\d.]+) requests per second/.exec(line.trim());
    if (m) result[m[1]!] = Number(m[2]);
  }
  return result;
}
