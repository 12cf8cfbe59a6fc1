// The admin endpoint in-process on 127.0.0.1 (port 0) against hostile local clients: idle connections,
// pipelined wrong tokens, commands before auth, oversize messages before auth; the operator gets in.
import test from 'ava';
import net from 'node:net';
import { startAdminServer, type AdminServer, type AdminServerOptions } from '../../src/admin/admin-server.ts';
import { AdminClient } from '../../src/admin/admin-client.ts';
import { encodeMessage, MsgType, type Message } from '../../src/command/codec.ts';
import { silentLogger } from '../../src/observe/log.ts';
import type { AdminEndpointStatus, Status } from '../../src/observe/status.ts';
import { FakeClock } from '../../src/util/clock.ts';
import { isXnatError } from '../../src/errors.ts';

const TOKEN = 'operator-token-0123456789';
const WAIT_MS = 10_000;

const agentStatus = (): Status => ({
  role: 'agent',
  version: 'test',
  name: 'home',
  startedAt: 0,
  relays: [],
  mappings: [],
});

async function start(t: { teardown(fn: () => unknown): void }, extra: Partial<AdminServerOptions> = {}) {
  const server = await startAdminServer({
    listen: { host: '127.0.0.1', port: 0 },
    token: TOKEN,
    logger: silentLogger(),
    actions: { status: agentStatus },
    ...extra,
  });
  t.teardown(() => server.close());
  return server;
}

/** A raw connection that reads (and drops) whatever comes, and reports its end. */
interface Raw {
  readonly socket: net.Socket;
  readonly closed: Promise<void>;
  received: number;
}

function connectRaw(server: AdminServer): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: server.port });
    const raw: Raw = {
      socket,
      received: 0,
      closed: new Promise((done) => socket.once('close', () => done())),
    };
    socket.on('data', (d: Buffer) => (raw.received += d.length));
    socket.on('error', () => {});
    socket.once('connect', () => resolve(raw));
    socket.once('error', reject);
  });
}

function frame(msg: Message): Buffer {
  const body = encodeMessage(msg, 1 << 20);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

const auth = (id: number, token: string) =>
  frame({ type: MsgType.REQUEST, id, name: 'admin.auth', payload: { token } });

async function counters(server: AdminServer): Promise<AdminEndpointStatus> {
  const client = await AdminClient.connect('127.0.0.1', server.port, TOKEN, WAIT_MS);
  try {
    return (await client.status()).admin!;
  } finally {
    client.close();
  }
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>(
      (_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)),
    ),
  ]);
}

test('40 idle connections: the operator still gets in; the oldest were dropped and counted', async (t) => {
  const server = await start(t);
  const idle = [];
  for (let i = 0; i < 40; i++) idle.push(await connectRaw(server));
  const c = await counters(server);
  t.true(c.evicted >= 32, `evicted ${c.evicted}`);
  t.true(c.unauthenticated <= 8, `unauthenticated ${c.unauthenticated}`);
  t.is(c.authenticated, 1);
  // The dropped ones really are closed (from the oldest).
  await within(Promise.all(idle.slice(0, 32).map((r) => r.closed)), WAIT_MS, 'the oldest 32 closed');
  for (const r of idle) r.socket.destroy();
});

