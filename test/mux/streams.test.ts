// Stream life over an in-memory transport pair: open with first data, half-close, reset, many streams.
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { type AddressInfo, createConnection, createServer } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { isXnatError } from '../../src/errors.ts';
import { Mux } from '../../src/mux/mux.ts';
import type { MuxDuplex as MuxStream } from '../../src/mux/mux-duplex.ts';
import { FrameType } from '../../src/wire/frame.ts';
import { closed, memoryTransportPair, readAll, until } from './memory-transport.ts';

function pair(opts: { maxStreams?: number } = {}) {
  const [ta, tb] = memoryTransportPair();
  const relay = new Mux(ta, { role: 'relay', ...opts });
  const agent = new Mux(tb, { role: 'agent', ...opts });
  return { ta, tb, relay, agent };
}

function nextStream(mux: Mux): Promise<[MuxStream, Buffer]> {
  return once(mux, 'stream') as Promise<[MuxStream, Buffer]>;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('open carries meta and first data in the STREAM_OPEN; ids are odd for the relay, even for the agent', async (t) => {
  const { ta, relay, agent } = pair();
  const incoming = nextStream(agent);
  const s = relay.openStream(Buffer.from('map:7777'), Buffer.from('GET / HTTP/1.0\r\n'));
  const [remote, meta] = await incoming;
  t.is(meta.toString(), 'map:7777');
  t.is(remote.id, s.id);
  t.is(s.id % 2, 1);
  const open = ta.sent[0];
  t.is(open?.type, FrameType.STREAM_OPEN);
  t.is(open?.type === FrameType.STREAM_OPEN ? open.data.toString() : '', 'GET / HTTP/1.0\r\n');
  t.is(ta.sent.filter((f) => f.type === FrameType.STREAM_DATA).length, 0, 'no separate DATA frame needed');
  s.end();
  t.is((await readAll(remote)).toString(), 'GET / HTTP/1.0\r\n');

  const back = nextStream(relay);
  const a = agent.openStream(Buffer.from('x'));
  t.is(a.id % 2, 0);
  const [fromAgent] = await back;
  t.is(fromAgent.id, a.id);
  t.is(relay.stats.streamsAccepted, 1);
  t.is(relay.stats.streamsOpened, 1);
});

test('first data larger than one chunk: the rest follows as DATA, in order', async (t) => {
  const { relay, agent } = pair();
  const data = randomBytes(100_000);
  const incoming = nextStream(agent);
  const s = relay.openStream(Buffer.alloc(0), data);
  s.end();
  const [remote] = await incoming;
  t.is(sha(await readAll(remote)), sha(data));
});

test('half-close relay->agent: agent sees end, can still send, then both finish cleanly', async (t) => {
  const { relay, agent } = pair();
  const incoming = nextStream(agent);
  const s = relay.openStream(Buffer.from('m'));
  const [remote] = await incoming;
  const gotAtAgent = readAll(remote);
  s.end(Buffer.from('request'));
  t.is((await gotAtAgent).toString(), 'request');
  const gotAtRelay = readAll(s);
  remote.write(Buffer.from('late '));
  remote.end(Buffer.from('reply'));
  t.is((await gotAtRelay).toString(), 'late reply');
  await Promise.all([closed(s), closed(remote)]);
  t.is(s.resetCode, undefined);
  t.is(remote.resetCode, undefined);
  t.is(relay.streams.size, 0);
  t.is(agent.streams.size, 0);
  t.is(relay.stats.resetsSent + agent.stats.resetsSent, 0);
});

test('half-close agent->relay first', async (t) => {
  const { relay, agent } = pair();
  const incoming = nextStream(agent);
  const s = relay.openStream(Buffer.from('m'));
  const [remote] = await incoming;
  const gotAtRelay = readAll(s);
  remote.end(Buffer.from('banner'));
  t.is((await gotAtRelay).toString(), 'banner');
  const gotAtAgent = readAll(remote);
  s.end(Buffer.from('quit'));
  t.is((await gotAtAgent).toString(), 'quit');
  await Promise.all([closed(s), closed(remote)]);
  t.is(relay.streams.size + agent.streams.size, 0);
});

test('reset relay->agent carries the code; the agent stream errors with it', async (t) => {
  const { relay, agent } = pair();
  const incoming = nextStream(agent);
  const s = relay.openStream(Buffer.from('m'));
  const [remote] = await incoming;
  const err = once(remote, 'error');
  s.reset('XNAT_ERR_FORWARD_SOCKET_RESET');
  const [e] = (await err) as [Error];
  t.true(isXnatError(e, 'XNAT_ERR_FORWARD_SOCKET_RESET'));
  t.is(remote.resetCode, 'XNAT_ERR_FORWARD_SOCKET_RESET');
  t.is(s.resetCode, 'XNAT_ERR_FORWARD_SOCKET_RESET');
  t.true(s.destroyed);
  t.is(relay.stats.resetsSent, 1);
  t.is(agent.stats.resetsReceived, 1);
  s.reset('XNAT_ERR_MUX_RESET'); // idempotent
  t.is(relay.stats.resetsSent, 1);
});

test('reset agent->relay (target refused) and a plain destroy() mid-stream resets with the generic code', async (t) => {
  const { relay, agent } = pair();
  let incoming = nextStream(agent);
  const s = relay.openStream(Buffer.from('m'), Buffer.from('hello'));
  let [remote] = await incoming;
  const err = once(s, 'error');
  remote.reset('XNAT_ERR_FORWARD_TARGET_REFUSED');
  t.true(isXnatError(((await err) as [Error])[0], 'XNAT_ERR_FORWARD_TARGET_REFUSED'));
  t.is(s.resetCode, 'XNAT_ERR_FORWARD_TARGET_REFUSED');

  incoming = nextStream(agent);
  const s2 = relay.openStream(Buffer.from('m'));
  [remote] = await incoming;
  const err2 = once(remote, 'error');
  s2.destroy();
  t.true(isXnatError(((await err2) as [Error])[0], 'XNAT_ERR_MUX_RESET'));
});

test('a reset with no error listener on the stream does not crash the process', async (t) => {
  const { relay, agent } = pair();
  agent.on('stream', (remote: MuxStream) => remote.reset('XNAT_ERR_FORWARD_TARGET_UNREACHABLE'));
  const s = relay.openStream(Buffer.from('m'));
  await closed(s);
  t.is(s.resetCode, 'XNAT_ERR_FORWARD_TARGET_UNREACHABLE');
});

test('many streams both ways with random data arrive intact (hash compare)', async (t) => {
  const { relay, agent } = pair();
  const echo = (m: Mux) =>
    m.on('stream', (s: MuxStream) => {
      void pipeline(s, s).catch(() => undefined);
    });
  echo(agent);
  echo(relay);
  const jobs: Promise<void>[] = [];
  for (let i = 0; i < 48; i++) {
    const from = i % 3 === 0 ? agent : relay;
    const data = randomBytes(Math.floor(Math.random() * 600_000));
    jobs.push(
      (async () => {
        const s = from.openStream(Buffer.from(`s${i}`), data.subarray(0, 1000));
        const got = readAll(s);
        const rest = data.subarray(1000);
        for (let off = 0; off < rest.length; off += 50_000) s.write(rest.subarray(off, off + 50_000));
        s.end();
        t.is(sha(await got), sha(data), `stream ${i}`);
      })(),
    );
  }
  await Promise.all(jobs);
  await until(() => relay.streams.size === 0 && agent.streams.size === 0, 10_000, 'streams released');
  t.is(relay.stats.resetsSent + agent.stats.resetsSent, 0);
});

test('a MuxStream works with pipeline() and real TCP sockets on 127.0.0.1', async (t) => {
  const { relay, agent } = pair();
  // LAN service: echoes upper-cased.
  const service = createServer({ allowHalfOpen: true }, (sock) => {
    sock.on('data', (c: Buffer) => sock.write(c.toString().toUpperCase()));
    sock.on('end', () => sock.end());
  });
  service.listen(0, '127.0.0.1');
  await once(service, 'listening');
  const port = (service.address() as AddressInfo).port;
  agent.on('stream', (s: MuxStream) => {
    const sock = createConnection({ port, host: '127.0.0.1', allowHalfOpen: true });
    void Promise.all([pipeline(s, sock), pipeline(sock, s)]).catch(() => undefined);
  });
  const s = relay.openStream(Buffer.from('tcp'));
  const got = readAll(s);
  s.end('hello through the tunnel');
  t.is((await got).toString(), 'HELLO THROUGH THE TUNNEL');
  service.close();
});
