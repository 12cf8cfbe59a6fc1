// Session basics over memory links: open, frames both ways, acks, datagrams, graceful close, backpressure.
import test from 'ava';
import { FakeClock } from '../../src/util/clock.ts';
import { FrameType, type Frame } from '../../src/wire/frame.ts';
import type { Link } from '../../src/link/link.ts';
import type { SessionLink } from '../../src/session/session-link.ts';
import type { Session } from '../../src/session/session.ts';
import { createHarness, dataFrame, next, settle, waitFor } from './harness.ts';

test('open: relay and agent get one session each with the same id; frames flow both ways in order', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  h.client.start();
  await waitFor(() => h.relaySessions.length === 1 && h.agentSessions.length === 1, 'sessions');
  const [relay, agent] = [h.relaySessions[0]!, h.agentSessions[0]!];
  t.true(relay.id.equals(agent.id));
  t.is(relay.role, 'relay');
  t.is(agent.role, 'agent');
  t.true(relay.agentKey.equals(h.agentKey));
  t.is(h.server.sessions.get(relay.idHex), relay);
  t.is(relay.state, 'attached');
  t.is(agent.state, 'attached');

  const atRelay: Frame[] = [];
  const atAgent: Frame[] = [];
  relay.on('frame', (f: Frame) => atRelay.push(f));
  agent.on('frame', (f: Frame) => atAgent.push(f));
  for (let i = 0; i < 200; i++) {
    agent.sendReliable(dataFrame(i, 100));
    relay.sendReliable(dataFrame(i, 50));
  }
  await waitFor(() => atRelay.length === 200 && atAgent.length === 200, 'frames');
  t.deepEqual(
    atRelay.map((f) => (f.type === FrameType.STREAM_DATA ? f.data.readUInt32BE(0) : -1)),
    [...Array(200).keys()],
  );
  // Acks (coalesced, then the 20 ms timer) empty both replay buffers.
  await waitFor(() => agent.stats.replayBytes === 0 && relay.stats.replayBytes === 0, 'acks');
  t.is(agent.stats.framesSent, 200);
  t.is(relay.stats.framesReceived, 200);
  t.is(agent.stats.replayed, 0);
  // The direct RTT read (the mux's, per window grant) is the link's, as in the stats snapshot.
  t.is(typeof agent.rttMs, 'number');
  t.is(agent.rttMs, agent.link?.rttMs);
  t.is(relay.rttMs, relay.stats.rttMs);
});

test('datagrams pass while attached and are dropped and counted while detached', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  h.gate = undefined;
  h.client.start();
  await waitFor(() => h.relaySessions.length === 1 && h.agentSessions.length === 1, 'sessions');
  const [relay, agent] = [h.relaySessions[0]!, h.agentSessions[0]!];
  const got: Frame[] = [];
  relay.on('frame', (f: Frame) => got.push(f));
  t.true(agent.sendDatagram({ type: FrameType.DATAGRAM, flowId: 7, data: Buffer.from('hi') }));
  await waitFor(() => got.length === 1, 'datagram');
  t.is(got[0]!.type, FrameType.DATAGRAM);
  let release!: () => void;
  h.gate = new Promise<void>((r) => (release = r));
  h.last().cut();
  await waitFor(() => agent.state === 'detached', 'detach');
  t.false(agent.sendDatagram({ type: FrameType.DATAGRAM, flowId: 7, data: Buffer.from('lost') }));
  t.is(agent.stats.datagramsDropped, 1);
  h.gate = undefined;
  release();
  await waitFor(() => agent.state === 'attached', 'resume');
  await settle();
  t.is(got.length, 1, 'a datagram is never replayed');
  t.throws(() => agent.sendReliable({ type: FrameType.DATAGRAM, flowId: 1, data: Buffer.alloc(1) }), {
    message: /internal/i,
  });
});

test('close() flushes everything, ends the peer session with SESSION_CLOSED and stops the client', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  h.client.start();
  await waitFor(() => h.relaySessions.length === 1 && h.agentSessions.length === 1, 'sessions');
  const [relay, agent] = [h.relaySessions[0]!, h.agentSessions[0]!];
  let received = 0;
  relay.on('frame', () => received++);
  const relayClosed = next<Error | undefined>(relay, 'closed');
  const agentClosed = next<Error | undefined>(agent, 'closed');
  for (let i = 0; i < 500; i++) agent.sendReliable(dataFrame(i, 1000));
  h.client.close();
  t.is(await agentClosed, undefined);
  const err = (await relayClosed) as { code?: string } | undefined;
  t.is(err?.code, 'XNAT_ERR_SESSION_CLOSED');
  t.is(received, 500);
  t.is(h.server.sessions.size, 0);
  const dials = h.dials;
  await settle(20);
  t.is(h.dials, dials, 'no redial after close()');
  t.false(agent.sendReliable(dataFrame(0, 10)));
});

