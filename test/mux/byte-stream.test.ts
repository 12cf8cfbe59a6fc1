// The mux stream's narrow byte interface (no Duplex): deliveries, "stop" and resume with grants that follow
// consumption, write/false and drain, FIN each way, resets with their codes, and the TCP pipe over it with
// real sockets on 127.0.0.1 (hash checked both ways, a slow reader held by the window).
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { type AddressInfo, createConnection, createServer, type Socket } from 'node:net';
import type { ErrorCode } from '../../src/errors.ts';
import { joinSocketToStream } from '../../src/forward/tcp-pipe.ts';
import type { ByteReader } from '../../src/mux/byte-stream.ts';
import { Mux, type MuxStream } from '../../src/mux/mux.ts';
import { STREAM_WRITE_HIGH_WATER_BYTES } from '../../src/mux/mux-stream.ts';
import { STREAM_INITIAL_WINDOW_BYTES } from '../../src/mux/mux-transport.ts';
import { memoryTransportPair, until } from './memory-transport.ts';

function pair() {
  const [ta, tb] = memoryTransportPair();
  const relay = new Mux(ta, { role: 'relay', duplexStreams: false });
  const agent = new Mux(tb, { role: 'agent', duplexStreams: false });
  return { ta, tb, relay, agent };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A reader that records everything; `take` says whether it wants more after each chunk. */
function recorder(take: () => boolean = () => true) {
  const chunks: Buffer[] = [];
  const r = {
    chunks,
    ended: false,
    drains: 0,
    closed: undefined as { code: ErrorCode | undefined; detail?: string } | undefined,
    bytes: () => chunks.reduce((n, c) => n + c.length, 0),
  };
  const reader: ByteReader = {
    data: (c) => {
      chunks.push(c);
      return take();
    },
    end: () => (r.ended = true),
    drain: () => r.drains++,
    close: (code, detail) => (r.closed = { code, detail }),
  };
  return { r, reader };
}

test('bytes, FIN each way and a clean close through the byte interface; bytes before setReader wait for it', async (t) => {
  const { relay, agent } = pair();
  const incoming = once(agent, 'stream') as Promise<[MuxStream, Buffer]>;
  const s = relay.open(Buffer.from('m'), Buffer.from('first'));
  const [remote] = await incoming;
  t.false('pipe' in remote, 'a bare stream, no Duplex');
  s.write(Buffer.from(' second'));
  s.end();
  await until(() => remote.stats.bytesIn === 12);
  const far = recorder();
  remote.setReader(far.reader);
  t.is(Buffer.concat(far.r.chunks).toString(), 'first second');
  t.true(far.r.ended);
  t.is(far.r.closed, undefined, 'not over before this side ends too');
  const near = recorder();
  s.setReader(near.reader);
  remote.write(Buffer.from('reply'));
  remote.end();
  await until(() => near.r.closed !== undefined && far.r.closed !== undefined);
  t.is(Buffer.concat(near.r.chunks).toString(), 'reply');
  t.deepEqual(near.r.closed, { code: undefined, detail: undefined });
  t.deepEqual(far.r.closed, { code: undefined, detail: undefined });
  t.true(s.destroyed && remote.destroyed);
  t.is(relay.streams.size + agent.streams.size, 0);
});

test('a reader that says stop is not handed more; the window stops the writer; resume grants and drains', async (t) => {
  const { relay, agent } = pair();
  const incoming = once(agent, 'stream') as Promise<[MuxStream, Buffer]>;
  const s = relay.open(Buffer.from('m'));
  const [remote] = await incoming;
  let wanted = false;
  const far = recorder(() => wanted);
  remote.setReader(far.reader);
  const near = recorder();
  s.setReader(near.reader);
  const data = randomBytes(4 * STREAM_INITIAL_WINDOW_BYTES);
  let accepted = true;
  for (let at = 0; at < data.length; at += 64 * 1024) accepted = s.write(data.subarray(at, at + 64 * 1024));
  t.false(accepted, 'write says stop beyond the high-water mark');
  await until(() => remote.stats.bytesIn >= STREAM_INITIAL_WINDOW_BYTES);
  await new Promise((r) => setTimeout(r, 50));
  t.is(far.r.chunks.length, 1, 'one delivery, then it stopped');
  t.is(remote.stats.bytesIn, STREAM_INITIAL_WINDOW_BYTES, 'the window holds the writer');
  t.true(remote.stats.recvBuffered <= remote.stats.recvWindow);
  wanted = true;
  remote.resume();
  await until(() => far.r.bytes() === data.length);
  t.is(sha(Buffer.concat(far.r.chunks)), sha(data));
  t.true(near.r.drains >= 1, 'drain after the false');
  t.true(STREAM_WRITE_HIGH_WATER_BYTES > 0);
});

test('resets reach the reader with their codes: local, by the peer (with its reason) and by the session', async (t) => {
  const { relay, agent, ta } = pair();
  const opened: MuxStream[] = [];
  agent.on('stream', (x: MuxStream) => opened.push(x));
  const a = relay.open(Buffer.from('a'));
  const b = relay.open(Buffer.from('b'));
  await until(() => opened.length === 2);
  const [ra, rb] = opened as [MuxStream, MuxStream];
  const la = recorder();
  const far = recorder();
  a.setReader(la.reader);
  ra.setReader(far.reader);
  let closeEvents = 0;
  a.once('close', () => closeEvents++);
  a.reset('XNAT_ERR_FORWARD_SOCKET_RESET');
  t.is(la.r.closed?.code, 'XNAT_ERR_FORWARD_SOCKET_RESET');
  t.is(closeEvents, 1);
  await until(() => far.r.closed !== undefined);
  t.deepEqual(far.r.closed, { code: 'XNAT_ERR_FORWARD_SOCKET_RESET', detail: 'reset by peer' });
  t.is(ra.resetCode, 'XNAT_ERR_FORWARD_SOCKET_RESET');
  const lb = recorder();
  b.setReader(lb.reader);
  ta.emit('closed');
  t.is(lb.r.closed?.code, 'XNAT_ERR_MUX_CLOSED');
  t.true(b.destroyed);
  // A reader attached to a stream already over hears so at once.
  const late = recorder();
  rb.reset('XNAT_ERR_MUX_RESET');
  rb.setReader(late.reader);
  t.is(late.r.closed?.code, 'XNAT_ERR_MUX_RESET');
});

/** A TCP server whose every connection is joined to a stream the agent mux is offered. */
async function tcpPair() {
  const { relay, agent } = pair();
  // Agent side: each incoming stream is joined to a fresh connection to the "LAN service".
  const serviceSockets: Socket[] = [];
  const service = createServer({ allowHalfOpen: true }, (s) => serviceSockets.push(s));
  await new Promise<void>((r) => service.listen(0, '127.0.0.1', r));
  const servicePort = (service.address() as AddressInfo).port;
  agent.on('stream', (stream: MuxStream) => {
    const lan = createConnection({ port: servicePort, host: '127.0.0.1', allowHalfOpen: true });
    lan.once('connect', () => {
      lan.pause();
      void joinSocketToStream(lan, stream);
    });
  });
  // Relay side: visitors.
  const results: Array<Promise<unknown>> = [];
  const front = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (visitor) => {
    results.push(joinSocketToStream(visitor, relay.open(Buffer.from('m'))));
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const frontPort = (front.address() as AddressInfo).port;
  return {
    frontPort,
    serviceSockets,
    results,
    close: () => {
      front.close();
      service.close();
      for (const s of serviceSockets) s.destroy();
    },
  };
}

function collect(s: Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  s.on('data', (c: Buffer) => parts.push(c));
  return new Promise((resolve, reject) => {
    s.once('end', () => resolve(Buffer.concat(parts)));
    s.once('error', reject);
  });
}

test('the TCP pipe over bare streams: 8 MiB each way with FINs each way, hashes intact, clean results', async (t) => {
  const p = await tcpPair();
  t.teardown(p.close);
  const up = randomBytes(8 * 1024 * 1024);
  const down = randomBytes(8 * 1024 * 1024);
  const visitor = createConnection({ port: p.frontPort, host: '127.0.0.1', allowHalfOpen: true });
  await once(visitor, 'connect');
  const atVisitor = collect(visitor);
  visitor.end(up);
  await until(() => p.serviceSockets.length === 1);
  const lan = p.serviceSockets[0]!;
  const atService = collect(lan);
  t.is(sha(await atService), sha(up), 'visitor -> service intact, then FIN');
  lan.end(down);
  t.is(sha(await atVisitor), sha(down), 'service -> visitor intact, then FIN');
  const [r] = (await Promise.all(p.results)) as Array<{ clean: boolean; bytesFromSocket: number }>;
  t.true(r!.clean);
  t.is(r!.bytesFromSocket, up.length);
});

test('the TCP pipe over bare streams: a visitor that never reads holds the service back; its reset resets the service', async (t) => {
  const p = await tcpPair();
  t.teardown(p.close);
  const visitor = createConnection({ port: p.frontPort, host: '127.0.0.1', allowHalfOpen: true });
  await once(visitor, 'connect');
  visitor.write('x');
  await until(() => p.serviceSockets.length === 1);
  const lan = p.serviceSockets[0]!;
  // The visitor reads nothing: the service's writes must stall (window + socket caps), not buffer forever.
  visitor.pause();
  const chunk = randomBytes(256 * 1024);
  let written = 0;
  const pump = () => {
    while (written < 256 * 1024 * 1024 && lan.write(chunk)) written += chunk.length;
  };
  lan.on('drain', pump);
  pump();
  // Stalled: no progress over half a second (on a loaded machine it may take a few tries to get there).
  let stalledAt = -1;
  for (let i = 0; i < 40 && written !== stalledAt; i++) {
    stalledAt = written;
    await new Promise((r) => setTimeout(r, 500));
  }
  t.is(written, stalledAt, 'the service is held back');
  t.true(written < 64 * 1024 * 1024, `bounded: ${written} bytes written before the stall`);
  // The visitor resets (its receive side is full, so the reset goes this way: a reset into a zero window
  // is not accepted by TCP): the service sees a reset, never a FIN.
  let serviceError: string | undefined;
  lan.on('error', (e: NodeJS.ErrnoException) => (serviceError = e.code));
  const serviceClosed = new Promise((resolve) => lan.once('close', resolve));
  lan.off('drain', pump);
  visitor.resetAndDestroy();
  const [r] = (await Promise.all(p.results)) as Array<{ clean: boolean; code?: string }>;
  t.false(r!.clean, 'the relay side ended with a reset');
  t.is(r!.code, 'XNAT_ERR_FORWARD_SOCKET_RESET');
  await serviceClosed;
  t.is(serviceError, 'ECONNRESET', 'the service saw a reset, not a FIN');
});
