// PendingDatagrams and DropLog on a fake clock: datagrams of a flow not yet open are held in order, expire
// after the TTL, are bounded per flow, in flows and in bytes, and every drop is counted; one log line per interval.
import test from 'ava';
import { FakeClock } from '../../src/util/clock.ts';
import { PendingDatagrams } from '../../src/forward/udp-pending.ts';
import { DropLog } from '../../src/forward/udp-drops.ts';
import type { Logger } from '../../src/observe/log.ts';

const limits = { ttlMs: 1000, perFlow: 2, flows: 2, bytes: 10 };

test('held datagrams come out in order when their flow opens', (t) => {
  const clock = new FakeClock();
  let dropped = 0;
  const p = new PendingDatagrams(clock, (n) => (dropped += n), limits);
  t.true(p.hold(7, Buffer.from('a')));
  t.true(p.hold(7, Buffer.from('b')));
  t.deepEqual(
    p.take(7).map((b) => b.toString()),
    ['a', 'b'],
  );
  t.deepEqual(p.take(7), []);
  t.is(p.size, 0);
  t.is(p.heldBytes, 0);
  t.is(clock.pending, 0, 'no timer while nothing waits');
  t.is(dropped, 0);
});

test('what is not claimed within the TTL is dropped and counted; the timer follows the oldest', (t) => {
  const clock = new FakeClock();
  let dropped = 0;
  const p = new PendingDatagrams(clock, (n) => (dropped += n), limits);
  p.hold(1, Buffer.from('x'));
  clock.advance(600);
  p.hold(2, Buffer.from('y'));
  p.hold(2, Buffer.from('z'));
  clock.advance(400);
  t.is(dropped, 1, 'flow 1 expired');
  t.is(p.size, 1);
  clock.advance(599);
  t.is(dropped, 1);
  clock.advance(1);
  t.is(dropped, 3);
  t.is(p.size, 0);
  t.is(clock.pending, 0);
});

test('caps: per flow, flows waiting and bytes held; each refusal counted', (t) => {
  const clock = new FakeClock();
  let dropped = 0;
  const p = new PendingDatagrams(clock, (n) => (dropped += n), limits);
  t.true(p.hold(1, Buffer.from('1')));
  t.true(p.hold(1, Buffer.from('2')));
  t.false(p.hold(1, Buffer.from('3')), 'per flow');
  t.true(p.hold(2, Buffer.from('4')));
  t.false(p.hold(3, Buffer.from('5')), 'flows waiting');
  t.false(p.hold(2, Buffer.from('0123456789')), 'bytes');
  t.is(dropped, 3);
  t.is(p.heldBytes, 3);
  p.clear();
  t.is(p.size, 0);
  t.is(clock.pending, 0);
  t.is(dropped, 3, 'clear does not count');
});

test('held datagrams are copies, so the byte cap counts what is really kept', (t) => {
  const clock = new FakeClock();
  const p = new PendingDatagrams(clock, () => {}, limits);
  const record = Buffer.from('..abc..');
  p.hold(1, record.subarray(2, 5));
  record.fill(0);
  const [held] = p.take(1);
  t.is(held!.toString(), 'abc');
  t.is(held!.buffer.byteLength >= 3, true);
});

test('DropLog writes one line per interval with the counts since the last', (t) => {
  const clock = new FakeClock();
  const lines: Array<Record<string, unknown>> = [];
  const log = { warn: (fields: Record<string, unknown>) => lines.push(fields) } as unknown as Logger;
  const d = new DropLog(clock, log, { side: 'relay' }, 1000);
  d.note('tableFull', 1, 'game');
  t.is(lines.length, 1, 'the first drop after a quiet time is told at once');
  for (let i = 0; i < 500; i++) d.note('perSource', 1, 'game');
  d.note('noAgent', 2, 'dns');
  t.is(lines.length, 1);
  clock.advance(1000);
  t.is(lines.length, 2);
  t.like(lines[1], { side: 'relay', perSource: 500, noAgent: 2, mappings: ['game', 'dns'] });
  t.false('tableFull' in lines[1]!);
  clock.advance(5000);
  t.is(lines.length, 2, 'nothing new, nothing written');
  d.note('noLink');
  t.is(lines.length, 3);
  d.note('noLink');
  d.close();
  clock.advance(5000);
  t.is(lines.length, 3);
  t.is(clock.pending, 0);
});
