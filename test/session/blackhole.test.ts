// Blackholes of 1 s, 7 s and 30 s on a fake clock with memory links: the path dies for good (as through the
// fault proxy, or a rebinding NAT); the link's keepalive (modelled) says 'suspect', then 'dead'; dials started
// inside the outage hang until abandoned, fresh ones keep starting <= 300 ms apart from the suspect on, the
// first dial after the path returns resumes the session, and one 'restored' summary ends the outage.
import test from 'ava';
import type { Session } from '../../src/session/session.ts';
import { waitFor } from './harness.ts';
import { advanceUntil, DEAD_MS, SUSPECT_MS, world } from './outage-world.ts';

/** What the tests assert (generous on a fake clock: the dial spacing is at most 300 ms). */
const RESUME_BOUND_MS = 500;

for (const outageMs of [1_000, 7_000, 30_000]) {
  test(`a ${outageMs / 1000} s blackhole: probes from the suspect silence <= 300 ms apart, the first dial after the path returns resumes, one summary`, async (t) => {
    const w = world();
    t.teardown(() => w.close());
    w.client.start();
    await waitFor(() => w.client.session?.state === 'attached', 'first attach');
    const session = w.client.session as Session;
    const relaySession = w.server.sessions.get(session.idHex)!;
    const first = w.pairs[0]!;

    // The path dies at B, for good for the links that cross it; the relay keeps believing in its end.
    const B = w.clock.now();
    w.blackholed = true;
    w.blackholeLink(first);
    await advanceUntil(w.clock, () => w.clock.now() - B >= outageMs, outageMs + 10);
    const redials = w.dialsAt.slice(1);
    const gaps = redials.slice(1).map((v, i) => v - redials[i]!);
    if (outageMs > SUSPECT_MS) {
      t.true(
        redials.length > 0 && redials[0]! - B <= SUSPECT_MS + 10,
        `first probe at ${redials[0]! - B} ms`,
      );
      t.true(
        gaps.every((g) => g <= 300),
        `gaps ${gaps.join(',')}`,
      );
      t.true(w.aborted > 0 || redials.length === 1, 'dials stuck in the outage were abandoned');
    } else t.is(redials.length, 0, 'nothing dialed before the link is suspect');
    if (outageMs > DEAD_MS) t.is(session.state, 'detached', 'the dead verdict detached the session');

    // The path returns at R: the next dial, at most 300 ms later (or the first probe), resumes the session.
    w.blackholed = false;
    const R = w.clock.now();
    await advanceUntil(w.clock, () => w.pairs.length > 1 && session.state === 'attached', 2_000);
    const resumedMs = w.clock.now() - R;
    t.log(
      `${outageMs} ms blackhole: ${redials.length} dials inside it, resumed ${resumedMs} ms after the path returned`,
    );
    t.is(session.state, 'attached');
    t.true(resumedMs <= RESUME_BOUND_MS, `resumed after ${resumedMs} ms`);
    t.is(w.client.session, session, 'the same session');
    t.is(w.pairs.length, 2, 'the first dial after the path returned is the one that resumed');
    t.is(relaySession.link, w.pairs[1]!.relay, 'the relay moved the session to the new link');
    t.true(first.relay.closed, 'and retired the one it still believed in');
    t.is(w.restored.length, 1);
    t.true(w.restored[0]!.resumed);
    t.is(w.restored[0]!.attempts, w.dialsAt.length - 1);
    const since = Math.min(SUSPECT_MS, outageMs + resumedMs);
    t.true(
      Math.abs(w.restored[0]!.outageMs - (outageMs + resumedMs - since)) <= 20,
      'outage from the suspect',
    );
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
  // First redial (<= 250 ms), the 3 s deadline, the next redial (<= 300 ms).
  t.true(ms <= 250 + 3_000 + 400 + 50, `${ms} ms`);
});
