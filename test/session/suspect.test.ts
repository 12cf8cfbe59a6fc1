// A suspect link (silent for about a keepalive interval) on a fake clock: probe dials start while the
// session stays on it; a record on it cancels them and nothing else changes, however often that happens
// (a slow link does not flap); a probe that gets through takes the session over byte-exact, both ways.
import test from 'ava';
import { createHash } from 'node:crypto';
import type { Session } from '../../src/session/session.ts';
import { FrameType, type Frame } from '../../src/wire/frame.ts';
import { dataFrame, settle, waitFor } from './harness.ts';
import { advanceUntil, world, type World } from './outage-world.ts';

async function attached(w: World): Promise<{ agent: Session; relay: Session }> {
  w.client.start();
  await waitFor(() => w.client.session?.state === 'attached', 'first attach');
  const agent = w.client.session!;
  return { agent, relay: w.server.sessions.get(agent.idHex)! };
}

test('a suspect link that proves alive keeps the session; its probes are abandoned and none follow', async (t) => {
  const w = world();
  t.teardown(() => w.close());
  const { agent } = await attached(w);
  const link = w.pairs[0]!.agent;
  let detached = 0;
  agent.on('detached', () => detached++);
  // A slow path: the probes' handshakes do not complete before the old link shows life.
  w.dialsHang = true;
  link.emit('suspect', 1150);
  await advanceUntil(w.clock, () => false, 900);
  const probes = w.dialsAt.length - 1;
  t.true(probes >= 3 && probes <= 7, `${probes} probes in 900 ms`);
  t.true(w.client.inOutage, 'probing counts as an outage for the log level of dial failures');
  link.emit('alive');
  await settle(4);
  t.is(w.aborted, probes, 'every probe aborted');
  t.false(w.client.inOutage);
  await advanceUntil(w.clock, () => false, 5_000);
  t.is(w.dialsAt.length - 1, probes, 'no dial after the link proved alive');
  t.is(agent.link, link);
  t.is(detached, 0);
  t.deepEqual(w.restored, []);
});

test('a slow link suspect again and again loses nothing and never changes link while it answers', async (t) => {
  const w = world();
  t.teardown(() => w.close());
  const { agent, relay } = await attached(w);
  const link = w.pairs[0]!.agent;
  const got: number[] = [];
  agent.on('frame', (f: Frame) => {
    if (f.type === FrameType.STREAM_DATA) got.push(f.data.readUInt32BE(0));
  });
  w.dialsHang = true;
  let sent = 0;
  for (let round = 0; round < 20; round++) {
    link.emit('suspect', 1150);
    await advanceUntil(w.clock, () => false, 300);
    for (let i = 0; i < 10; i++) relay.sendReliable(dataFrame(sent++, 100));
    await settle(4);
    link.emit('alive');
    await advanceUntil(w.clock, () => false, 700);
  }
  await waitFor(() => got.length === sent, 'every frame');
  t.deepEqual(
    got,
    Array.from({ length: sent }, (_, i) => i),
  );
  t.is(agent.link, link, 'still the first link');
  t.is(w.pairs.length, 1);
  t.is(w.aborted, w.dialsAt.length - 1, 'every probe abandoned');
  t.deepEqual(w.restored, []);
});

test('a probe that gets through takes the session over from a silent link, exactly once both ways', async (t) => {
  const w = world();
  t.teardown(() => w.close());
  const { agent, relay } = await attached(w);
  const hashes = {
    down: [createHash('sha256'), createHash('sha256')],
    up: [createHash('sha256'), createHash('sha256')],
  };
  const counts = { down: 0, up: 0 };
  const order = { down: true, up: true };
  const receive = (dir: 'down' | 'up') => (f: Frame) => {
    if (f.type !== FrameType.STREAM_DATA) return;
    if (f.data.readUInt32BE(0) !== counts[dir]) order[dir] = false;
    counts[dir]++;
    hashes[dir][1]!.update(f.data);
  };
  agent.on('frame', receive('down'));
  relay.on('frame', receive('up'));
  const TOTAL = 400;
  let sent = 0;
  const send = (n: number) => {
    for (let i = 0; i < n && sent < TOTAL; i++, sent++) {
      const d = dataFrame(sent, 200 + ((sent * 37) % 3000));
      const u = dataFrame(sent, 100 + ((sent * 53) % 2000));
      hashes.down[0]!.update((d as { data: Buffer }).data);
      hashes.up[0]!.update((u as { data: Buffer }).data);
      relay.sendReliable(d);
      agent.sendReliable(u);
    }
  };
  send(100);
  await settle(4);
  // The path of the first link dies mid-flow (frames in flight both ways are lost); the relay keeps its end.
  send(50);
  w.blackholeLink(w.pairs[0]!);
  await settle(1);
  send(50);
  // The suspect silence comes; the first probe gets through at once (the path is back).
  await advanceUntil(w.clock, () => w.pairs.length > 1 && agent.state === 'attached', 2_000);
  t.is(agent.state, 'attached');
  t.is(relay.link, w.pairs[1]!.relay);
  send(TOTAL);
  await waitFor(() => counts.down === TOTAL && counts.up === TOTAL, 'every frame both ways');
  t.true(order.down && order.up, 'in order');
  t.is(hashes.down[1]!.digest('hex'), hashes.down[0]!.digest('hex'));
  t.is(hashes.up[1]!.digest('hex'), hashes.up[0]!.digest('hex'));
  t.is(w.restored.length, 1);
  t.true(w.restored[0]!.resumed);
});
