// Blackholes of 1 s, 7 s and 30 s on a fake clock with memory links: dials started inside the outage hang
// (their bytes are lost) until abandoned, fresh ones keep starting <= 400 ms apart, the first dial after
// the path returns resumes the session, and one 'restored' summary ends the outage.
import test from 'ava';
import { SessionClient, type OutageSummary } from '../../src/session/session-client.ts';
import { SessionServer } from '../../src/session/session-server.ts';
import type { Session } from '../../src/session/session.ts';
import { FakeClock } from '../../src/util/clock.ts';
import { createMemoryLinkPair, type MemoryLinkPair } from '../helpers/memory-link.ts';
import { settle, waitFor } from './harness.ts';
import { randomBytes } from 'node:crypto';

/** The keepalive's verdict on a blackholed link comes this long after the outage starts (default 2-3 s). */
const DETECTION_MS = 2_500;

interface World {
  clock: FakeClock;
  client: SessionClient;
  server: SessionServer;
  pairs: MemoryLinkPair[];
  /** Start times (clock ms) of every dial. */
  dialsAt: number[];
  /** Dials aborted by the client (abandoned or lost the race). */
  aborted: number;
  restored: OutageSummary[];
  blackholed: boolean;
  close(): void;
}

function world(): World {
  const clock = new FakeClock();
  const agentKey = randomBytes(32);
  const server = new SessionServer({ clock });
  const keepAlive = setInterval(() => {}, 1000);
  const w: World = {
    clock,
    server,
    pairs: [],
    dialsAt: [],
    aborted: 0,
    restored: [],
    blackholed: false,
    client: undefined as unknown as SessionClient,
    close: () => {
      clearInterval(keepAlive);
      w.client.close();
      server.close();
    },
  };
  w.client = new SessionClient({
    clock,
    agentKey,
    dial: (signal) => {
      w.dialsAt.push(clock.now());
      if (w.blackholed)
        // Inside the outage: SYN or handshake bytes lost; it never completes, also after the path is back.
        return new Promise((_, reject) =>
          signal.addEventListener('abort', () => {
            w.aborted++;
            reject(new Error('aborted'));
          }),
        );
      const pair = createMemoryLinkPair({ agentKey });
      w.pairs.push(pair);
      server.attachLink(pair.relay);
      return Promise.resolve(pair.agent);
    },
  });
  w.client.on('restored', (o: OutageSummary) => w.restored.push(o));
  return w;
}

/** Advances the fake clock in 10 ms steps (letting promises run) until `cond` holds or `maxMs` passed. */
async function advanceUntil(clock: FakeClock, cond: () => boolean, maxMs: number): Promise<void> {
  for (let i = 0; i < maxMs && !cond(); i += 10) {
    clock.advance(10);
    await settle(2);
  }
}

for (const outageMs of [1_000, 7_000, 30_000]) {
  test(`a ${outageMs / 1000} s blackhole: redials <= 400 ms apart, the first dial after the path returns resumes, one summary`, async (t) => {
    const w = world();
    t.teardown(() => w.close());
    w.client.start();
    await waitFor(() => w.client.session?.state === 'attached', 'first attach');
    const session = w.client.session as Session;

    // The path dies at B; the keepalive (link layer, real in the end-to-end test) cuts the link at B + 2.5 s.
    // A blackhole shorter than that is never noticed: the link survives and nothing is redialed.
    const B = w.clock.now();
    w.blackholed = true;
    const firstLink = w.pairs[0]!;
    if (outageMs < DETECTION_MS) {
      await advanceUntil(w.clock, () => false, outageMs);
      w.blackholed = false;
      t.is(session.state, 'attached');
      t.is(w.dialsAt.length, 1);
      t.deepEqual(w.restored, []);
      t.log(`${outageMs} ms blackhole: below the keepalive timeout, the link survives`);
      return;
    }
    await advanceUntil(w.clock, () => false, DETECTION_MS);
    firstLink.agent.destroy();
    firstLink.relay.destroy();
    await waitFor(() => session.state === 'detached', 'detached');

    await advanceUntil(w.clock, () => w.clock.now() - B >= outageMs, outageMs);
    const redials = w.dialsAt.slice(1);
    const gaps = redials.slice(1).map((v, i) => v - redials[i]!);
    t.true(redials.length > 0 && redials[0]! - B - DETECTION_MS <= 250, `first redial ${redials[0]! - B} ms`);
    t.true(
      gaps.every((g) => g <= 400),
      `gaps ${gaps.join(',')}`,
    );
    t.true(w.aborted > 0 || redials.length === 1, 'dials stuck in the outage were abandoned');

    // The path returns at R: the next dial, at most 400 ms later, resumes the same session.
    w.blackholed = false;
    const R = w.clock.now();
    await advanceUntil(w.clock, () => session.state === 'attached', 2_000);
    const resumedMs = w.clock.now() - R;
    t.log(
      `${outageMs} ms blackhole: ${redials.length} redials, resumed ${resumedMs} ms after the path returned`,
    );
    t.is(session.state, 'attached');
    t.true(resumedMs <= 400, `resumed after ${resumedMs} ms`);
    t.is(w.client.session, session, 'the same session');
    t.is(w.pairs.length, 2, 'the first dial after the path returned is the one that resumed');
    t.is(w.restored.length, 1);
    t.true(w.restored[0]!.resumed);
    t.is(w.restored[0]!.attempts, w.dialsAt.length - 1);
    t.true(Math.abs(w.restored[0]!.outageMs - (outageMs - DETECTION_MS + resumedMs)) <= 20);
  });
}

test('during an outage an unanswered session handshake is given up after 3 s, not 10', async (t) => {
  const w = world();
  t.teardown(() => w.close());
  w.client.start();
  await waitFor(() => w.client.session?.state === 'attached', 'first attach');
  const session = w.client.session as Session;
  // Detached; the relay then swallows the RESUME (a link that died right after its Noise handshake).
  const original = w.server.attachLink.bind(w.server);
  let swallowed = 0;
  w.server.attachLink = (link) => {
    if (swallowed++ === 0) return; // never answered
    original(link);
  };
  w.pairs[0]!.agent.destroy();
  await waitFor(() => session.state === 'detached', 'detached');
  const t0 = w.clock.now();
  await advanceUntil(w.clock, () => session.state === 'attached', 5_000);
  t.is(session.state, 'attached');
  const ms = w.clock.now() - t0;
  t.log(`resumed ${ms} ms after the detach, past one unanswered session handshake`);
  // First redial (<= 250 ms), the 3 s deadline, the next redial (<= 400 ms).
  t.true(ms <= 250 + 3_000 + 400 + 50, `${ms} ms`);
});
