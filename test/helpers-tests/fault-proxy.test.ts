// Tests of test/helpers/fault-proxy.ts with plain sockets: a recording target server behind the proxy.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.ts';
import { waitFor } from '../helpers/procs.ts';

const T = 10_000;

/** A target that records what each accepted socket sends and lets the test write back. */
interface Target {
  readonly server: Server;
  readonly port: number;
  readonly sockets: Socket[];
  readonly received: Buffer[][];
  readonly ended: boolean[];
  readonly errors: string[];
}

async function startTarget(): Promise<Target> {
  const sockets: Socket[] = [];
  const received: Buffer[][] = [];
  const ended: boolean[] = [];
  const errors: string[] = [];
  const server = createServer({ allowHalfOpen: true }, (s) => {
    const i = sockets.length;
    sockets.push(s);
    received.push([]);
    ended.push(false);
    s.on('data', (d: Buffer) => received[i]!.push(d));
    s.on('end', () => (ended[i] = true));
    s.on('error', (e: NodeJS.ErrnoException) => errors.push(e.code ?? e.message));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, sockets, received, ended, errors };
}

/** A client socket that records what it receives. */
interface Client {
  readonly socket: Socket;
  readonly received: Buffer[];
  ended: boolean;
  closed: boolean;
  error: string | undefined;
}

async function dial(proxy: FaultProxy): Promise<Client> {
  const socket = createConnection({ port: proxy.port, host: proxy.host, allowHalfOpen: true });
  const c: Client = { socket, received: [], ended: false, closed: false, error: undefined };
  socket.on('data', (d: Buffer) => c.received.push(d));
  socket.on('end', () => (c.ended = true));
  socket.on('close', () => (c.closed = true));
  socket.on('error', (e: NodeJS.ErrnoException) => (c.error = e.code ?? e.message));
  await new Promise<void>((r, j) => socket.once('connect', r).once('error', j));
  return c;
}

const total = (bufs: Buffer[]): number => bufs.reduce((n, b) => n + b.length, 0);

async function setup(): Promise<{ target: Target; proxy: FaultProxy }> {
  const target = await startTarget();
  const proxy = await startFaultProxy(target.port);
  return { target, proxy };
}

async function teardown(s: { target: Target; proxy: FaultProxy }): Promise<void> {
  await s.proxy.close();
  for (const sock of s.target.sockets) sock.destroy();
  await new Promise((r) => s.target.server.close(r));
}

test('forwards both ways byte-exact, half-close included', async (t) => {
  const s = await setup();
  const c = await dial(s.proxy);
  const conn = await s.proxy.waitForConnections(1, T);
  const up = randomBytes(1024 * 1024);
  c.socket.end(up);
  await waitFor(() => s.target.ended[0] === true, T, 'target to see the end');
  t.true(Buffer.concat(s.target.received[0]!).equals(up));
  // The other direction still works after the agent's half-close.
  const down = randomBytes(300 * 1024);
  s.target.sockets[0]!.end(down);
  await waitFor(() => c.ended, T, 'client to see the end');
  t.true(Buffer.concat(c.received).equals(down));
  t.is(conn.bytesUp, up.length);
  t.is(conn.bytesDown, down.length);
  await waitFor(() => s.proxy.connections.length === 0, T, 'connection to leave the live list');
  t.is(s.proxy.accepted, 1);
  await teardown(s);
});

test('waitForConnections resolves with the n-th connection, and times out with a message', async (t) => {
  const s = await setup();
  const pending = s.proxy.waitForConnections(2, T);
  await dial(s.proxy);
  await dial(s.proxy);
  const second = await pending;
  t.is(s.proxy.connections[1], second);
  t.is(s.proxy.connections.length, 2);
  const err = await t.throwsAsync(s.proxy.waitForConnections(3, 30));
  t.regex(err!.message, /2 of 3 connections/);
  await teardown(s);
});

test('blackhole drops bytes both ways silently, keeps sockets open; a cut connection stays dark after heal, new ones pass', async (t) => {
  const s = await setup();
  const c = await dial(s.proxy);
  const conn = await s.proxy.waitForConnections(1, T);
  c.socket.write('before');
  await waitFor(() => total(s.target.received[0] ?? []) === 6, T, 'first bytes');
  s.proxy.blackhole();
  c.socket.write('lost-up');
  s.target.sockets[0]!.write('lost-down');
  await waitFor(() => conn.bytesDropped === 'lost-up'.length + 'lost-down'.length, T, 'bytes to be dropped');
  t.is(Buffer.concat(s.target.received[0]!).toString(), 'before');
  t.deepEqual(c.received, []);
  // Half-open: a reset of the target is not passed on while blackholed.
  s.target.sockets[0]!.resetAndDestroy();
  await waitFor(() => conn.target.destroyed, T, 'proxy target side to see the reset');
  t.false(c.closed);
  t.is(c.error, undefined);
  // New connections are blackholed too until heal.
  const c2 = await dial(s.proxy);
  const conn2 = await s.proxy.waitForConnections(2, T);
  c2.socket.write('x');
  await waitFor(() => conn2.bytesDropped === 1, T, 'new connection to drop');
  s.proxy.heal();
  // The first connection learns now that its peer is gone.
  await waitFor(() => c.closed, T, 'held reset to reach the client');
  t.is(c.error, 'ECONNRESET');
  // A connection that lost bytes stays dark (TCP never delivers past a hole); a new one passes.
  c2.socket.write('after');
  await waitFor(() => conn2.bytesDropped === 1 + 'after'.length, T, 'the cut connection to drop on');
  t.deepEqual(s.target.received[1] ?? [], []);
  const c3 = await dial(s.proxy);
  await s.proxy.waitForConnections(3, T);
  c3.socket.write('fresh');
  await waitFor(() => total(s.target.received[2] ?? []) === 5, T, 'bytes on a new connection after heal');
  t.is(Buffer.concat(s.target.received[2]!).toString(), 'fresh');
  await teardown(s);
});

test('a connection that lost nothing to a blackhole carries on intact after heal, as TCP would', async (t) => {
  const s = await setup();
  const c = await dial(s.proxy);
  await s.proxy.waitForConnections(1, T);
  c.socket.write('before;');
  await waitFor(() => total(s.target.received[0] ?? []) === 7, T, 'first bytes');
  s.proxy.blackhole();
  s.proxy.heal();
  c.socket.write('after');
  await waitFor(() => total(s.target.received[0] ?? []) === 12, T, 'bytes after heal');
  t.is(Buffer.concat(s.target.received[0]!).toString(), 'before;after');
  await teardown(s);
});

test('reset sends RST to both sides', async (t) => {
  const s = await setup();
  const c = await dial(s.proxy);
  const conn = await s.proxy.waitForConnections(1, T);
  await waitFor(() => s.target.sockets.length === 1, T, 'target accept');
  s.proxy.reset();
  await waitFor(() => c.closed && s.target.errors.length === 1, T, 'both sides to close');
  t.is(c.error, 'ECONNRESET');
  t.deepEqual(s.target.errors, ['ECONNRESET']);
  await conn.closed;
  await teardown(s);
});

test('a reset by the target reaches the client as a reset', async (t) => {
  const s = await setup();
  const c = await dial(s.proxy);
  await waitFor(() => s.target.sockets.length === 1, T, 'target accept');
  s.target.sockets[0]!.resetAndDestroy();
  await waitFor(() => c.closed, T, 'client close');
  t.is(c.error, 'ECONNRESET');
  await teardown(s);
});

test('delay holds bytes back without losing or reordering them', async (t) => {
  const s = await setup();
  const c = await dial(s.proxy);
  const conn = await s.proxy.waitForConnections(1, T);
  conn.delay(600_000);
  c.socket.write('held');
  await waitFor(() => conn.bytesQueued === 4, T, 'bytes to be queued');
  t.is(conn.bytesUp, 0);
  t.deepEqual(s.target.received[0] ?? [], []);
  conn.destroy();
  const c2 = await dial(s.proxy);
  const conn2 = await s.proxy.waitForConnections(2, T);
  conn2.delay(30);
  const parts = Array.from({ length: 20 }, (_, i) => Buffer.from(`part${i};`));
  for (const p of parts) c2.socket.write(p);
  const want = Buffer.concat(parts);
  await waitFor(() => total(s.target.received[1] ?? []) === want.length, T, 'delayed bytes');
  t.true(Buffer.concat(s.target.received[1]!).equals(want));
  await teardown(s);
});

test('blackhole also drops what was queued before it: a stream cut by a blackhole never resumes intact', async (t) => {
  const s = await setup();
  const c = await dial(s.proxy);
  const conn = await s.proxy.waitForConnections(1, T);
  conn.delay(10_000);
  c.socket.write('in-flight');
  await waitFor(() => conn.bytesQueued === 'in-flight'.length, T, 'bytes to be queued');
  s.proxy.blackhole();
  t.is(conn.bytesQueued, 0);
  t.is(conn.bytesDropped, 'in-flight'.length);
  s.proxy.heal();
  c.socket.write('after');
  await waitFor(() => conn.bytesDropped === 'in-flight'.length + 5, T, 'later bytes dropped too');
  t.deepEqual(s.target.received[0] ?? [], []);
  await teardown(s);
});

test('throttle limits the rate and pushes back; heal lets the rest through intact', async (t) => {
  const s = await setup();
  const c = await dial(s.proxy);
  const conn = await s.proxy.waitForConnections(1, T);
  s.proxy.throttle(100);
  const data = randomBytes(20_000);
  c.socket.write(data);
  await waitFor(() => conn.bytesQueued + conn.bytesUp === data.length, T, 'bytes to reach the proxy');
  // At 100 B/s the whole buffer would take 200 s; far from all of it has gone through.
  t.true(conn.bytesUp < data.length / 2, `${conn.bytesUp}`);
  s.proxy.heal();
  await waitFor(() => total(s.target.received[0] ?? []) === data.length, T, 'the rest after heal');
  t.true(Buffer.concat(s.target.received[0]!).equals(data));
  await teardown(s);
});

test('throttle on a large transfer stops reading from the sender (bounded proxy queue)', async (t) => {
  const s = await setup();
  const c = await dial(s.proxy);
  const conn = await s.proxy.waitForConnections(1, T);
  conn.throttle(1000);
  const data = randomBytes(8 * 1024 * 1024);
  c.socket.write(data);
  // The sender's own buffer keeps most of it: the proxy stops reading near its high-water mark.
  await waitFor(() => conn.bytesQueued > 0, T, 'queue to fill');
  await waitFor(() => c.socket.writableLength > 0, T, 'sender to be pushed back');
  t.true(conn.bytesQueued < 2 * 1024 * 1024, `${conn.bytesQueued}`);
  conn.heal();
  await waitFor(() => total(s.target.received[0] ?? []) === data.length, 30_000, 'all bytes after heal');
  t.true(Buffer.concat(s.target.received[0]!).equals(data));
  await teardown(s);
});

test('corruptNextByte flips exactly one bit of the next byte, per direction', async (t) => {
  const s = await setup();
  const c = await dial(s.proxy);
  const conn = await s.proxy.waitForConnections(1, T);
  c.socket.write('a');
  await waitFor(() => total(s.target.received[0] ?? []) === 1, T, 'first byte');
  conn.corruptNextByte('up');
  c.socket.write('hello');
  await waitFor(() => total(s.target.received[0]!) === 6, T, 'corrupted bytes');
  const got = Buffer.concat(s.target.received[0]!).subarray(1);
  const want = Buffer.from('hello');
  t.is(got[0]! ^ want[0]!, 0x01);
  t.true(got.subarray(1).equals(want.subarray(1)));
  // Only the next byte: later bytes pass untouched.
  c.socket.write('ok');
  await waitFor(() => total(s.target.received[0]!) === 8, T, 'clean bytes');
  t.is(Buffer.concat(s.target.received[0]!).subarray(6).toString(), 'ok');
  s.proxy.corruptNextByte('down');
  s.target.sockets[0]!.write('zz');
  await waitFor(() => total(c.received) === 2, T, 'down bytes');
  t.deepEqual([...Buffer.concat(c.received)], [0x7a ^ 0x01, 0x7a]);
  await teardown(s);
});

test('a refused dial resets the client; close() ends every connection', async (t) => {
  const target = await startTarget();
  const port = target.port;
  await new Promise((r) => target.server.close(r));
  const proxy = await startFaultProxy(port);
  const c = await dial(proxy);
  await waitFor(() => c.closed, T, 'client close after refused dial');
  t.is(c.error, 'ECONNRESET');
  await proxy.close();

  const s = await setup();
  const c2 = await dial(s.proxy);
  await s.proxy.waitForConnections(1, T);
  await s.proxy.close();
  await waitFor(() => c2.ended || c2.closed, T, 'client end after proxy close');
  t.pass();
  await teardown(s);
});
