// Real relay and agent processes with UDP (and TCP) mappings for the UDP integration tests: profiles with
// flow tuning, the admin endpoint and /metrics on port 0, visitor sockets, and third-party daemons.
// It knows the log vocabulary (`listening`, `mapping ready`) and the status snapshot, not the internals.
import dgram from 'node:dgram';
import { spawn, type ChildProcess } from 'node:child_process';
import { stringify } from 'yaml';
import { AdminClient } from '../../src/admin/admin-client.ts';
import type { AgentStatus, RelayStatus } from '../../src/observe/status.ts';
import type { XnatProcess } from '../helpers/procs.ts';
import { waitFor } from '../helpers/procs.ts';
import { WAIT_MS, type TestEnv } from '../e2e/lib/env.ts';
import { makeKeys, type Keys } from '../e2e/lib/profiles.ts';

export const ADMIN_TOKEN = 'udp-test-admin-token-0123456789';
/** Ports the relays of these tests may give out, both protocols. */
export const ALLOW_BOTH = ['20000-60000/udp', '20000-60000/tcp'];

export interface UdpMapping {
  readonly name: string;
  readonly protocol?: 'udp' | 'tcp';
  /** Default 0: the relay picks. */
  readonly remotePort?: number;
  readonly localPort: number;
  /** udp only, e.g. '30s'. */
  readonly idleTimeout?: string;
  /** More keys of the mapping as the profile writes them (weight, proxyProtocol, bandwidth, compress). */
  readonly extra?: Record<string, unknown>;
}

export interface Proc {
  readonly proc: XnatProcess;
  /** The admin endpoint's port and /metrics port, from their `listening` lines. */
  readonly adminPort: number;
  readonly metricsPort: number;
}

async function ports(proc: XnatProcess): Promise<{ adminPort: number; metricsPort: number }> {
  const admin = await proc.waitForLog({ msg: 'listening', what: 'admin' }, WAIT_MS);
  const metrics = await proc.waitForLog({ msg: 'listening', what: 'metrics' }, WAIT_MS);
  return { adminPort: admin.port as number, metricsPort: metrics.port as number };
}

const observe = {
  admin: { listen: '127.0.0.1:0', token: ADMIN_TOKEN },
  metrics: { listen: '127.0.0.1:0' },
};

/** Starts `xnat relay` accepting `agents` on ALLOW_BOTH; resolves once its control, admin and metrics listen. */
export async function startRelay(
  env: TestEnv,
  keys: Keys,
  agents: ReadonlyArray<{ name: string; keys: Keys; extra?: Record<string, unknown> }>,
  tuning: Record<string, unknown> = {},
  /** More top-level blocks of the profile (e.g. visitors). */
  extra: Record<string, unknown> = {},
): Promise<Proc & { controlPort: number; profilePath: string }> {
  const path = env.write('relay.yaml', relayYaml(keys, agents, tuning, extra));
  const proc = env.start(['relay', '--profile', path], { name: 'relay' });
  const control = await proc.waitForLog({ msg: 'listening', what: 'control' }, WAIT_MS);
  return { proc, controlPort: control.port as number, profilePath: path, ...(await ports(proc)) };
}

/** The relay profile startRelay writes (rewrite it with other `extra` and reload to change it live). */
export function relayYaml(
  keys: Keys,
  agents: ReadonlyArray<{ name: string; keys: Keys; extra?: Record<string, unknown> }>,
  tuning: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): string {
  return stringify({
    relay: { listen: '127.0.0.1:0', privateKey: keys.privateKey, publicHost: '127.0.0.1' },
    agents: agents.map((a) => ({
      name: a.name,
      publicKey: a.keys.publicKey,
      allow: ALLOW_BOTH,
      ...a.extra,
    })),
    tuning: { keepaliveInterval: '200ms', keepaliveTimeout: '1s', ...tuning },
    ...observe,
    ...extra,
  });
}

/** Starts `xnat agent` `name`; resolves once every mapping is ready, with their public ports by name. */
export async function startAgent(
  env: TestEnv,
  opts: {
    name: string;
    keys: Keys;
    relayPort: number;
    relayKeys: Keys;
    mappings: readonly UdpMapping[];
    tuning?: Record<string, unknown>;
  },
): Promise<Proc & { ports: Record<string, number> }> {
  const path = env.write(
    `${opts.name}.yaml`,
    stringify({
      agent: { name: opts.name, privateKey: opts.keys.privateKey },
      relays: [{ address: `127.0.0.1:${opts.relayPort}`, publicKey: opts.relayKeys.publicKey }],
      mappings: opts.mappings.map((m) => ({
        name: m.name,
        protocol: m.protocol ?? 'udp',
        remotePort: m.remotePort ?? 0,
        local: `127.0.0.1:${m.localPort}`,
        ...(m.idleTimeout ? { idleTimeout: m.idleTimeout } : {}),
        ...m.extra,
      })),
      reconnect: { initialDelay: '50ms', maxDelay: '500ms' },
      tuning: { keepaliveInterval: '200ms', keepaliveTimeout: '1s', ...opts.tuning },
      ...observe,
    }),
  );
  const proc = env.start(['agent', '--profile', path], { name: opts.name });
  const found: Record<string, number> = {};
  for (const m of opts.mappings) {
    const line = await proc.waitForLog({ msg: 'mapping ready', mapping: m.name }, WAIT_MS);
    found[m.name] = line.remotePort as number;
  }
  return { proc, ports: found, ...(await ports(proc)) };
}

