// The pick of a mapping's next server: attached first, healthy first, weighted least-loaded, ties in order;
// and the agent's target health back-off on a fake clock.
import test from 'ava';
import { pickServer, type PickCandidate } from '../../src/relay/server-pick.ts';
import { TargetHealth, HEALTH_BACKOFF_INITIAL_MS } from '../../src/forward/target-health.ts';
import { FakeClock } from '../../src/util/clock.ts';

function server(
  name: string,
  o: Partial<{ attached: boolean; load: number; weight: number; until: number }> = {},
) {
  interface Fake extends PickCandidate {
    name: string;
    attached: boolean;
    load: number;
    weight: number;
    until: number;
  }
  const c: Fake = {
    name,
    attached: o.attached ?? true,
    load: o.load ?? 0,
    weight: o.weight ?? 1,
    until: o.until ?? 0,
    loadOf: () => c.load,
    weightOf: () => c.weight,
    healthyOf: (_m: string, now: number) => c.until <= now,
    get sessionLoad() {
      return c.load;
    },
  };
  return c;
}

test('weights 3:1 split a run of held visitors 3:1', (t) => {
  const a = server('a', { weight: 3 });
  const b = server('b');
  const picks: string[] = [];
  for (let i = 0; i < 8; i++) {
    const s = pickServer([a, b], 'web', 0)!;
    s.load++;
    picks.push(s.name);
  }
  t.is(picks.filter((p) => p === 'a').length, 6, picks.join(''));
});

test('a detached server gets nothing while another is attached, even unloaded; alone it still gets visitors', (t) => {
  const a = server('a', { attached: false });
  const b = server('b', { load: 50 });
  t.is(pickServer([a, b], 'web', 0)?.name, 'b');
  t.is(pickServer([a], 'web', 0)?.name, 'a', 'held for its resume when it is the only one');
  t.is(pickServer([], 'web', 0), undefined);
});

test('an unhealthy server is skipped until its back-off ends, and is the probe when all are unhealthy', (t) => {
  const a = server('a', { until: 1000 });
  const b = server('b', { load: 10 });
  t.is(pickServer([a, b], 'web', 500)?.name, 'b');
  t.is(pickServer([a, b], 'web', 1000)?.name, 'a', 'back-off over');
  b.until = 2000;
  t.is(pickServer([a, b], 'web', 500)?.name, 'a', 'all unhealthy: least loaded');
  const detached = server('c', { attached: false });
  t.is(pickServer([detached, b], 'web', 500)?.name, 'b', 'attached-unhealthy before detached');
});

test('target health: back-off doubles while failing, is not stretched inside it, resets on success', (t) => {
  const clock = new FakeClock();
  const h = new TargetHealth(clock);
  t.true(h.healthy);
  t.false(h.succeeded(), 'nothing to report while healthy');
  t.is(h.failed(), HEALTH_BACKOFF_INITIAL_MS);
  t.false(h.healthy);
  t.is(h.failed(), undefined, 'a second refusal inside the back-off reports nothing');
  clock.advance(HEALTH_BACKOFF_INITIAL_MS);
  t.true(h.healthy, 'probe time');
  t.is(h.failed(), 2 * HEALTH_BACKOFF_INITIAL_MS, 'doubled');
  t.is(h.retryAfterMs, 2 * HEALTH_BACKOFF_INITIAL_MS);
  t.true(h.succeeded());
  t.true(h.healthy);
  t.is(h.failed(), HEALTH_BACKOFF_INITIAL_MS, 'reset after a success');
});
