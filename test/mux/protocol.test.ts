// Protocol rules against a raw peer: unknown ids, id parity and reuse, the stream cap, late frames.
import test from 'ava';
import { isXnatError } from '../../src/errors.ts';
import { Mux } from '../../src/mux/mux.ts';
import type { MuxDuplex as MuxStream } from '../../src/mux/mux-duplex.ts';
import { type Frame, FrameType } from '../../src/wire/frame.ts';
import { closed, memoryTransportPair, quiet, until } from './memory-transport.ts';

/** An agent Mux facing a raw transport the test drives as the relay. */
function rawPeer(opts: { maxStreams?: number; listen?: boolean } = {}) {
  const [raw, tb] = memoryTransportPair();
  const agent = new Mux(tb, { role: 'agent', ...(opts.maxStreams ? { maxStreams: opts.maxStreams } : {}) });
  const accepted: MuxStream[] = [];
  if (opts.listen !== false) agent.on('stream', (s: MuxStream) => accepted.push(s));
  const open = (streamId: number, data = Buffer.alloc(0)) =>
    raw.sendReliable({ type: FrameType.STREAM_OPEN, streamId, meta: Buffer.from('m'), data });
  const resets = () =>
    tb.sent.flatMap((f: Frame) => (f.type === FrameType.STREAM_RESET ? [[f.streamId, f.code] as const] : []));
  return { raw, tb, agent, accepted, open, resets };
}

test('frames for a stream id never opened are answered with XNAT_ERR_MUX_UNKNOWN_STREAM (a RESET is not)', async (t) => {
  const p = rawPeer();
  p.raw.sendReliable({ type: FrameType.STREAM_DATA, streamId: 5, data: Buffer.from('x') });
  p.raw.sendReliable({ type: FrameType.STREAM_WINDOW, streamId: 8, delta: 10 });
  p.raw.sendReliable({ type: FrameType.STREAM_FIN, streamId: 9 });
  p.raw.sendReliable({ type: FrameType.STREAM_RESET, streamId: 11, code: 'XNAT_ERR_MUX_RESET' });
  await quiet(p.raw, p.tb);
  t.deepEqual(p.resets(), [
    [5, 'XNAT_ERR_MUX_UNKNOWN_STREAM'],
    [8, 'XNAT_ERR_MUX_UNKNOWN_STREAM'],
    [9, 'XNAT_ERR_MUX_UNKNOWN_STREAM'],
  ]);
});

test('an OPEN with the wrong id parity is reset with XNAT_ERR_MUX_PROTOCOL and never surfaces', async (t) => {
  const p = rawPeer();
  p.open(2); // even ids belong to the agent
  await quiet(p.raw, p.tb);
  t.deepEqual(p.resets(), [[2, 'XNAT_ERR_MUX_PROTOCOL']]);
  t.is(p.accepted.length, 0);
});

test('a reused or decreasing stream id is reset with XNAT_ERR_MUX_PROTOCOL; a live stream with that id is reset too', async (t) => {
  const p = rawPeer();
  p.open(5);
  await until(() => p.accepted.length === 1);
  const live = p.accepted[0]!;
  const err = new Promise<Error>((r) => live.once('error', r));
  p.open(5);
  t.true(isXnatError(await err, 'XNAT_ERR_MUX_PROTOCOL'));
  p.open(3); // below the highest id seen: ids only grow
  await quiet(p.raw, p.tb);
  t.deepEqual(p.resets(), [
    [5, 'XNAT_ERR_MUX_PROTOCOL'],
    [3, 'XNAT_ERR_MUX_PROTOCOL'],
  ]);
  t.is(p.accepted.length, 1);
});

test('DATA after the peer FIN is a protocol violation', async (t) => {
  const p = rawPeer();
  p.open(1);
  await until(() => p.accepted.length === 1);
  const s = p.accepted[0]!;
  s.on('error', () => undefined);
  p.raw.sendReliable({ type: FrameType.STREAM_FIN, streamId: 1 });
  p.raw.sendReliable({ type: FrameType.STREAM_DATA, streamId: 1, data: Buffer.from('late') });
  await closed(s);
  t.is(s.resetCode, 'XNAT_ERR_MUX_PROTOCOL');
  t.deepEqual(p.resets(), [[1, 'XNAT_ERR_MUX_PROTOCOL']]);
});

test('the stream cap resets an OPEN beyond it with XNAT_ERR_MUX_STREAM_LIMIT, and openStream throws it', async (t) => {
  const p = rawPeer({ maxStreams: 2 });
  p.open(1);
  p.open(3);
  p.open(5);
  await quiet(p.raw, p.tb);
  t.is(p.accepted.length, 2);
  t.deepEqual(p.resets(), [[5, 'XNAT_ERR_MUX_STREAM_LIMIT']]);
  const err = t.throws(() => p.agent.openStream(Buffer.from('m')));
  t.true(isXnatError(err, 'XNAT_ERR_MUX_STREAM_LIMIT'));
  // Once one finishes, there is room again.
  p.accepted[0]!.reset('XNAT_ERR_MUX_RESET');
  t.is(p.agent.streams.size, 1);
  t.notThrows(() => p.agent.openStream(Buffer.from('m')));
});

test('DATA racing a local reset is ignored, not answered', async (t) => {
  const p = rawPeer();
  p.open(1);
  await until(() => p.accepted.length === 1);
  p.accepted[0]!.reset('XNAT_ERR_FORWARD_TARGET_REFUSED');
  p.raw.sendReliable({ type: FrameType.STREAM_DATA, streamId: 1, data: Buffer.from('in flight') });
  p.raw.sendReliable({ type: FrameType.STREAM_WINDOW, streamId: 1, delta: 100 });
  await quiet(p.raw, p.tb);
  t.deepEqual(p.resets(), [[1, 'XNAT_ERR_FORWARD_TARGET_REFUSED']]);
  t.is(p.agent.stats.lateFrames, 2);
});

test('an OPEN with nobody listening for streams is refused', async (t) => {
  const p = rawPeer({ listen: false });
  p.open(1);
  await quiet(p.raw, p.tb);
  t.deepEqual(p.resets(), [[1, 'XNAT_ERR_MUX_REFUSED']]);
});

test('a reset with a code this version does not know becomes XNAT_ERR_MUX_RESET', async (t) => {
  const p = rawPeer();
  p.open(1);
  await until(() => p.accepted.length === 1);
  const s = p.accepted[0]!;
  const err = new Promise<Error>((r) => s.once('error', r));
  p.raw.sendReliable({ type: FrameType.STREAM_RESET, streamId: 1, code: 'XNAT_ERR_FROM_THE_FUTURE' });
  t.true(isXnatError(await err, 'XNAT_ERR_MUX_RESET'));
  t.is(s.resetCode, 'XNAT_ERR_MUX_RESET');
  await quiet(p.raw, p.tb);
  t.deepEqual(p.resets(), [], 'a RESET is never answered with a RESET');
});

test('openStream rejects oversize metadata', (t) => {
  const p = rawPeer();
  const err = t.throws(() => p.agent.openStream(Buffer.alloc(5000)));
  t.true(isXnatError(err, 'XNAT_ERR_MUX_MESSAGE_SIZE'));
});
