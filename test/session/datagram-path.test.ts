// The session's choice of way for datagrams: the current link's datagram path (the UDP path) when it
// takes the datagram and the caller allows it, else the link's lane; the path belongs to one link and
// is closed when it goes.
import test from 'ava';
import { FrameType, type Frame } from '../../src/wire/frame.ts';
import type { DatagramPath } from '../../src/session/index.ts';
import { createHarness, settle, waitFor } from './harness.ts';

/** A stand-in path: takes datagrams up to `max` bytes while `up`, records them, counts its closes. */
function fakePath(max = 1200) {
  const sent: string[] = [];
  const path = {
    up: true,
    closed: 0,
    sent,
    trySend(flowId: number, data: Buffer) {
      if (!path.up || data.length > max) return false;
      sent.push(`${flowId}:${data.toString()}`);
      return true;
    },
    close() {
      path.closed++;
    },
  };
  return path satisfies DatagramPath;
}

test('datagrams take the path while it takes them, the lane otherwise; the path goes with its link', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  h.client.start();
  await waitFor(() => h.relaySessions.length === 1 && h.agentSessions.length === 1, 'sessions');
  const [relay, agent] = [h.relaySessions[0]!, h.agentSessions[0]!];
  const lane: Frame[] = [];
  relay.on('frame', (f: Frame) => lane.push(f));
  const path = fakePath(8);
  t.true(agent.useDatagramPath(agent.link!, path));

  t.true(agent.sendDatagram({ type: FrameType.DATAGRAM, flowId: 1, data: Buffer.from('small') }));
  t.true(agent.sendDatagram({ type: FrameType.DATAGRAM, flowId: 1, data: Buffer.from('too large for it') }));
  t.true(agent.sendDatagram({ type: FrameType.DATAGRAM, flowId: 1, data: Buffer.from('lane') }, 'lane'));
  path.up = false;
  t.true(agent.sendDatagram({ type: FrameType.DATAGRAM, flowId: 1, data: Buffer.from('down') }));
  await waitFor(() => lane.length === 3, 'lane datagrams');
  t.deepEqual(path.sent, ['1:small']);
  t.deepEqual(
    lane.map((f) => (f.type === FrameType.DATAGRAM ? f.data.toString() : '?')),
    ['too large for it', 'lane', 'down'],
  );
  t.is(agent.stats.datagramsOnPath, 1);

  // What the path receives is delivered as the lane's datagrams are.
  const atAgent: Frame[] = [];
  agent.on('frame', (f: Frame) => atAgent.push(f));
  agent.deliverDatagram(9, Buffer.from('via udp'));
  t.is(atAgent.length, 1);
  t.like(atAgent[0], { type: FrameType.DATAGRAM, flowId: 9 });

  // The link goes: the session closes its path; the next link starts without one.
  h.last().cut();
  await waitFor(() => path.closed === 1, 'path closed with its link');
  await waitFor(() => agent.state === 'attached', 'resumed');
  path.up = true;
  t.true(agent.sendDatagram({ type: FrameType.DATAGRAM, flowId: 1, data: Buffer.from('new') }));
  await waitFor(() => lane.length === 4, 'on the lane of the new link');
  t.deepEqual(path.sent, ['1:small'], 'the old path is not used on the new link');
});

test('a path offered for a link that is not the current one is refused and closed', async (t) => {
  const h = createHarness();
  t.teardown(() => h.close());
  h.client.start();
  await waitFor(() => h.agentSessions.length === 1, 'session');
  const agent = h.agentSessions[0]!;
  const old = agent.link!;
  h.last().cut();
  await waitFor(() => agent.state === 'attached' && agent.link !== old, 'a new link');
  const path = fakePath();
  t.false(agent.useDatagramPath(old, path));
  t.is(path.closed, 1);
  await settle();
  // Replacing the current path closes the one before.
  const a = fakePath();
  const b = fakePath();
  t.true(agent.useDatagramPath(agent.link!, a));
  t.true(agent.useDatagramPath(agent.link!, b));
  t.is(a.closed, 1);
  t.is(b.closed, 0);
  agent.destroy();
  t.is(b.closed, 1, 'closed with the session');
});
