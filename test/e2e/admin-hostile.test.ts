// End to end, a hostile local user against a real relay's admin endpoint: idle connections, pipelined
// wrong tokens and dripped oversize messages before auth; the operator's `xnat status` keeps working.
import ava, { type ExecutionContext } from 'ava';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { encodeMessage, MsgType } from '../../src/command/codec.ts';
import type { AdminEndpointStatus } from '../../src/observe/status.ts';
import { TestEnv, freePort, WAIT_MS } from './lib/env.ts';
import { startRelay, type RelayHandle } from './lib/cluster.ts';
import { makeKeys } from './lib/profiles.ts';

// Serial: real processes, and the counters each test reads are the relay's totals.
const test = ava.serial;

interface Raw {
  readonly socket: net.Socket;
  readonly closed: Promise<void>;
  received: number;
}

function connectRaw(port: number): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const raw: Raw = { socket, received: 0, closed: new Promise((d) => socket.once('close', () => d())) };
    socket.on('data', (d: Buffer) => (raw.received += d.length));
    socket.once('connect', () => {
      socket.on('error', () => {});
      resolve(raw);
    });
    socket.once('error', reject);
  });
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>(
      (_, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} in ${ms} ms`)), ms)),
    ),
  ]);
}

/** CPU time a process used so far, in seconds (Linux; utime + stime at 100 ticks a second). */
function cpuOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resident memory of a process, in bytes (Linux). */
function rssOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
  return Number(line?.[1] ?? 0) * 1024;
}

async function startAdminRelay(t: ExecutionContext) {
  const env = new TestEnv(t);
  const token = randomBytes(16).toString('hex');
  const adminPort = await freePort();
  const relay = await startRelay(env, { keys: makeKeys(), agents: [], admin: { port: adminPort, token } });
  await relay.proc.waitForLog({ msg: 'listening', what: 'admin' }, WAIT_MS);
  const status = async (): Promise<AdminEndpointStatus> => {
    const p = await env.run(['status', '--profile', relay.profilePath, '--json']);
    t.is(p.exit?.code, 0, p.stderr);
    return (JSON.parse(p.otherLines.join('\n')) as { admin: AdminEndpointStatus }).admin;
  };
  return { env, token, adminPort, relay, status };
}

function noTokenIn(t: ExecutionContext, relay: RelayHandle, token: string): void {
  const all = [...relay.proc.logs.map((l) => JSON.stringify(l)), relay.proc.stderr].join('\n');
  t.false(all.includes(token), 'the relay logged the token');
}

test('40 idle connections: `xnat status --profile` still succeeds; the idle ones are evicted or time out', async (t) => {
  const { relay, adminPort, token, status } = await startAdminRelay(t);
  const idle: Raw[] = [];
  for (let i = 0; i < 40; i++) idle.push(await connectRaw(adminPort));
  const first = await status();
  t.true(first.evicted >= 32, `evicted ${first.evicted}`);
  t.is(first.authenticated, 1);
  // The rest go at the 5 s deadline.
  await within(Promise.all(idle.map((r) => r.closed)), 15_000, 'close of every idle connection');
  const after = await status();
  t.true(after.timedOut >= 1, `timedOut ${after.timedOut}`);
  // Each idle connection went one way or the other (the status clients authenticated).
  t.is(after.evicted + after.timedOut, 40);
  await relay.proc.waitForLog({ msg: 'admin connections refused' }, WAIT_MS);
  noTokenIn(t, relay, token);
});

test('2 000 pipelined wrong tokens on one connection: 3 evaluated, then the connection is closed', async (t) => {
  const { relay, adminPort, token, status } = await startAdminRelay(t);
  const raw = await connectRaw(adminPort);
  const tries = Array.from({ length: 2000 }, (_, i) => {
    const body = encodeMessage({
      type: MsgType.REQUEST,
      id: i + 1,
      name: 'admin.auth',
      payload: { token: randomBytes(16).toString('hex') },
    });
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length, 0);
    return Buffer.concat([head, body]);
  });
  raw.socket.write(Buffer.concat(tries));
  await within(raw.closed, WAIT_MS, 'close of the guessing connection');
  const c = await status();
  t.is(c.authFailures, 3);
  t.is(c.closedAfterFailures, 1);
  t.true(raw.received < 1000, `${raw.received} bytes of answers`);
  noTokenIn(t, relay, token);
});

test('32 connections dripping a 4 MiB message before auth: refused at the 4 KiB cap, relay memory flat', async (t) => {
  const { relay, adminPort, status } = await startAdminRelay(t);
  const pid = relay.proc.pid!;
  const rssBefore = rssOf(pid);
  const cpuBefore = cpuOf(pid);
  const conns = await Promise.all(Array.from({ length: 32 }, () => connectRaw(adminPort)));
  const head = Buffer.alloc(4);
  head.writeUInt32BE(4 * 1024 * 1024 - 64, 0);
  const piece = Buffer.alloc(64, 0x61);
  let dripped = 0;
  const drip = async (r: Raw) => {
    r.socket.write(head);
    // At most 1 MiB per connection, 64 bytes per turn of the event loop, until the relay closes it.
    for (let sent = 0; !r.socket.destroyed && sent < 1024 * 1024; sent += piece.length) {
      r.socket.write(piece);
      dripped += piece.length;
      await new Promise((d) => setImmediate(d));
    }
  };
  await within(
    Promise.all(conns.map(async (r) => Promise.all([drip(r), r.closed]))),
    WAIT_MS,
    'close of every dripping connection',
  );
  const rssAfter = rssOf(pid);
  const cpu = cpuOf(pid) - cpuBefore;
  t.log(
    `dripped ${dripped} bytes; relay RSS ${rssBefore >> 20} -> ${rssAfter >> 20} MiB, CPU ${cpu.toFixed(2)} s`,
  );
  t.true(dripped < 32 * 1024 * 1024, 'some connection was never closed');
  t.true(rssAfter - rssBefore < 64 * 1024 * 1024, `relay RSS grew ${(rssAfter - rssBefore) >> 20} MiB`);
  const c = await status();
  t.is(c.badMessages + c.evicted, 32, JSON.stringify(c));
  t.true(c.badMessages >= 1);
});
