// Resume, refusal, expiry and takeover: the relay's decisions about which link may carry which session.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { XnatError } from '../../src/errors.ts';
import { computeResumeProof } from '../../src/session/resume-proof.ts';
import { SessionServer } from '../../src/session/session-server.ts';
import type { Session } from '../../src/session/session.ts';
import { FakeClock } from '../../src/util/clock.ts';
import { FrameType, type Frame } from '../../src/wire/frame.ts';
import { createHarness, dataFrame, next, rawPeer, settle, waitFor } from './harness.ts';

async function connected(h: ReturnType<typeof createHarness>, n = 1): Promise<[Session, Session]> {
  await waitFor(() => h.relaySessions.length >= n && h.agentSessions.length >= n, 'sessions');
  await waitFor(() => h.agentSessions[n - 1]!.state === 'attached', 'attached');
  return [h.relaySessions[n - 1]!, h.agentSessions[n - 1]!];
}

test('frames received but not yet acked are not sent again after a resume (duplicates dropped)', async (t) => {
  // A fake clock on the agent: its 20 ms ack timer never fires, so the relay never hears of them.
  const agentClock = new FakeClock();
  const h = createHarness({ client: { clock: agentClock }, server: { clock: new FakeClock() } });
  t.teardown(() => h.close());
  h.client.start();
  const [relay, agent] = await connected(h);
  let atRelay = 0;
  relay.on('frame', () => atRelay++);
  for (let i = 0; i < 10; i++) agent.sendReliable(dataFrame(i, 100));
  await waitFor(() => atRelay === 10, 'delivery');
  t.is(agent.stats.replayBytes > 0, true, 'unacked: fewer than 64 frames and no timer');
  h.last().cut();
  await waitFor(() => agent.state === 'detached', 'detached');
  agentClock.advance(10); // the redial delay (backoff at most 5 ms here)
  await waitFor(() => agent.stats.resumes === 1, 'resume');
  await settle(10);
  t.is(atRelay, 10, 'nothing delivered twice');
  t.is(agent.stats.duplicatesDropped, 10);
  t.is(agent.stats.replayed, 0);
  t.is(agent.stats.replayBytes, 0);
});

test('frames lost on a dead link are replayed after the resume, in order', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  h.client.start();
  const [relay, agent] = await connected(h);
  const order: number[] = [];
  relay.on('frame', (f: Frame) => {
    if (f.type === FrameType.STREAM_DATA) order.push(f.data.readUInt32BE(0));
  });
  const pair = h.last();
  pair.blackhole();
  for (let i = 0; i < 20; i++) agent.sendReliable(dataFrame(i, 100));
  pair.agent.destroy(new XnatError('XNAT_ERR_LINK_KEEPALIVE'));
  pair.relay.destroy(new XnatError('XNAT_ERR_LINK_KEEPALIVE'));
  await waitFor(() => order.length === 20, 'replay');
  t.deepEqual(order, [...Array(20).keys()]);
  t.is(agent.stats.replayed, 20);
  t.is(relay.stats.resumes, 1);
});

test('a resume with another agent key, or a proof from another link, is refused; the session is untouched', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  h.client.start();
  const [relay, agent] = await connected(h);
  const secret = agent.resumeSecret;

  // Another agent key, even with a proof made with the right secret for its own link.
  const intruder = rawPeer(h.server, randomBytes(32));
  intruder.send({
    type: FrameType.SESSION_RESUME,
    sessionId: relay.id,
    proof: computeResumeProof(secret, relay.id, intruder.link.handshakeHash),
    received: 0n,
  });
  const reject = await intruder.frame(FrameType.SESSION_REJECT);
  t.is(reject.type === FrameType.SESSION_REJECT && reject.code, 'XNAT_ERR_SESSION_FORBIDDEN');
  await waitFor(() => intruder.closed, 'intruder link closed');

  // The right key but a proof bound to the old link's handshake hash (a replayed proof).
  const replayer = rawPeer(h.server, h.agentKey);
  replayer.send({
    type: FrameType.SESSION_RESUME,
    sessionId: relay.id,
    proof: computeResumeProof(secret, relay.id, h.last().agent.handshakeHash),
    received: 0n,
  });
  const reject2 = await replayer.frame(FrameType.SESSION_REJECT);
  t.is(reject2.type === FrameType.SESSION_REJECT && reject2.code, 'XNAT_ERR_SESSION_FORBIDDEN');

  // An unknown id.
  const stranger = rawPeer(h.server, h.agentKey);
  stranger.send({
    type: FrameType.SESSION_RESUME,
    sessionId: randomBytes(16),
    proof: randomBytes(32),
    received: 0n,
  });
  const reject3 = await stranger.frame(FrameType.SESSION_REJECT);
  t.is(reject3.type === FrameType.SESSION_REJECT && reject3.code, 'XNAT_ERR_SESSION_UNKNOWN');

  t.is(relay.state, 'attached');
  t.is(relay.stats.links, 1);
  let got = 0;
  relay.on('frame', () => got++);
  agent.sendReliable(dataFrame(0, 10));
  await waitFor(() => got === 1, 'session still works');
});

