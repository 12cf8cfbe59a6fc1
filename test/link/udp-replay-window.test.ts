// The UDP path's anti-replay window: each counter once, reordering inside the window, nothing behind it,
// forged counters never move it (check() is pure), big jumps clear the ring.
import test from 'ava';
import { REPLAY_WINDOW_SIZE, ReplayWindow, UDP_COUNTER_MAX } from '../../src/link/udp-replay-window.ts';

test('each counter is accepted once, in any order inside the window', (t) => {
  const w = new ReplayWindow();
  t.is(w.newest, -1);
  for (const c of [0, 1, 5, 3, 2, 4]) t.true(w.accept(c), `first ${c}`);
  for (const c of [0, 1, 2, 3, 4, 5]) t.false(w.accept(c), `again ${c}`);
  t.is(w.newest, 5);
  t.true(w.accept(100));
  t.true(w.accept(50), 'a late one inside the window');
  t.false(w.check(50));
});

test('a counter as far behind as the window is refused; one less is accepted', (t) => {
  const w = new ReplayWindow();
  const top = 10_000;
  t.true(w.accept(top));
  t.false(w.check(top - REPLAY_WINDOW_SIZE), 'exactly the window behind');
  t.true(w.accept(top - REPLAY_WINDOW_SIZE + 1), 'just inside');
  t.is(REPLAY_WINDOW_SIZE, 2016);
});

test('check() changes nothing: only accept() marks and moves', (t) => {
  const w = new ReplayWindow();
  t.true(w.check(7));
  t.true(w.check(7));
  t.is(w.newest, -1);
  t.true(w.accept(7));
  t.false(w.check(7));
});

test('a jump far ahead clears old bits, so reused ring words start empty', (t) => {
  const w = new ReplayWindow();
  for (let c = 0; c < 64; c++) t.true(w.accept(c));
  const far = 64 * 32 * 3 + 5; // same ring words as 0..63, three laps later
  t.true(w.accept(far));
  for (let c = far - 40; c < far; c++) t.true(w.accept(c), `after the jump ${c}`);
  t.false(w.accept(3), 'far behind the window now');
});

test('every counter of a long run is accepted exactly once, with reordering by up to 1000', (t) => {
  const w = new ReplayWindow();
  const order: number[] = [];
  for (let base = 0; base < 20_000; base += 1000) {
    const block = Array.from({ length: 1000 }, (_, i) => base + i).reverse();
    order.push(...block);
  }
  let accepted = 0;
  for (const c of order) if (w.accept(c)) accepted++;
  t.is(accepted, 20_000);
  let again = 0;
  for (const c of order.slice(-1500)) if (w.accept(c)) again++;
  t.is(again, 0);
});

test('counters that are not safe integers or negative are refused', (t) => {
  const w = new ReplayWindow();
  t.false(w.check(-1));
  t.false(w.check(UDP_COUNTER_MAX + 1));
  t.false(w.check(1.5));
  t.true(w.accept(UDP_COUNTER_MAX));
});
