// The three paths a visitor can take to the LAN service: direct, through `ssh -R`, through xnat. Each
// starts its processes on 127.0.0.1, reports the public port and which pids form its two sides.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { encodeKey, generateKeyPair } from '../../../src/crypto/keys.ts';
import { startFaultProxy, type FaultProxy } from '../../helpers/fault-proxy.ts';
import { freePort } from './net.ts';
import { descendants, startProc, type BenchProc } from './procs.ts';

export type PathName = 'direct' | 'ssh' | 'xnat';
export const ALL_PATHS: readonly PathName[] = ['direct', 'ssh', 'xnat'];

/** Repository root: xnat processes run here. */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');
/** Time allowed for a path to come up (processes started, mapping ready), in milliseconds. */
const PATH_START_TIMEOUT_MS = 30_000;
/** Public ports the bench relay may pick from (remotePort 0); below Linux's ephemeral range. */
const BENCH_ALLOW = ['20000-29999/tcp', '20000-29999/udp'];
/** Streams per session allowed by the bench profiles: the idle measure opens 10 000. */
const BENCH_MAX_STREAMS = 16384;

export interface PathOptions {
  /** Raise the open-files limit of the path's processes to this many (the idle-stream measure). */
  readonly nofile?: number;
  /** Put a fault proxy between agent and relay (xnat) or between ssh and sshd. */
  readonly faultProxy?: boolean;
  /** xnat only: reverse mode (the relay dials the agent's listen port; the fault proxy sits on that path). */
  readonly reverse?: boolean;
  /** ssh only: `-tt` with a remote `sleep` (a tty turns Nagle off on both ends); default true. */
  readonly sshTty?: boolean;
  /** Extra node arguments for the xnat relay (e.g. --cpu-prof). */
  readonly relayNodeArgs?: readonly string[];
  readonly agentNodeArgs?: readonly string[];
  /** xnat only: the mapping's protocol; default tcp. */
  readonly protocol?: 'tcp' | 'udp';
  /**
   * xnat only: run the relay and the agent in these network namespaces (made by lib/netns.ts), the relay's
   * control listener on `relayHost` (the address the agent's namespace reaches it at).
   */
  readonly netns?: { readonly relay: string; readonly agent: string; readonly relayHost: string };
  /** xnat only: extra tuning lines for the agent's profile (`key: value`). */
  readonly agentTuning?: readonly string[];
}

/** A running path in front of one LAN target. */
export interface Path {
  readonly name: PathName;
  /** The port visitors connect to on 127.0.0.1. */
  readonly publicPort: number;
  /** Pids of the public side (xnat relay; sshd and its session processes); empty for direct. */
  relayPids(): number[];
  /** Pids of the private side (xnat agent; the ssh client); empty for direct. */
  agentPids(): number[];
  /** The fault proxy between agent and relay, or between ssh and sshd, when asked for. */
  readonly proxy?: FaultProxy;
  /** Main processes (for liveness checks). */
  readonly procs: readonly BenchProc[];
  /** Stops every process of the path (by pid) and removes its temp files; idempotent. */
  close(): Promise<void>;
}

export async function startPath(name: PathName, targetPort: number, opts: PathOptions = {}): Promise<Path> {
  if (name === 'direct') {
    return {
      name,
      publicPort: targetPort,
      relayPids: () => [],
      agentPids: () => [],
      procs: [],
      close: async () => {},
    };
  }
  return name === 'ssh' ? startSsh(targetPort, opts) : startXnat(targetPort, opts);
}

function closer(dir: string, procs: BenchProc[], proxy?: FaultProxy): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () =>
    (closing ??= (async () => {
      // The private side first, so the public side sees a clean disconnect rather than a dangling link.
      for (const p of [...procs].reverse()) await p.stop();
      await proxy?.close();
      rmSync(dir, { recursive: true, force: true });
    })());
}

// ---- ssh -R

