// The redial loop's slow pace on a fake clock: auth refusals wait minutes (doubling, capped), network
// failures keep the fast redials, a session resets the pace, and relay.shutdown's hold is honoured.
import test from 'ava';
import { XnatError } from '../../src/errors.ts';
import type { LinkErrorInfo } from '../../src/session/session-client.ts';
import { AUTH_RETRY_MAX_FACTOR, DEFAULT_AUTH_RETRY_DELAY_MS } from '../../src/session/redial.ts';
import { FakeClock } from '../../src/util/clock.ts';
import { createHarness, settle, waitFor } from './harness.ts';

/** Advances the fake clock in `stepMs` steps (letting promises run) until `cond` holds or `maxMs` passed. */
async function advanceUntil(clock: FakeClock, cond: () => boolean, maxMs: number, stepMs = 1): Promise<void> {
  for (let i = 0; i < maxMs && !cond(); i += stepMs) {
    clock.advance(stepMs);
    await settle(1);
  }
}

/** Times (clock ms) of the next `n` dials. */
async function nextDials(
  clock: FakeClock,
  h: { dials: number },
  n: number,
  maxMs: number,
  stepMs = 1,
): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const before = h.dials;
    await advanceUntil(clock, () => h.dials > before, maxMs, stepMs);
    if (h.dials === before) break;
    times.push(clock.now());
  }
  return times;
}

const gaps = (start: number, times: number[]) => times.map((v, i) => v - (i === 0 ? start : times[i - 1]!));

test('auth refusals: 1 min, doubling to 5 min, one link-error each with its wait; a session resets the pace', async (t) => {
  const clock = new FakeClock();
  const h = createHarness({ client: { clock, backoff: { random: () => 0 } } });
  t.teardown(() => h.close());
  const infos: Array<{ code: string; info: LinkErrorInfo }> = [];
  h.client.on('link-error', (e: XnatError, info: LinkErrorInfo) => infos.push({ code: e.code, info }));
  h.dialError = new XnatError('XNAT_ERR_AUTH_UNKNOWN_AGENT');
  h.client.start();
  await settle(2);
  t.is(h.dials, 1);
  const start = clock.now();
  const times = await nextDials(clock, h, 5, 10 * 60_000, 100);
  const d = DEFAULT_AUTH_RETRY_DELAY_MS;
  const cap = d * AUTH_RETRY_MAX_FACTOR;
  // Jitter 20% below nominal: each gap within [0.8, 1] x 1, 2, 4, 5, 5 minutes (steps of 100 ms).
  const nominal = [d, 2 * d, 4 * d, cap, cap];
  const got = gaps(start, times);
  t.is(got.length, 5);
  got.forEach((g, i) => t.true(g >= 0.8 * nominal[i]! - 100 && g <= nominal[i]! + 100, `gap ${i}: ${g} ms`));
  t.is(infos.length, 6);
  t.true(infos.every((x) => x.code === 'XNAT_ERR_AUTH_UNKNOWN_AGENT' && x.info.slow));
  t.true(infos.every((x) => x.info.retryInMs !== undefined && x.info.retryInMs >= 0.8 * d));

  // The operator fixes the relay: the next (slow) dial opens a session, and the pace starts over.
  h.dialError = undefined;
  await advanceUntil(clock, () => h.client.session !== undefined, cap + 1000, 100);
  await waitFor(() => h.client.session?.state === 'attached', 'attached');
  h.dialError = new XnatError('XNAT_ERR_AUTH_PSK');
  h.client.session!.destroy(new XnatError('XNAT_ERR_SESSION_CLOSED'));
  // The session's end redials at the network pace; that dial is refused, and the wait is 1 min again.
  const after = await nextDials(clock, h, 2, 10 * 60_000, 100);
  t.is(after.length, 2);
  const refusal = gaps(after[0]!, [after[1]!])[0]!;
  t.true(refusal >= 0.8 * d - 100 && refusal <= d + 100, `after a session: ${refusal} ms`);
});

test('network failures keep the fast redials (no slow pace): first retry within 250 ms', async (t) => {
  const clock = new FakeClock();
  const h = createHarness({ client: { clock, backoff: { random: () => 0 } } });
  t.teardown(() => h.close());
  const infos: LinkErrorInfo[] = [];
  h.client.on('link-error', (_e: XnatError, info: LinkErrorInfo) => infos.push(info));
  h.dialError = new XnatError('XNAT_ERR_LINK_CONNECT');
  h.client.start();
  await settle(2);
  const times = await nextDials(clock, h, 3, 20_000);
  t.deepEqual(gaps(0, times), [200, 400, 800]);
  t.true(infos.every((i) => !i.slow));
});

test('authRetryDelayMs sets the slow pace; a non-auth refusal (suite) is not slowed', async (t) => {
  const clock = new FakeClock();
  const h = createHarness({
    client: { clock, backoff: { random: () => 0 }, authRetryDelayMs: 5_000 },
  });
  t.teardown(() => h.close());
  h.dialError = new XnatError('XNAT_ERR_AUTH_RELAY_KEY');
  h.client.start();
  await settle(2);
  // A refused suite is not an AUTH_ code: under `auto` the next dial proposes the other suite at once.
  h.dialError = new XnatError('XNAT_ERR_LINK_SUITE_REFUSED');
  const [first, second] = await nextDials(clock, h, 2, 20_000, 10);
  t.true(first! >= 4_000 && first! <= 5_010, `slow dial at ${first}`);
  t.true(second! - first! <= 210, `next dial ${second! - first!} ms later`);
});

test("holdOff (relay.shutdown's reconnectAfterMs): the redial after the session ends waits for it", async (t) => {
  const clock = new FakeClock();
  const h = createHarness({ client: { clock, backoff: { random: () => 0 } } });
  t.teardown(() => h.close());
  h.client.start();
  await waitFor(() => h.client.session?.state === 'attached', 'attached');
  const dialsBefore = h.dials;
  h.client.holdOff(3_000);
  h.client.holdOff(1_000); // a shorter hold does not shorten the first
  const at = clock.now();
  h.relaySessions[0]!.close();
  await waitFor(() => h.client.session === undefined, 'session closed');
  const [dialAt] = await nextDials(clock, h, 1, 10_000, 10);
  t.is(h.dials, dialsBefore + 1);
  t.true(dialAt! - at >= 3_000 && dialAt! - at <= 3_020, `redial after ${dialAt! - at} ms`);
  await waitFor(() => h.client.session?.state === 'attached', 'new session');
});
