// Bad input never crashes and never costs more than the link it came on: typed error, that link closed.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { computeResumeProof } from '../../src/session/resume-proof.ts';
import type { Session } from '../../src/session/session.ts';
import { FakeClock } from '../../src/util/clock.ts';
import { encodeFrame } from '../../src/wire/codec.ts';
import { FrameType, type Frame } from '../../src/wire/frame.ts';
import { createHarness, dataFrame, rawPeer, waitFor } from './harness.ts';

async function established(
  t: { teardown(fn: () => void): void },
  opts: Parameters<typeof createHarness>[0] = {},
) {
  const h = createHarness(opts);
  t.teardown(() => h.close());
  h.client.start();
  await waitFor(() => h.relaySessions.length === 1 && h.agentSessions.length === 1, 'sessions');
  return { h, relay: h.relaySessions[0]!, agent: h.agentSessions[0]! };
}

async function stillWorks(from: Session, to: Session): Promise<void> {
  let got = 0;
  const onFrame = () => got++;
  to.on('frame', onFrame);
  from.sendReliable(dataFrame(0, 10));
  await waitFor(() => got === 1, 'a frame through the session');
  to.off('frame', onFrame);
}

const garbage: Array<[string, Buffer, string]> = [
  ['unknown type', Buffer.from('ff000000000000000000', 'hex'), 'XNAT_ERR_WIRE_BAD_TYPE'],
  ['4 GiB length', Buffer.from('0200000000 01ffffffff'.replace(' ', ''), 'hex'), 'XNAT_ERR_WIRE_OVERSIZE'],
  ['bad flags on OPEN', Buffer.from('10ff00000000000000020001', 'hex'), 'XNAT_ERR_WIRE_BAD_FIELD'],
  ['HTTP request', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 'XNAT_ERR_WIRE_BAD_TYPE'],
];

for (const [name, bytes, code] of garbage) {
  test(`garbage first frame (${name}) closes that link only, with ${code}`, async (t) => {
    const { h, relay, agent } = await established(t);
    const peer = rawPeer(h.server, randomBytes(32));
    peer.sendRaw(bytes);
    await waitFor(() => peer.pair.relay.closed, 'garbage link closed');
    t.is(peer.pair.relay.closeError?.code as string | undefined, code);
    t.is(h.server.pendingLinks, 0);
    t.is(h.server.sessions.size, 1);
    await stillWorks(agent, relay);
  });
}

const wrongFirst: Array<[string, Frame, string]> = [
  [
    'a stream frame',
    { type: FrameType.STREAM_DATA, streamId: 1, data: Buffer.from('x') },
    'XNAT_ERR_SESSION_PROTOCOL',
  ],
  ['an ACK', { type: FrameType.ACK, received: 0n }, 'XNAT_ERR_SESSION_PROTOCOL'],
  ['SESSION_OPEN version 9', { type: FrameType.SESSION_OPEN, version: 9 }, 'XNAT_ERR_SESSION_VERSION'],
];

for (const [name, frame, code] of wrongFirst) {
  test(`${name} as first frame is refused with ${code}`, async (t) => {
    const { h } = await established(t);
    const peer = rawPeer(h.server, randomBytes(32));
    peer.send(frame);
    const reject = await peer.frame(FrameType.SESSION_REJECT);
    t.is(reject.type === FrameType.SESSION_REJECT && reject.code, code);
    await waitFor(() => peer.closed, 'link closed');
    t.is(h.server.sessions.size, 1);
  });
}

test('a link that never sends its first frame is dropped at the handshake deadline (fake clock)', async (t) => {
  const clock = new FakeClock();
  const { h } = await established(t, { server: { clock } });
  const peer = rawPeer(h.server, randomBytes(32));
  t.is(h.server.pendingLinks, 1);
  clock.advance(9_999);
  t.false(peer.pair.relay.closed);
  clock.advance(1);
  t.true(peer.pair.relay.closed);
  t.is(peer.pair.relay.closeError?.code, 'XNAT_ERR_SESSION_TIMEOUT');
  t.is(h.server.pendingLinks, 0);
});

test('an ACK beyond what was sent destroys that link only; the session resumes on a new link', async (t) => {
  const { h, relay, agent } = await established(t);
  const pair = h.last();
  pair.agent.write(encodeFrame({ type: FrameType.ACK, received: 999n }));
  await waitFor(() => pair.relay.closed, 'link destroyed');
  t.is(pair.relay.closeError?.code, 'XNAT_ERR_SESSION_PROTOCOL');
  await waitFor(() => relay.stats.resumes === 1 && agent.state === 'attached', 'resumed');
  t.is(relay.state, 'attached');
  await stillWorks(relay, agent);
});

test('a malformed frame mid-session or a second SESSION_OPEN costs the link, never the session or a frame', async (t) => {
  const { h, relay, agent } = await established(t);
  const order: number[] = [];
  relay.on('frame', (f: Frame) => {
    if (f.type === FrameType.STREAM_DATA) order.push(f.data.readUInt32BE(0));
  });
  for (let i = 0; i < 10; i++) agent.sendReliable(dataFrame(i, 50));
  const first = h.last();
  first.agent.write(Buffer.from('7f00000000000000000000', 'hex'));
  await waitFor(() => first.relay.closed, 'first link destroyed');
  t.is(first.relay.closeError?.code, 'XNAT_ERR_WIRE_BAD_TYPE');
  await waitFor(() => relay.stats.resumes === 1 && agent.state === 'attached', 'resumed');
  const second = h.last();
  second.agent.write(encodeFrame({ type: FrameType.SESSION_OPEN, version: 1 }));
  await waitFor(() => second.relay.closed, 'second link destroyed');
  t.is(second.relay.closeError?.code, 'XNAT_ERR_SESSION_PROTOCOL');
  await waitFor(() => relay.stats.resumes === 2 && agent.state === 'attached', 'resumed again');
  for (let i = 10; i < 20; i++) agent.sendReliable(dataFrame(i, 50));
  await waitFor(() => order.length === 20, 'frames');
  t.deepEqual(order, [...Array(20).keys()]);
  t.is(h.agentSessions.length, 1);
});

test('a RESUME claiming more frames than were sent is refused; the session stays for its agent', async (t) => {
  const { h, relay, agent } = await established(t);
  const peer = rawPeer(h.server, h.agentKey);
  peer.send({
    type: FrameType.SESSION_RESUME,
    sessionId: relay.id,
    proof: computeResumeProof(agent.resumeSecret, relay.id, peer.link.handshakeHash),
    received: 1_000_000n,
  });
  const reject = await peer.frame(FrameType.SESSION_REJECT);
  t.is(reject.type === FrameType.SESSION_REJECT && reject.code, 'XNAT_ERR_SESSION_PROTOCOL');
  t.is(h.server.sessions.size, 1);
  t.is(relay.state, 'attached');
  await stillWorks(agent, relay);
});