test('unauthenticated connections are closed at the 5 s deadline (fake clock); the operator stays', async (t) => {
  const clock = new FakeClock();
  const server = await start(t, { clock });
  const operator = await AdminClient.connect('127.0.0.1', server.port, TOKEN, WAIT_MS);
  t.teardown(() => operator.close());
  const idle = [await connectRaw(server), await connectRaw(server)];
  const deadline = async () => {
    for (;;) {
      const s = await operator.status();
      if (s.admin!.unauthenticated === 2) return;
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  await within(deadline(), WAIT_MS, 'two unauthenticated connections seen');
  clock.advance(4_999);
  t.is((await operator.status()).admin!.timedOut, 0);
  clock.advance(1);
  await within(Promise.all(idle.map((r) => r.closed)), WAIT_MS, 'idle connections closed');
  t.like((await operator.status()).admin, { timedOut: 2, unauthenticated: 0, connections: 1 });
});

test('2 000 pipelined wrong tokens on one connection: 3 evaluated, then closed', async (t) => {
  const server = await start(t);
  const raw = await connectRaw(server);
  raw.socket.write(Buffer.concat(Array.from({ length: 2000 }, (_, i) => auth(i + 1, `wrong-token-${i}`))));
  await within(raw.closed, WAIT_MS, 'the connection closed');
  const c = await counters(server);
  t.is(c.authFailures, 3);
  t.is(c.closedAfterFailures, 1);
  // Three DENIED answers came back (about 100 bytes each), not 2 000.
  t.true(raw.received > 0 && raw.received < 1000, `received ${raw.received} bytes`);
});

test('a right token pipelined after a wrong one, and status right after auth, are answered', async (t) => {
  const server = await start(t);
  const raw = await connectRaw(server);
  const answers: Buffer[] = [];
  raw.socket.on('data', (d: Buffer) => answers.push(d));
  raw.socket.write(
    Buffer.concat([
      auth(1, 'wrong-token-0123456'),
      auth(2, TOKEN),
      frame({ type: MsgType.REQUEST, id: 3, name: 'admin.status', payload: {} }),
    ]),
  );
  const deadline = Date.now() + WAIT_MS;
  while (!Buffer.concat(answers).includes('home') && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 10));
  t.true(Buffer.concat(answers).includes('home'), 'status answered');
  t.like(await counters(server), { authFailures: 1, authenticated: 2 });
  raw.socket.destroy();
});

test('before auth, any other command or an undecodable message closes the connection', async (t) => {
  const server = await start(t);
  const status = await connectRaw(server);
  status.socket.write(frame({ type: MsgType.REQUEST, id: 1, name: 'admin.status', payload: {} }));
  await within(status.closed, WAIT_MS, 'status before auth closed');
  const garbage = await connectRaw(server);
  garbage.socket.write(Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1]));
  await within(garbage.closed, WAIT_MS, 'garbage closed');
  const longToken = await connectRaw(server);
  longToken.socket.write(auth(1, 'x'.repeat(513)));
  await within(longToken.closed, WAIT_MS, 'over-long token closed');
  t.like(await counters(server), { badMessages: 3, authFailures: 0 });
});

test('a large message dripped before auth is refused at its length prefix (4 KiB cap)', async (t) => {
  const server = await start(t);
  const raw = await connectRaw(server);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(4 * 1024 * 1024 - 16, 0);
  raw.socket.write(head);
  let sent = 0;
  const drip = async () => {
    while (!raw.socket.destroyed && sent < 1024 * 1024) {
      raw.socket.write(Buffer.alloc(16, 0x61));
      sent += 16;
      await new Promise((r) => setImmediate(r));
    }
  };
  await within(Promise.all([drip(), raw.closed]), WAIT_MS, 'the dripping connection closed');
  t.true(sent < 1024 * 1024, `dripped ${sent} bytes before the close`);
  t.like(await counters(server), { badMessages: 1 });
  // Just under the cap is fine before auth: a well-formed admin.auth of the longest token.
  const operator = await AdminClient.connect('127.0.0.1', server.port, TOKEN, WAIT_MS);
  operator.close();
});

test('every slot authenticated: a newcomer is refused, the operators keep theirs', async (t) => {
  const server = await start(t, { limits: { maxConnections: 2 } });
  const a = await AdminClient.connect('127.0.0.1', server.port, TOKEN, WAIT_MS);
  const b = await AdminClient.connect('127.0.0.1', server.port, TOKEN, WAIT_MS);
  t.teardown(() => {
    a.close();
    b.close();
  });
  const err = await t.throwsAsync(AdminClient.connect('127.0.0.1', server.port, TOKEN, WAIT_MS));
  t.true(isXnatError(err, 'XNAT_ERR_COMMAND_CHANNEL_CLOSED'), String(err));
  t.like((await a.status()).admin, { refused: 1, connections: 2 });
});
