// Fair shares of a session's stream cap (issue 15 point 3) and the idle sweep of visitor connections.
import test from 'ava';
import { admitStream } from '../../src/relay/stream-shares.ts';
import { IdleStreams, type IdleWatched } from '../../src/forward/idle-streams.ts';
import { FakeClock } from '../../src/util/clock.ts';
import type { ErrorCode } from '../../src/errors.ts';

/** Opens streams for `mapping` until refused; returns how many were admitted. */
function fill(used: Map<string, number>, names: string[], mapping: string, cap: number): number {
  let n = 0;
  while (admitStream(used, names, mapping, cap)) {
    used.set(mapping, (used.get(mapping) ?? 0) + 1);
    n++;
  }
  return n;
}

test('one mapping may use the whole cap', (t) => {
  t.is(fill(new Map(), ['web'], 'web', 100), 100);
});

test('a flood on one mapping leaves every other mapping its guaranteed share', (t) => {
  const used = new Map<string, number>();
  const names = ['web', 'ssh', 'game'];
  // Guaranteed: floor(120 / 6) = 20 each; the flood gets 120 - 20 - 20 = 80.
  t.is(fill(used, names, 'web', 120), 80);
  t.is(fill(used, names, 'ssh', 120), 20);
  t.is(fill(used, names, 'game', 120), 20);
  t.false(admitStream(used, names, 'web', 120));
});

test('shares others do not use are shared first come first served, the total cap always holds', (t) => {
  const used = new Map<string, number>([['ssh', 5]]);
  const names = ['web', 'ssh'];
  // Guaranteed 25 each; ssh uses 5, so 20 stay reserved for it: web gets 100 - 5 - 20 = 75.
  t.is(fill(used, names, 'web', 100), 75);
  t.is(fill(used, names, 'ssh', 100), 20);
  t.is(
    [...used.values()].reduce((a, b) => a + b, 0),
    100,
  );
});

class Watched implements IdleWatched {
  stats = { bytesIn: 0, bytesOut: 0 };
  code: ErrorCode | undefined;
  reset(code: ErrorCode): void {
    this.code = code;
  }
}

test('a silent stream is reset after its idle time; traffic keeps one alive; the sweep stops once it finds none', (t) => {
  const clock = new FakeClock();
  const idle = new IdleStreams(clock);
  const quiet = new Watched();
  const busy = new Watched();
  idle.add(quiet, 10_000);
  idle.add(busy, 10_000);
  for (let i = 0; i < 5; i++) {
    clock.advance(2_500);
    busy.stats.bytesIn += 1;
  }
  t.is(quiet.code, 'XNAT_ERR_FORWARD_IDLE_TIMEOUT');
  t.is(busy.code, undefined);
  t.is(idle.timedOut, 1);
  idle.delete(busy);
  t.is(clock.pending, 1, 'the sweep stays armed until its next run');
  idle.add(busy, 10_000);
  t.is(clock.pending, 1, 'a new stream reuses it');
  idle.delete(busy);
  clock.advance(2_500);
  t.is(clock.pending, 0, 'the sweep that finds none left stops');
});

test('a stream is reset between idleMs and 1.25 x idleMs after its last byte; 0 never times out', (t) => {
  const clock = new FakeClock();
  const idle = new IdleStreams(clock);
  const s = new Watched();
  const never = new Watched();
  idle.add(s, 4_000);
  idle.add(never, 0);
  clock.advance(3_999);
  t.is(s.code, undefined);
  clock.advance(1_001);
  t.is(s.code, 'XNAT_ERR_FORWARD_IDLE_TIMEOUT');
  t.is(never.code, undefined);
});
