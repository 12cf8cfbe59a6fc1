// FlowTable on a fake clock: idle expiry between idleMs and 1.25 x idleMs, touch on traffic, the cap.
import test from 'ava';
import { FakeClock } from '../../src/util/clock.ts';
import { FlowTable } from '../../src/forward/flow-table.ts';

test('idle flows expire, busy ones stay, and the table refuses entries beyond its cap', (t) => {
  const clock = new FakeClock();
  const expired: string[] = [];
  const table = new FlowTable<number>(clock, 1000, 2, (key) => expired.push(key));
  t.true(table.add('a', 1));
  t.true(table.add('b', 2));
  t.false(table.add('c', 3), 'cap of 2');
  clock.advance(600);
  t.is(table.get('b'), 2); // traffic on b
  clock.advance(650);
  t.deepEqual(expired, ['a']);
  t.is(table.size, 1);
  clock.advance(2000);
  t.deepEqual(expired, ['a', 'b']);
  t.is(clock.pending, 0, 'the sweeper stops when the table is empty');
  t.true(table.add('c', 3));
  t.is(table.delete('c'), 3);
  t.is(clock.pending, 0);
});
