// The agent's redial loop on a fake clock: fast first retry, exponential growth, cap, reset after a stable link.
import test from 'ava';
import { XnatError } from '../../src/errors.ts';
import { SessionClient } from '../../src/session/session-client.ts';
import { FakeClock } from '../../src/util/clock.ts';
import { createHarness, settle, waitFor } from './harness.ts';

/** Advances the fake clock 1 ms at a time (letting promises run) until `cond` holds or `maxMs` passed. */
async function advanceUntil(clock: FakeClock, cond: () => boolean, maxMs: number): Promise<void> {
  for (let i = 0; i < maxMs && !cond(); i++) {
    clock.advance(1);
    await settle(1);
  }
}

test('backoff: first redial within 250 ms, doubling, capped at 10 s; network failures reported and retried', async (t) => {
  const clock = new FakeClock();
  const h = createHarness({ client: { clock, backoff: { random: () => 0 } } });
  t.teardown(() => h.close());
  const errors: XnatError[] = [];
  h.client.on('link-error', (e: XnatError) => errors.push(e));
  h.dialError = new XnatError('XNAT_ERR_LINK_CONNECT');
  const times: number[] = [];
  const dial = () => times.push(clock.now());
  h.client.start();
  await settle(2);
  dial();
  for (let n = 1; n <= 9; n++) {
    const before = h.dials;
    await advanceUntil(clock, () => h.dials > before, 20_000);
    dial();
  }
  const deltas = times.slice(1).map((v, i) => v - times[i]!);
  t.true(deltas[0]! <= 250, `first retry after ${deltas[0]} ms`);
  t.deepEqual(deltas, [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]);
  t.true(errors.length >= 9);
  t.true(errors.every((e) => e.code === 'XNAT_ERR_LINK_CONNECT'));
});

test('redial: fast phase (<= 300 ms apart) for the first 15 s of a resumable outage, then backoff; reset after 10 s up', async (t) => {
  const clock = new FakeClock();
  const h = createHarness({
    client: { clock, backoff: { random: () => 0 }, random: () => 0.5, fastRedialWindowMs: 15_000 },
  });
  t.teardown(() => h.close());
  h.dialError = new XnatError('XNAT_ERR_LINK_CONNECT');
  h.client.start();
  await settle(2);
  for (let n = 0; n < 2; n++) {
    const before = h.dials;
    await advanceUntil(clock, () => h.dials > before, 20_000);
  }
  t.is(h.dials, 3); // attempts so far: delays 200, 400
  h.dialError = undefined;
  let before = h.dials;
  const t0 = clock.now();
  await advanceUntil(clock, () => h.dials > before, 20_000);
  t.is(clock.now() - t0, 800);
  await waitFor(() => h.client.session?.state === 'attached', 'attached');

  // Up for 1 s only, then cut: a resumable outage. Redials stay at most 300 ms apart (fast phase),
  // here exactly 225 ms with random 0.5, although the exponential backoff is at 1600 by now.
  clock.advance(1000);
  h.dialError = new XnatError('XNAT_ERR_LINK_CONNECT');
  h.last().cut();
  await waitFor(() => h.client.session?.state === 'detached', 'detached');
  const outageAt = clock.now();
  const gaps: Array<{ at: number; gap: number }> = [];
  for (let n = 0; n < 100; n++) {
    before = h.dials;
    const t1 = clock.now();
    await advanceUntil(clock, () => h.dials > before, 20_000);
    gaps.push({ at: t1 - outageAt, gap: clock.now() - t1 });
    if (t1 - outageAt > 20_000) break;
  }
  const fast = gaps.filter((g) => g.at < 15_000);
  const slow = gaps.filter((g) => g.at >= 15_000);
  t.true(fast.length >= 30, `fast redials ${fast.length}`);
  t.true(
    fast.every((g) => g.gap === 225),
    fast.map((g) => g.gap).join(','),
  );
  t.true(slow.length > 0 && slow.every((g) => g.gap > 400), slow.map((g) => g.gap).join(','));

  // The network is back: the session resumes; after 10 s up the backoff resets, and a new cut redials at once.
  h.dialError = undefined;
  before = h.dials;
  await advanceUntil(clock, () => h.dials > before, 20_000);
  await waitFor(() => h.client.session?.state === 'attached', 'resumed');
  clock.advance(10_000);
  h.last().cut();
  await waitFor(() => h.client.session?.state === 'detached', 'detached again');
  before = h.dials;
  const t2 = clock.now();
  await advanceUntil(clock, () => h.dials > before, 20_000);
  t.true(clock.now() - t2 <= 1, `${clock.now() - t2} ms`); // at once: the fake clock's next tick
  await waitFor(() => h.client.session?.state === 'attached', 'resumed again');
  t.is(h.agentSessions.length, 1);
});

test('default backoff with jitter: the first redial comes within 250 ms', async (t) => {
  for (let i = 0; i < 20; i++) {
    const clock = new FakeClock();
    let dials = 0;
    const client = new SessionClient({
      clock,
      dial: async () => {
        dials++;
        throw new XnatError('XNAT_ERR_LINK_CONNECT');
      },
    });
    client.start();
    await settle(2);
    t.is(dials, 1);
    await advanceUntil(clock, () => dials > 1, 1000);
    client.close();
    t.is(dials, 2);
    t.true(clock.now() <= 250, `first retry at ${clock.now()} ms`);
  }
});

test('close() during a pending dial stops the loop; the late link is destroyed', async (t) => {
  const h = createHarness();
  let release!: () => void;
  h.gate = new Promise<void>((r) => (release = r));
  h.client.start();
  await waitFor(() => h.dials === 1, 'dial');
  h.client.close();
  h.gate = undefined;
  release();
  await waitFor(() => h.pairs.length === 1, 'late link');
  await waitFor(() => h.pairs[0]!.agent.closed, 'late link destroyed');
  await settle(10);
  t.is(h.dials, 1);
  t.is(h.client.session, undefined);
  h.close();
});
