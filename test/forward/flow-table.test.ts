// FlowTable on a fake clock: idle expiry between idleMs and 1.25 x idleMs, touch on traffic, eviction of
// the least-recently-active flow when full (fresh before assured), and the per-group (visitor address) cap.
import test from 'ava';
import { FakeClock } from '../../src/util/clock.ts';
import { FlowTable, type FlowEndReason } from '../../src/forward/flow-table.ts';

function table(max: number, extra: { maxPerGroup?: number } = {}) {
  const clock = new FakeClock();
  const ended: Array<[string, FlowEndReason]> = [];
  const t = new FlowTable<number>(clock, {
    idleMs: 1000,
    max,
    ...(extra.maxPerGroup ? { maxPerGroup: extra.maxPerGroup, groupOf: (k) => k.split('|')[0]! } : {}),
    onExpire: (key, _v, reason) => ended.push([key, reason]),
  });
  return { clock, ended, t };
}

test('idle flows expire, busy ones stay, and the sweeper stops when the table is empty', (t) => {
  const { clock, ended, t: flows } = table(10);
  flows.add('a', 1);
  flows.add('b', 2);
  clock.advance(600);
  t.is(flows.touch('b'), 2); // traffic on b
  clock.advance(650);
  t.deepEqual(ended, [['a', 'idle']]);
  t.is(flows.size, 1);
  clock.advance(2000);
  t.deepEqual(ended, [
    ['a', 'idle'],
    ['b', 'idle'],
  ]);
  t.is(clock.pending, 0, 'the sweeper stops when the table is empty');
  flows.add('c', 3);
  t.is(flows.peek('c'), 3);
  t.is(flows.delete('c'), 3);
  t.is(clock.pending, 0);
  t.is(ended.length, 2, 'delete does not call onExpire');
});

test('a full table evicts the least-recently-active flow instead of refusing the new one', (t) => {
  const { clock, ended, t: flows } = table(3);
  flows.add('a', 1);
  clock.advance(10);
  flows.add('b', 2);
  clock.advance(10);
  flows.add('c', 3);
  clock.advance(10);
  flows.touch('a'); // a is now the most recent; b the least
  clock.advance(10);
  flows.add('d', 4);
  t.deepEqual(ended, [['b', 'table-full']]);
  t.is(flows.size, 3);
  t.deepEqual(
    flows.list().map((x) => x.key),
    ['d', 'a', 'c'],
  );
});

test('flows that talked both ways (assured) outlive a flood of one-shot flows', (t) => {
  const { clock, ended, t: flows } = table(4);
  flows.add('player', 0);
  flows.touch('player', 'service'); // the service answered
  flows.touch('player', 'visitor'); // and the visitor spoke again: assured
  t.true(flows.list()[0]!.assured);
  // 100 one-shot sources, each answered once (as an echo service would), never speaking again.
  for (let i = 0; i < 100; i++) {
    clock.advance(1);
    flows.add(`spoof${i}`, i);
    flows.touch(`spoof${i}`, 'service');
  }
  t.is(flows.size, 4);
  t.is(flows.peek('player'), 0, 'the assured flow is still there although it is the least recent');
  t.is(ended.length, 97);
  t.true(ended.every(([k, r]) => k.startsWith('spoof') && r === 'table-full'));
  // With only assured flows left, the least recent of them goes.
  const { t: small, ended: e2 } = table(1);
  small.add('x', 1);
  small.touch('x', 'service');
  small.touch('x', 'visitor');
  small.add('y', 2);
  t.deepEqual(e2, [['x', 'table-full']]);
});

test('one visitor address cannot hold more than its share: its own least-recent flow goes', (t) => {
  const { clock, ended, t: flows } = table(100, { maxPerGroup: 3 });
  flows.add('10.0.0.1|1', 1);
  flows.add('10.0.0.2|1', 2);
  for (let p = 2; p <= 4; p++) {
    clock.advance(1);
    flows.add(`10.0.0.1|${p}`, p);
  }
  t.is(flows.groupSize('10.0.0.1'), 3);
  t.is(flows.groupSize('10.0.0.2'), 1);
  t.deepEqual(ended, [['10.0.0.1|1', 'per-source']]);
  // A group's assured flow is kept over its fresh ones, even as its least recent.
  flows.touch('10.0.0.1|2', 'service');
  flows.touch('10.0.0.1|2', 'visitor');
  clock.advance(1);
  flows.touch('10.0.0.1|3');
  flows.touch('10.0.0.1|4');
  flows.add('10.0.0.1|6', 6);
  t.deepEqual(ended[1], ['10.0.0.1|3', 'per-source']);
  t.is(flows.peek('10.0.0.1|2'), 2);
  flows.delete('10.0.0.1|2');
  t.is(flows.groupSize('10.0.0.1'), 2);
});

test('re-adding a key replaces it; clear empties everything without callbacks', (t) => {
  const { clock, ended, t: flows } = table(2, { maxPerGroup: 2 });
  flows.add('h|1', 1);
  flows.add('h|1', 2);
  t.is(flows.size, 1);
  t.is(flows.groupSize('h'), 1);
  t.is(flows.peek('h|1'), 2);
  flows.clear();
  t.is(flows.size, 0);
  t.is(flows.groupSize('h'), 0);
  t.is(clock.pending, 0);
  t.deepEqual(ended, []);
});

test('a sweep only looks at what expires (the maps are in last-seen order)', (t) => {
  const { clock, ended, t: flows } = table(10_000);
  for (let i = 0; i < 5000; i++) flows.add(`k${i}`, i);
  clock.advance(500);
  for (let i = 0; i < 5000; i += 2) flows.touch(`k${i}`);
  clock.advance(750); // the odd ones have been idle 1250 ms, the even ones 750 ms
  t.is(ended.length, 2500);
  t.true(ended.every(([k]) => Number(k.slice(1)) % 2 === 1));
  t.is(flows.size, 2500);
});
