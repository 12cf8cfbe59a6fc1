// In-process services through a real relay: curl reaches an HTTP server that listens on no port, a TCP
// client's bytes are echoed back whole with backpressure, endings stay honest, and a UDP client (dig and
// dgram) reaches a datagram handler.
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { pipeline } from 'node:stream/promises';
import type { ServiceStream } from '../../src/api/index.ts';
import { WAIT_MS, nextEvent, startEmbedded } from './embed-stack.ts';
import { hasProgram } from '../e2e/lib/env.ts';
import { waitFor } from '../helpers/procs.ts';

const run = promisify(execFile);

function tcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Reads a socket to its end: the bytes, and whether it ended by FIN ('end') or by a reset ('error'). */
function drain(s: Socket): Promise<{ data: Buffer; ending: 'fin' | 'reset'; code?: string }> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.once('end', () => resolve({ data: Buffer.concat(parts), ending: 'fin' }));
    s.once('error', (e: NodeJS.ErrnoException) =>
      resolve({ data: Buffer.concat(parts), ending: 'reset', code: e.code }),
    );
  });
}

test('curl reaches an in-process HTTP server through the relay; events tell the stream open and close', async (t) => {
  const http = createServer((req, res) => res.end(`hello ${req.url} from inside the agent`));
  const stack = await startEmbedded({
    mappings: [{ name: 'web', remotePort: 0, handler: 'web' }],
    before: (_relay, agent) => agent.serve('web', (stream) => void http.emit('connection', stream)),
  });
  t.teardown(() => stack.close());
  const port = await stack.port('web');
  const opened = nextEvent(stack.agent, 'stream.opened', (e) => e.mapping === 'web');
  const closed = nextEvent(stack.agent, 'stream.closed', (e) => e.mapping === 'web');
  const relayClosed = nextEvent(stack.relay, 'stream.closed', (e) => e.mapping === 'web');
  const { stdout } = await run('curl', ['-sS', '--max-time', '20', `http://127.0.0.1:${port}/x`]);
  t.is(stdout, 'hello /x from inside the agent');
  t.regex((await opened).visitor, /^127\.0\.0\.1:\d+$/);
  t.true((await closed).clean);
  t.true((await relayClosed).clean);
  const m = stack.agent.status().mappings.find((x) => x.name === 'web')!;
  t.is(m.local, 'inproc:web');
  t.is(m.totalStreams, 1);
});

test('8 MiB echoed by an in-process service arrive whole (backpressure both ways), FIN after FIN', async (t) => {
  const stack = await startEmbedded({
    mappings: [{ name: 'echo', remotePort: 0, handler: 'echo' }],
    // pipeline respects write() === false and 'drain', and ends our side after the visitor's FIN.
    before: (_r, agent) => agent.serve('echo', (s) => pipeline(s, s)),
  });
  t.teardown(() => stack.close());
  const s = await tcp(await stack.port('echo'));
  const payload = randomBytes(8 * 1024 * 1024);
  const result = drain(s);
  s.end(payload);
  const r = await result;
  t.is(r.ending, 'fin');
  t.is(r.data.length, payload.length);
  t.is(createHash('sha256').update(r.data).digest('hex'), createHash('sha256').update(payload).digest('hex'));
});

test('honest endings: the service resets, the visitor sees a reset; the visitor resets, the service sees it', async (t) => {
  let served: ServiceStream | undefined;
  const stack = await startEmbedded({
    mappings: [{ name: 'svc', remotePort: 0, handler: 'svc' }],
    before: (_r, agent) =>
      agent.serve('svc', (s) => {
        served = s;
        s.once('data', (d: Buffer) => {
          if (d.toString() === 'reset me') s.reset();
        });
      }),
  });
  t.teardown(() => stack.close());
  const port = await stack.port('svc');
  const a = await tcp(port);
  const ra = drain(a);
  a.write('reset me');
  const ending = await ra;
  t.is(ending.ending, 'reset');
  t.is(ending.code, 'ECONNRESET');

  const b = await tcp(port);
  await waitFor(() => served !== undefined && served.visitor.port === b.localPort, WAIT_MS, 'service got b');
  const s = served!;
  const seen = new Promise<string | undefined>((resolve) => s.once('close', () => resolve(s.resetCode)));
  b.resetAndDestroy();
  t.truthy(await seen, 'the service stream was reset, not ended');
});

test('a visitor of a handler mapping with no service registered is reset, not hung', async (t) => {
  const stack = await startEmbedded({ mappings: [{ name: 'none', remotePort: 0, handler: 'missing' }] });
  t.teardown(() => stack.close());
  const s = await tcp(await stack.port('none'));
  const r = await drain(s);
  t.is(r.ending, 'reset');
});

test('a UDP client reaches an in-process datagram handler; flows open and close in events', async (t) => {
  const stack = await startEmbedded({
    mappings: [{ name: 'game', protocol: 'udp', remotePort: 0, handler: 'game', idleTimeout: '1s' }],
    before: (_r, agent) =>
      agent.serveDatagrams('game', (d, reply, flow) => reply(Buffer.from(`${flow.mapping}:${d.toString()}`))),
  });
  t.teardown(() => stack.close());
  const port = await stack.port('game');
  const opened = nextEvent(stack.agent, 'flow.opened', (e) => e.mapping === 'game');
  const closed = nextEvent(stack.agent, 'flow.closed', (e) => e.mapping === 'game');
  const sock = createSocket('udp4');
  t.teardown(() => sock.close());
  const got: string[] = [];
  sock.on('message', (m) => got.push(m.toString()));
  // Datagrams are best effort: resend until the answers come, within a deadline.
  await waitFor(
    () => {
      if (got.length < 3) sock.send(`ping${got.length}`, port, '127.0.0.1');
      return got.length >= 3;
    },
    WAIT_MS,
    'three replies',
  );
  t.true(got.every((g) => /^game:ping\d$/.test(g)));
  t.regex((await opened).visitor, /^127\.0\.0\.1:\d+$/);
  // Both ends time an idle flow out; whichever is first (the relay says so with flow.close: 'peer') ends it.
  t.true(['idle', 'peer'].includes(String((await closed).reason)));
});

/** A DNS answer for any A query: the question echoed, one A record 10.1.2.3 (enough for dig). */
function dnsAnswer(query: Buffer): Buffer {
  const header = Buffer.from(query.subarray(0, 12));
  header.writeUInt16BE(0x8180, 2); // response, recursion desired + available, no error
  header.writeUInt16BE(1, 6); // one answer
  header.writeUInt16BE(0, 8);
  header.writeUInt16BE(0, 10);
  let end = 12;
  while (query[end] !== 0) end += query[end]! + 1;
  const question = query.subarray(12, end + 5);
  const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 1, 2, 3]);
  return Buffer.concat([header, question, answer]);
}

test('dig resolves a name through an in-process DNS handler', async (t) => {
  if (!hasProgram('dig')) return t.pass('dig not installed');
  const stack = await startEmbedded({
    mappings: [{ name: 'dns', protocol: 'udp', remotePort: 0, handler: 'dns' }],
    before: (_r, agent) => agent.serveDatagrams('dns', (q, reply) => reply(dnsAnswer(q))),
  });
  t.teardown(() => stack.close());
  const port = await stack.port('dns');
  const { stdout } = await run('dig', [
    '+short',
    '+tries=5',
    '+time=2',
    '-p',
    String(port),
    '@127.0.0.1',
    'box.example',
  ]);
  t.is(stdout.trim(), '10.1.2.3');
});