/** A relay accepting one agent `home` (fresh keys for both) and that agent serving `mappings`. */
export async function startHome(
  env: TestEnv,
  mappings: readonly UdpMapping[],
): Promise<{
  relay: Awaited<ReturnType<typeof startRelay>>;
  agent: Awaited<ReturnType<typeof startAgent>>;
}> {
  const relayKeys = makeKeys();
  const keys = makeKeys();
  const relay = await startRelay(env, relayKeys, [{ name: 'home', keys }]);
  const agent = await startAgent(env, {
    name: 'home',
    keys,
    relayPort: relay.controlPort,
    relayKeys,
    mappings,
  });
  return { relay, agent };
}

/** Connects an admin client (closed at teardown). */
export async function admin(env: TestEnv, p: Proc): Promise<AdminClient> {
  const client = await AdminClient.connect('127.0.0.1', p.adminPort, ADMIN_TOKEN);
  env.onDispose(() => client.close());
  return client;
}

export async function relayStatus(client: AdminClient): Promise<RelayStatus> {
  const s = await client.status();
  if (s.role !== 'relay') throw new Error('not a relay');
  return s;
}

export async function agentStatus(client: AdminClient): Promise<AgentStatus> {
  const s = await client.status();
  if (s.role !== 'agent') throw new Error('not an agent');
  return s;
}

/** GET /metrics as text. */
export async function metrics(p: Proc): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${p.metricsPort}/metrics`);
  return res.text();
}

/** The value of one sample of /metrics text (0 when absent), e.g. sample(text, 'x_total', {cause: 'a'}). */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/**
 * A UDP echo server on 127.0.0.1 that answers `${tag}${datagram}`; with `showPort`, `${tag}${port}:${datagram}`
 * where port is the sender's (the agent's LAN socket of the flow).
 */
export async function udpEcho(env: TestEnv, tag = 'echo:', showPort = false): Promise<number> {
  const s = dgram.createSocket('udp4');
  s.on('message', (msg, rinfo) => {
    const head = showPort ? `${tag}${rinfo.port}:` : tag;
    s.send(Buffer.concat([Buffer.from(head), msg]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  env.onDispose(() => s.close());
  return s.address().port;
}

/** A visitor socket bound on `address` (any 127.x address works on loopback); closed at teardown. */
export async function visitor(env: TestEnv, address = '127.0.0.1'): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, address, resolve));
  env.onDispose(() => {
    try {
      s.close();
    } catch {
      // already closed by the test
    }
  });
  return s;
}

/**
 * Sends `text` once and waits up to `timeoutMs` for its answer (the first datagram that contains `text`:
 * the echo servers here repeat it); undefined when none came.
 */
export function askOnce(
  socket: dgram.Socket,
  port: number,
  text: string,
  timeoutMs = 3_000,
): Promise<string | undefined> {
  return new Promise((resolve) => {
    const onMessage = (m: Buffer) => {
      const answer = m.toString();
      if (!answer.includes(text)) return;
      clearTimeout(timer);
      socket.off('message', onMessage);
      resolve(answer);
    };
    const timer = setTimeout(() => {
      socket.off('message', onMessage);
      resolve(undefined);
    }, timeoutMs);
    socket.on('message', onMessage);
    socket.send(text, port, '127.0.0.1');
  });
}

/** A free UDP port on 127.0.0.1 that is also free for TCP (for a tcp and a udp mapping on one number). */
export async function freeBothPort(): Promise<number> {
  const net = await import('node:net');
  for (let i = 0; i < 50; i++) {
    const u = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => u.bind(0, '127.0.0.1', resolve));
    const port = u.address().port;
    const ok = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    u.close();
    if (ok && port >= 20000 && port <= 60000) return port;
  }
  throw new Error('no port free for both tcp and udp');
}

/** A third-party program run by the test, killed at teardown, with its output kept. */
export interface Daemon {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves once the output contains `text`; rejects if the program exits first. */
  waitFor(text: string): Promise<void>;
}

export function spawnDaemon(env: TestEnv, cmd: string, args: readonly string[]): Daemon {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const collect = (text: string) => (out = (out + text).slice(-64 * 1024));
  child.stdout!.setEncoding('utf8').on('data', collect);
  child.stderr!.setEncoding('utf8').on('data', collect);
  child.on('error', (err) => collect(`spawn error: ${err.message}\n`));
  env.onDispose(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    child,
    output: () => out,
    waitFor: (text) =>
      waitFor(
        () => {
          if (out.includes(text)) return true;
          if (child.exitCode !== null || child.signalCode !== null)
            throw new Error(`${cmd} exited before "${text}":\n${out}`);
          return false;
        },
        WAIT_MS,
        `${cmd} to print "${text}" (output: ${out.slice(-500)})`,
      ),
  };
}