test('replay cap: false at the cap, accepted anyway, high water <= cap + one frame, drain after acks', async (t) => {
  const cap = 64 * 1024;
  const clock = new FakeClock();
  const h = createHarness({ client: { replayBufferBytes: cap, clock } });
  t.teardown(() => h.close());
  h.client.start();
  await waitFor(() => h.agentSessions.length === 1 && h.relaySessions.length === 1, 'sessions');
  const agent = h.agentSessions[0]!;
  h.last().pause(); // nothing is delivered, so nothing is acked
  let sent = 0;
  while (agent.sendReliable(dataFrame(sent, 3000))) sent++;
  sent++; // the frame that returned false was accepted
  t.false(agent.writable);
  t.true(agent.stats.replayBytes >= cap);
  t.false(agent.sendReliable(dataFrame(sent++, 60 * 1024)), 'still false, frame still accepted');
  const maxFrame = 64 * 1024 + 10;
  t.true(agent.stats.replayHighWater <= cap + maxFrame, `high water ${agent.stats.replayHighWater}`);
  const drained = next(agent, 'drain');
  let got = 0;
  h.relaySessions[0]!.on('frame', () => got++);
  h.last().resume();
  await drained;
  t.true(agent.writable);
  await waitFor(() => got === sent, 'all frames');
  t.is(got, sent);
});

test('link backpressure: frames wait unsent in the replay buffer while the link is congested', async (t) => {
  const h = createHarness({ link: { highWaterMark: 16 * 1024 } });
  t.teardown(() => h.close());
  h.client.start();
  await waitFor(() => h.agentSessions.length === 1 && h.relaySessions.length === 1, 'sessions');
  const agent: Session = h.agentSessions[0]!;
  const pair = h.last();
  pair.pause();
  for (let i = 0; i < 100; i++) agent.sendReliable(dataFrame(i, 4000));
  // The link took only up to its high-water mark plus one frame; the rest waits in the replay buffer.
  t.true(pair.agent.queuedBytes <= 16 * 1024 + 4000 + 64, `link queued ${pair.agent.queuedBytes}`);
  t.true(agent.stats.replayBytes >= 100 * 4000);
  const order: number[] = [];
  h.relaySessions[0]!.on('frame', (f: Frame) => {
    if (f.type === FrameType.STREAM_DATA) order.push(f.data.readUInt32BE(0));
  });
  pair.resume();
  await waitFor(() => order.length === 100, 'frames');
  t.deepEqual(order, [...Array(100).keys()]);
});

// Compile-time check: the real Link satisfies SessionLink (tsc fails here if either side drifts).
export const linkIsSessionLink = (link: Link): SessionLink => link;

test('ack delay: an ACK riding with a reply leaves the timer armed; the next frame is acked ackDelayMs after it, not earlier', async (t) => {
  const clock = new FakeClock();
  const h = createHarness({ client: { clock } });
  t.teardown(() => h.close());
  h.client.start();
  await waitFor(() => h.agentSessions.length === 1 && h.relaySessions.length === 1, 'sessions');
  const [relay, agent] = [h.relaySessions[0]!, h.agentSessions[0]!];
  let got = 0;
  agent.on('frame', () => got++);
  relay.sendReliable(dataFrame(0, 10));
  await waitFor(() => got === 1, 'first frame');
  agent.sendReliable(dataFrame(0, 10)); // the reply carries the ACK
  await waitFor(() => relay.stats.replayBytes === 0, 'ACK with the reply');
  clock.advance(15);
  relay.sendReliable(dataFrame(1, 10));
  await waitFor(() => got === 2, 'second frame');
  clock.advance(5); // the first frame's timer fires: the second's ACK is due 20 ms after it, not now
  await settle();
  t.true(relay.stats.replayBytes > 0, 'not acked before its delay');
  clock.advance(14);
  await settle();
  t.true(relay.stats.replayBytes > 0, 'not acked 19 ms after');
  clock.advance(1);
  await waitFor(() => relay.stats.replayBytes === 0, 'ACK at the delay');
  t.pass();
});
