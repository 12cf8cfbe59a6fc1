// A private Docker daemon for tests: its own data-root, exec-root and socket in a temp folder, no bridge
// and no iptables (containers use host networking), stopped and removed at teardown; and a base image
// made of this machine's node binary and its shared libraries (no registry is reachable here).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { waitFor } from '../../helpers/procs.ts';
import { execFileAsync } from './programs.ts';

const DOCKERD = '/usr/sbin/dockerd';
/** Debian's docker.io client: a 20.10 client builds with BuildKit through DOCKER_BUILDKIT=1, no buildx. */
const DEBIAN_CLIENT = '/usr/bin/docker';
/** Deadline for the daemon to answer on its socket, in ms. */
const DAEMON_START_MS = 60_000;

export interface Dockerd {
  /** Runs the docker client against this daemon; resolves with stdout (`stderr: true`: both, joined). */
  docker(args: readonly string[], opts?: { timeoutMs?: number; stderr?: boolean }): Promise<string>;
  /** The daemon's own log so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

/** Why no daemon can run here, or undefined when one may (dockerd and a client are installed). */
export function dockerUnavailable(): string | undefined {
  if (!existsSync(DOCKERD)) return `${DOCKERD} is not installed (apt-get install docker.io)`;
  if (!existsSync(DEBIAN_CLIENT) && spawnSync('sh', ['-c', 'command -v docker']).status !== 0)
    return 'no docker client';
  return undefined;
}

/** Starts dockerd; resolves once it answers, or rejects with its log (no privileges, no overlayfs...). */
export async function startDockerd(): Promise<Dockerd> {
  // Short path: the socket's path must fit in sockaddr_un (108 bytes).
  const dir = mkdtempSync('/tmp/xnat-dockerd-');
  const sock = `unix://${dir}/docker.sock`;
  let output = '';
  const child: ChildProcess = spawn(
    DOCKERD,
    [
      '--data-root',
      join(dir, 'data'),
      '--exec-root',
      join(dir, 'exec'),
      '--pidfile',
      join(dir, 'dockerd.pid'),
      '--host',
      sock,
      '--bridge',
      'none',
      '--iptables=false',
      '--ip6tables=false',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const collect = (t: Buffer) => (output = (output + t.toString()).slice(-32 * 1024));
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  child.on('error', (e) => (output += `spawn error: ${e.message}\n`));
  const client = existsSync(DEBIAN_CLIENT) ? DEBIAN_CLIENT : 'docker';
  const docker = async (args: readonly string[], opts: { timeoutMs?: number; stderr?: boolean } = {}) => {
    const { stdout, stderr } = await execFileAsync(client, ['--host', sock, ...args], {
      env: { ...process.env, DOCKER_BUILDKIT: '1', DOCKER_CLI_HINTS: 'false' },
      timeout: opts.timeoutMs ?? 120_000,
      maxBuffer: 16 << 20,
    });
    return opts.stderr ? `${stdout}${stderr}` : stdout;
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const gone = await Promise.race([
        new Promise<boolean>((r) => child.once('exit', () => r(true))),
        new Promise<boolean>((r) => setTimeout(() => r(false), 15_000).unref()),
      ]);
      if (!gone) child.kill('SIGKILL');
    }
    // dockerd unmounts its layers on a clean stop; leftovers would make rm fail, so unmount them first.
    spawnSync('sh', ['-c', `grep -o " ${dir}/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l`]);
    rmSync(dir, { recursive: true, force: true });
  };
  let up = false;
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) return true;
        up = await docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 5_000 }).then(
          () => true,
          () => false,
        );
        return up;
      },
      DAEMON_START_MS,
      'dockerd to answer',
    );
  } catch {
    // reported below
  }
  if (!up) {
    await stop();
    throw new Error(`dockerd did not start:\n${output.slice(-4000)}`);
  }
  return { docker, log: () => output, stop };
}

/**
 * Builds image `tag` FROM scratch with this machine's node binary, the shared libraries it links and a
 * world-writable /tmp: the stand-in for node:20-slim when no registry is reachable.
 */
export async function buildNodeBase(d: Dockerd, tag: string, workDir: string): Promise<void> {
  const ctx = join(workDir, 'base');
  const node = realpathSync(process.execPath);
  const files = [node];
  const ldd = spawnSync('ldd', [node], { encoding: 'utf8' }).stdout;
  for (const m of ldd.matchAll(/(\/\S+) \(0x/g)) files.push(m[1]!);
  for (const f of files) {
    const to = join(ctx, 'root', f === node ? '/usr/local/bin/node' : f);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(realpathSync(f), to);
  }
  mkdirSync(join(ctx, 'root', 'tmp'), { recursive: true });
  chmodSync(join(ctx, 'root', 'tmp'), 0o1777);
  writeFileSync(
    join(ctx, 'Dockerfile'),
    'FROM scratch\nCOPY root/ /\nENV PATH=/usr/local/bin\nENTRYPOINT ["/usr/local/bin/node"]\n',
  );
  await d.docker(['build', '--quiet', '--tag', tag, ctx]);
}
