// Exactly once, in order, across many link cuts: random cut points, frames in flight both ways, hash compare.
import test from 'ava';
import { createHash } from 'node:crypto';
import { XnatError } from '../../src/errors.ts';
import type { Session } from '../../src/session/session.ts';
import { FrameType, type Frame } from '../../src/wire/frame.ts';
import { createHarness, dataFrame, waitFor } from './harness.ts';

/** Small seeded PRNG (mulberry32) so a failure can be replayed with its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

interface Flow {
  sentHash: ReturnType<typeof createHash>;
  gotHash: ReturnType<typeof createHash>;
  sent: number;
  got: number;
  orderOk: boolean;
}

/** Sends `total` frames of random sizes on `from`, honouring backpressure; `to` checks index order. */
function flow(from: Session, to: Session, total: number, random: () => number): Flow {
  const f: Flow = {
    sentHash: createHash('sha256'),
    gotHash: createHash('sha256'),
    sent: 0,
    got: 0,
    orderOk: true,
  };
  to.on('frame', (frame: Frame) => {
    if (frame.type !== FrameType.STREAM_DATA) return;
    if (frame.data.readUInt32BE(0) !== f.got) f.orderOk = false;
    f.got++;
    f.gotHash.update(frame.data);
  });
  const pump = () => {
    while (f.sent < total) {
      const frame = dataFrame(f.sent, 4 + Math.floor(random() * 9000));
      if (frame.type === FrameType.STREAM_DATA) f.sentHash.update(frame.data);
      f.sent++;
      if (!from.sendReliable(frame)) {
        from.once('drain', pump);
        return;
      }
    }
  };
  setImmediate(pump);
  return f;
}

for (const seed of [1, 2, 3]) {
  test(`exactly once in order across many cut/resume cycles (seed ${seed})`, async (t) => {
    const random = prng(seed);
    const h = createHarness({
      link: { random, highWaterMark: 32 * 1024 },
      client: { replayBufferBytes: 256 * 1024 },
      server: { replayBufferBytes: 256 * 1024 },
    });
    t.teardown(() => h.close());
    h.client.start();
    await waitFor(() => h.relaySessions.length === 1 && h.agentSessions.length === 1, 'sessions');
    const [relay, agent] = [h.relaySessions[0]!, h.agentSessions[0]!];
    const total = 3000;
    const up = flow(agent, relay, total, random);
    const down = flow(relay, agent, total, random);
    let cuts = 0;
    let stop = false;
    const chaos = () => {
      if (stop) return;
      const pair = h.last();
      const r = random();
      if (r < 0.5) pair.cut(random());
      else if (r < 0.75) {
        // Half-open: both ends find out later (keepalive), in either order.
        pair.blackhole();
        setTimeout(() => pair.agent.destroy(new XnatError('XNAT_ERR_LINK_KEEPALIVE')), random() * 5);
        setTimeout(() => pair.relay.destroy(new XnatError('XNAT_ERR_LINK_KEEPALIVE')), random() * 5);
      } else {
        // Only the agent notices; the relay still holds the old link when the resume arrives.
        pair.blackhole();
        pair.agent.destroy(new XnatError('XNAT_ERR_LINK_KEEPALIVE'));
      }
      cuts++;
      setTimeout(chaos, 1 + random() * 12);
    };
    setTimeout(chaos, 2);
    await waitFor(() => up.got === total && down.got === total, 'all frames', 60_000);
    stop = true;
    t.true(cuts >= 10, `cuts ${cuts}`);
    t.true(up.orderOk && down.orderOk, 'order');
    t.is(up.gotHash.digest('hex'), up.sentHash.digest('hex'));
    t.is(down.gotHash.digest('hex'), down.sentHash.digest('hex'));
    t.is(h.agentSessions.length, 1, 'the session survived every cut');
    t.is(h.relaySessions.length, 1);
    t.true(agent.stats.resumes > 0);
    t.true(agent.stats.replayed + relay.stats.replayed > 0, 'some frames were replayed');
    t.log({
      cuts,
      resumes: agent.stats.resumes,
      replayedUp: agent.stats.replayed,
      replayedDown: relay.stats.replayed,
      duplicatesDropped: agent.stats.duplicatesDropped + relay.stats.duplicatesDropped,
      highWater: agent.stats.replayHighWater,
    });
    t.true(agent.stats.replayHighWater <= 256 * 1024 + 64 * 1024 + 10);
  });
}