async function startSsh(targetPort: number, opts: PathOptions): Promise<Path> {
  const dir = mkdtempSync(join(tmpdir(), 'xnat-bench-ssh-'));
  const procs: BenchProc[] = [];
  let proxy: FaultProxy | undefined;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= closer(dir, procs, proxy)());
  try {
    for (const key of ['host_key', 'client_key'])
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, key)]);
    copyFileSync(join(dir, 'client_key.pub'), join(dir, 'authorized_keys'));
    const config = [
      `ListenAddress 127.0.0.1`,
      `HostKey ${join(dir, 'host_key')}`,
      `PidFile none`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PermitRootLogin yes`,
      `StrictModes no`,
      `UsePAM no`,
      `PasswordAuthentication no`,
      `KbdInteractiveAuthentication no`,
      `AllowTcpForwarding yes`,
      `MaxStartups 100`,
      `LogLevel INFO`,
    ].join('\n');
    writeFileSync(join(dir, 'sshd_config'), `${config}\n`);
    // sshd refuses to start without its privilege-separation directory.
    mkdirSync('/run/sshd', { recursive: true });
    const sshPort = await freePort();
    const sshd = startProc(
      '/usr/sbin/sshd',
      ['-D', '-e', '-f', join(dir, 'sshd_config'), '-p', String(sshPort)],
      {
        name: 'sshd',
        nofile: opts.nofile,
      },
    );
    procs.push(sshd);
    await sshd.waitFor(
      (t) => (t.includes('Server listening') ? true : undefined),
      PATH_START_TIMEOUT_MS,
      'listening',
      true,
    );
    let dialPort = sshPort;
    if (opts.faultProxy) {
      proxy = await startFaultProxy(sshPort);
      dialPort = proxy.port;
    }
    const tty = opts.sshTty ?? true;
    const args = [
      ...(tty ? ['-tt'] : ['-N']),
      '-R',
      `0:127.0.0.1:${targetPort}`,
      '-p',
      String(dialPort),
      '-i',
      join(dir, 'client_key'),
      '-c',
      'aes128-gcm@openssh.com',
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      'ExitOnForwardFailure=yes',
      '-o',
      'ServerAliveInterval=0',
      'root@127.0.0.1',
      ...(tty ? ['exec sleep 2147483647'] : []),
    ];
    const ssh = startProc('ssh', args, { name: 'ssh', nofile: opts.nofile });
    procs.push(ssh);
    const publicPort = await ssh.waitFor(
      (t) => {
        const m = /Allocated port (\d+)/.exec(t);
        return m ? Number(m[1]) : undefined;
      },
      PATH_START_TIMEOUT_MS,
      '"Allocated port"',
      true,
    );
    const sshdPids = (): number[] => [sshd.pid, ...descendants(sshd.pid).filter((p) => isSshd(p))];
    return { name: 'ssh', publicPort, relayPids: sshdPids, agentPids: () => [ssh.pid], proxy, procs, close };
  } catch (err) {
    await close();
    throw err;
  }
}

function isSshd(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('sshd');
  } catch {
    return false;
  }
}

// ---- xnat

let cliHasRelay: boolean | undefined;

/** How to start an xnat role: the real CLI once it has `relay`/`agent`, the src/ stand-in before that. */
function xnatCommand(role: 'relay' | 'agent', profile: string, nodeArgs: readonly string[]): string[] {
  if (cliHasRelay === undefined) {
    let help = '';
    try {
      help = execFileSync(process.execPath, ['bin/xnat.js', '--help'], { cwd: REPO_ROOT, encoding: 'utf8' });
    } catch {
      help = '';
    }
    cliHasRelay = /^\s+relay\b/m.test(help) && /^\s+agent\b/m.test(help);
  }
  // XNAT_BENCH_NODE_ARGS="--max-semi-space-size=2" tries node or V8 flags on both roles without editing
  // code (V8 flags that NODE_OPTIONS refuses included).
  nodeArgs = [
    ...(process.env.XNAT_BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a.length > 0),
    ...nodeArgs,
  ];
  return cliHasRelay
    ? [...nodeArgs, 'bin/xnat.js', role, '--profile', profile]
    : [...nodeArgs, '--import=tsx', 'test/bench/lib/xnat-main.ts', role, profile];
}

/** True when the bench runs the real `xnat relay`/`xnat agent` commands (false: the src/ stand-in). */
export function usesRealCli(): boolean | undefined {
  return cliHasRelay;
}

async function startXnat(targetPort: number, opts: PathOptions): Promise<Path> {
  const dir = mkdtempSync(join(tmpdir(), 'xnat-bench-'));
  const procs: BenchProc[] = [];
  let proxy: FaultProxy | undefined;
  let closing: Promise<void> | undefined;
  // Built on first use so it sees the proxy, if one was started.
  const close = (): Promise<void> => (closing ??= closer(dir, procs, proxy)());
  try {
    const relayKeys = generateKeyPair();
    const agentKeys = generateKeyPair();
    // XNAT_BENCH_TUNING="streamWindow: 4MiB; replayBuffer: 32MiB" tries other tuning without editing code.
    const extra = (process.env.XNAT_BENCH_TUNING ?? '')
      .split(';')
      .map((t) => t.trim())
      .filter((t) => t.length > 0);
    const tuning = [`tuning:`, `  maxStreams: ${BENCH_MAX_STREAMS}`, ...extra.map((t) => `  ${t}`)];
    // Reverse mode: the agent listens on a port picked now; the relay dials it (through the proxy, if any).
    const agentPort = opts.reverse ? await freePort() : 0;
    if (opts.reverse && opts.faultProxy) proxy = await startFaultProxy(agentPort);
    const relayYaml = [
      `relay:`,
      `  listen: '${opts.netns?.relayHost ?? '127.0.0.1'}:0'`,
      `  privateKey: '${encodeKey(relayKeys.privateKey)}'`,
      `  publicHost: '127.0.0.1'`,
      `agents:`,
      `  - name: bench`,
      `    publicKey: '${encodeKey(agentKeys.publicKey)}'`,
      `    allow: [${BENCH_ALLOW.map((a) => `'${a}'`).join(', ')}]`,
      ...(opts.reverse ? [`    dial: '127.0.0.1:${proxy?.port ?? agentPort}'`] : []),
      ...tuning,
    ];
    writeFileSync(join(dir, 'relay.yaml'), `${relayYaml.join('\n')}\n`, { mode: 0o600 });
    const env = { XNAT_LOG_FORMAT: 'json' };
    // `ip netns exec` execs the command, so the pid measured is still node's.
    const inNs = (ns: string | undefined, args: string[]): [string, string[]] =>
      ns === undefined ? [process.execPath, args] : ['ip', ['netns', 'exec', ns, process.execPath, ...args]];
    const relay = startProc(
      ...inNs(opts.netns?.relay, xnatCommand('relay', join(dir, 'relay.yaml'), opts.relayNodeArgs ?? [])),
      {
        name: 'relay',
        cwd: REPO_ROOT,
        env,
        nofile: opts.nofile,
      },
    );
    procs.push(relay);
    const listening = await relay.waitForJson(
      (o) => o.msg === 'listening' && o.what === 'control',
      PATH_START_TIMEOUT_MS,
      'control listening',
    );
    let controlPort = Number(listening.port);
    if (opts.faultProxy && !opts.reverse) {
      proxy = await startFaultProxy(controlPort);
      controlPort = proxy.port;
    }
    const relayEntry = opts.reverse
      ? [`  - mode: reverse`, `    listen: '127.0.0.1:${agentPort}'`]
      : [`  - address: '${opts.netns?.relayHost ?? '127.0.0.1'}:${controlPort}'`];
    const agentYaml = [
      `agent:`,
      `  name: bench`,
      `  privateKey: '${encodeKey(agentKeys.privateKey)}'`,
      `relays:`,
      ...relayEntry,
      `    publicKey: '${encodeKey(relayKeys.publicKey)}'`,
      `mappings:`,
      `  - name: bench`,
      `    protocol: ${opts.protocol ?? 'tcp'}`,
      `    remotePort: 0`,
      `    local: '127.0.0.1:${targetPort}'`,
      ...tuning,
      ...(opts.agentTuning ?? []).map((t) => `  ${t}`),
    ];
    writeFileSync(join(dir, 'agent.yaml'), `${agentYaml.join('\n')}\n`, { mode: 0o600 });
    const agent = startProc(
      ...inNs(opts.netns?.agent, xnatCommand('agent', join(dir, 'agent.yaml'), opts.agentNodeArgs ?? [])),
      {
        name: 'agent',
        cwd: REPO_ROOT,
        env,
        nofile: opts.nofile,
      },
    );
    procs.push(agent);
    const ready = await agent.waitForJson(
      (o) => o.msg === 'mapping ready',
      PATH_START_TIMEOUT_MS,
      '"mapping ready"',
    );
    const publicPort = Number(ready.remotePort);
    return {
      name: 'xnat',
      publicPort,
      relayPids: () => [relay.pid],
      agentPids: () => [agent.pid],
      proxy,
      procs,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

// ---- the LAN service

export interface Service {
  readonly port: number;
  readonly proc: BenchProc;
  close(): Promise<void>;
}

/** Starts test/bench/lib/service.ts (`echo`, or `source` of `bytes` per connection) in its own process. */
export async function startService(
  mode: 'echo' | 'source',
  opts: { bytes?: number; nofile?: number } = {},
): Promise<Service> {
  const args = [
    '--import=tsx',
    'test/bench/lib/service.ts',
    mode,
    ...(mode === 'source' ? [String(opts.bytes ?? 0)] : []),
  ];
  const proc = startProc(process.execPath, args, {
    name: `service-${mode}`,
    cwd: REPO_ROOT,
    nofile: opts.nofile,
  });
  const hello = await proc.waitForJson(
    (o) => typeof o.port === 'number',
    PATH_START_TIMEOUT_MS,
    'service port',
  );
  return { port: Number(hello.port), proc, close: () => proc.stop() };
}
