// Held opens (open()'s holdForFirstBytes, the relay's visitor streams): the first DATA rides in the
// STREAM_OPEN; with none the open leaves at the end of the next loop iteration; held opens leave in id
// order; a stream reset before its open leaves is never heard of by the peer.
import test from 'ava';
import { once } from 'node:events';
import { Mux } from '../../src/mux/mux.ts';
import type { MuxDuplex } from '../../src/mux/mux-duplex.ts';
import { FrameType, type Frame } from '../../src/wire/frame.ts';
import { memoryTransportPair, readAll } from './memory-transport.ts';

function pair(opts: { initialWindow?: number } = {}) {
  const [ta, tb] = memoryTransportPair();
  const relay = new Mux(ta, { role: 'relay', ...opts });
  const agent = new Mux(tb, { role: 'agent', ...opts });
  return { ta, relay, agent };
}

const hold = { holdForFirstBytes: true };
const turn = () => new Promise((resolve) => setImmediate(resolve));
const kinds = (frames: readonly Frame[]) =>
  frames.map(
    (f) =>
      `${f.type === FrameType.STREAM_OPEN ? 'open' : f.type === FrameType.STREAM_DATA ? 'data' : f.type}:${'streamId' in f ? f.streamId : ''}`,
  );

test('the first write rides in the held open: one STREAM_OPEN with the bytes, no DATA frame', async (t) => {
  const { ta, relay, agent } = pair();
  const incoming = once(agent, 'stream') as Promise<[MuxDuplex, Buffer]>;
  const s = relay.openStream(Buffer.from('web'), undefined, hold);
  t.is(ta.sent.length, 0, 'held');
  s.end('GET / HTTP/1.0\r\n\r\n');
  const [remote, meta] = await incoming;
  t.is(meta.toString(), 'web');
  const open = ta.sent[0]!;
  t.is(open.type, FrameType.STREAM_OPEN);
  t.is(open.type === FrameType.STREAM_OPEN ? open.data.toString() : '', 'GET / HTTP/1.0\r\n\r\n');
  t.is(ta.sent.filter((f) => f.type === FrameType.STREAM_DATA).length, 0);
  t.is((await readAll(remote)).toString(), 'GET / HTTP/1.0\r\n\r\n');
});

test('with no first bytes the open leaves empty at the end of the next loop iteration (no timer)', async (t) => {
  const { ta, relay, agent } = pair();
  const incoming = once(agent, 'stream') as Promise<[MuxDuplex, Buffer]>;
  const s = relay.openStream(Buffer.from('ssh'), undefined, hold);
  await turn();
  t.is(ta.sent.length, 0, 'still held after one check phase: the socket may not have been read yet');
  await turn();
  t.deepEqual(kinds(ta.sent), [`open:${s.id}`]);
  const [remote] = await incoming;
  // The service speaks first: its bytes reach the visitor's side as usual.
  remote.end('SSH-2.0-x\r\n');
  t.is((await readAll(s)).toString(), 'SSH-2.0-x\r\n');
});

test('held opens leave in id order: a later stream writing first sends the earlier open before its own', async (t) => {
  const { ta, relay, agent } = pair();
  const seen: number[] = [];
  agent.on('stream', (st: MuxDuplex) => {
    seen.push(st.id);
    st.resume();
  });
  const a = relay.openStream(Buffer.from('a'), undefined, hold);
  const b = relay.openStream(Buffer.from('b'), undefined, hold);
  b.write('from b');
  await turn();
  t.deepEqual(kinds(ta.sent).slice(0, 2), [`open:${a.id}`, `open:${b.id}`]);
  const openB = ta.sent[1]!;
  t.is(openB.type === FrameType.STREAM_OPEN ? openB.data.toString() : '', 'from b');
  const openA = ta.sent[0]!;
  t.is(openA.type === FrameType.STREAM_OPEN ? openA.data.length : -1, 0);
  await turn();
  t.deepEqual(seen, [a.id, b.id], 'the peer accepted both (ids only increase)');
  t.is(agent.stats.resetsSent, 0);
});

test('a stream reset before its open left is never sent; the next one is accepted', async (t) => {
  const { ta, relay, agent } = pair();
  const incoming = once(agent, 'stream') as Promise<[MuxDuplex, Buffer]>;
  const gone = relay.openStream(Buffer.from('scan'), undefined, hold);
  gone.on('error', () => {});
  gone.reset('XNAT_ERR_FORWARD_SOCKET_RESET');
  const next = relay.openStream(Buffer.from('web'), undefined, hold);
  next.end('hi');
  const [remote, meta] = await incoming;
  t.is(meta.toString(), 'web');
  t.is(remote.id, next.id);
  t.false(
    ta.sent.some((f) => 'streamId' in f && f.streamId === gone.id),
    'nothing of the reset stream',
  );
  t.is((await readAll(remote)).toString(), 'hi');
  t.false(relay.streams.has(gone.id), 'the reset stream is gone locally too');
});

test('a held stream with a larger window grants it right after its open', async (t) => {
  const { ta, relay } = pair({ initialWindow: 1024 * 1024 });
  const s = relay.openStream(Buffer.from('big'), undefined, hold);
  t.is(ta.sent.length, 0);
  s.write('x');
  await turn();
  t.deepEqual(kinds(ta.sent).slice(0, 2), [`open:${s.id}`, `${FrameType.STREAM_WINDOW}:${s.id}`]);
});
