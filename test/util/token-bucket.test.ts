// The byte token bucket on a fake clock: burst at once, debt for large chunks, the pause it asks for,
// refill capped at the burst, new limits, and unlimited buckets.
import test from 'ava';
import { TokenBucket, takeAll } from '../../src/util/token-bucket.ts';
import { BandwidthBuckets, defaultBurst } from '../../src/forward/bandwidth.ts';
import { FakeClock } from '../../src/util/clock.ts';

test('burst passes at once; beyond it the pause pays the debt at the rate', (t) => {
  const clock = new FakeClock();
  const b = new TokenBucket(1000, 500, clock); // 1000 B/s, 500 B burst
  t.is(b.take(500), 0);
  t.is(b.take(250), 250, '250 B of debt at 1000 B/s: 250 ms');
  clock.advance(250);
  t.is(b.take(0), 0, 'paid');
  clock.advance(10_000);
  t.is(b.take(500), 0, 'refill is capped at the burst');
  t.is(b.take(1), 1);
});

test('over a long run the average is the rate, whatever the chunk sizes', (t) => {
  const clock = new FakeClock();
  const b = new TokenBucket(64 * 1024, 64 * 1024, clock);
  let moved = 0;
  for (let i = 0; i < 1000; i++) {
    const n = 1000 + ((i * 7919) % 60_000);
    moved += n;
    clock.advance(b.take(n));
  }
  const rate = (moved - 64 * 1024) / (clock.now() / 1000);
  t.true(Math.abs(rate - 64 * 1024) < 64 * 1024 * 0.01, `${rate} B/s`);
});

test('setLimits keeps the balance under the new burst; Infinity passes everything', (t) => {
  const clock = new FakeClock();
  const b = new TokenBucket(1000, 1000, clock);
  b.setLimits(100, 100);
  t.is(b.take(200), 1000, '100 B of debt at 100 B/s');
  b.setLimits(Infinity, Infinity);
  t.is(b.take(1e9), 0);
  const c = new TokenBucket(1000, 1000, clock);
  t.is(takeAll([b, c], 1500), 500, 'the longest pause of all buckets');
});

test('bandwidth buckets: per direction, default burst, reload changes open buckets in place', (t) => {
  const clock = new FakeClock();
  const bw = new BandwidthBuckets({ downBytesPerSec: 1024 * 1024 }, clock);
  t.is(bw.up, undefined);
  const down = bw.down!;
  t.is(defaultBurst(1024 * 1024), 256 * 1024);
  t.is(defaultBurst(1000), 64 * 1024, 'at least one pipe chunk');
  bw.update({ downBytesPerSec: 1000, burstBytes: 16 * 1024 });
  t.is(bw.down, down, 'same object: open pipes see the new rate');
  t.true(down.take(17 * 1024) > 0);
  bw.update(undefined);
  t.is(bw.down, undefined);
  t.is(down.take(1e9), 0, 'an open pipe is no longer limited');
});