test('relay expires a detached session after the resume window (fake clock)', async (t) => {
  const clock = new FakeClock();
  const h = createHarness({ server: { clock, resumeWindowMs: 120_000 } });
  t.teardown(() => h.close());
  h.client.start();
  const [relay] = await connected(h);
  h.gate = new Promise(() => {}); // the agent stays away
  h.last().cut();
  await waitFor(() => relay.state === 'detached', 'detached');
  const closed = next<XnatError>(relay, 'closed');
  clock.advance(119_999);
  t.is(relay.state, 'detached');
  t.is(h.server.sessions.size, 1);
  clock.advance(1);
  t.is((await closed).code, 'XNAT_ERR_SESSION_EXPIRED');
  t.is(h.server.sessions.size, 0);
});

test('resume of an expired session is rejected: the agent closes it with EXPIRED and opens a new one', async (t) => {
  const clock = new FakeClock();
  const h = createHarness({ server: { clock, resumeWindowMs: 1000 } });
  t.teardown(() => h.close());
  h.client.start();
  const [relay, agent] = await connected(h);
  let release!: () => void;
  h.gate = new Promise<void>((r) => (release = r));
  h.last().cut();
  await waitFor(() => relay.state === 'detached' && agent.state === 'detached', 'detached');
  clock.advance(1000);
  t.is(relay.state, 'closed');
  const agentClosed = next<XnatError>(agent, 'closed');
  h.gate = undefined;
  release();
  t.is((await agentClosed).code, 'XNAT_ERR_SESSION_EXPIRED');
  const [relay2, agent2] = await connected(h, 2);
  t.false(agent2.id.equals(agent.id));
  t.true(relay2.id.equals(agent2.id));
  t.is(h.client.session, agent2);
  t.is(h.server.sessions.size, 1);
});

test('takeover: a new SESSION_OPEN of the same key replaces a session whose link is blackholed', async (t) => {
  const server = new SessionServer();
  const agentKey = randomBytes(32);
  const h1 = createHarness({ server0: server, agentKey });
  t.teardown(() => h1.close());
  h1.client.start();
  const [old] = await connected(h1);
  h1.last().blackhole(); // half-open: the relay still thinks the old link is alive
  h1.gate = new Promise(() => {});
  const events: string[] = [];
  old.on('closed', (err: XnatError) => events.push(`closed ${err.code}`));
  server.on('session', () => events.push('session'));

  const h2 = createHarness({ server0: server, agentKey });
  t.teardown(() => h2.close());
  h2.client.start();
  await waitFor(() => events.includes('session') && h2.agentSessions.length === 1, 'new session');
  t.deepEqual(events, ['closed XNAT_ERR_SESSION_REPLACED', 'session']);
  t.true(h1.last().relay.closed, 'old link destroyed');
  t.is(server.sessions.size, 1);
  t.true([...server.sessions.values()][0]!.id.equals(h2.agentSessions[0]!.id));

  // The old agent's later resume learns why.
  const peer = rawPeer(server, agentKey);
  peer.send({
    type: FrameType.SESSION_RESUME,
    sessionId: old.id,
    proof: computeResumeProof(old.resumeSecret, old.id, peer.link.handshakeHash),
    received: 0n,
  });
  const reject = await peer.frame(FrameType.SESSION_REJECT);
  t.is(reject.type === FrameType.SESSION_REJECT && reject.code, 'XNAT_ERR_SESSION_REPLACED');
});
