// The keepalive's verdicts on a fake clock: 'suspect' after one interval plus margin of silence, 'alive' on
// the next record, 'dead' at the configured timeout (not a ping tick later), and both stretched by a slow
// link's RTT so a loaded 4G uplink (RTT about 1 s) is neither suspect nor dead while it answers.
import test from 'ava';
import { Keepalive, keepaliveDeadMs, keepaliveSuspectMs } from '../../src/link/keepalive.ts';
import { KEEPALIVE_INTERVAL_MS, KEEPALIVE_TIMEOUT_MS } from '../../src/link/options.ts';
import { FakeClock } from '../../src/util/clock.ts';

function keepalive(opts: { intervalMs?: number; timeoutMs?: number } = {}) {
  const clock = new FakeClock();
  const events: string[] = [];
  const pings: bigint[] = [];
  const k = new Keepalive({
    clock,
    intervalMs: opts.intervalMs ?? KEEPALIVE_INTERVAL_MS,
    timeoutMs: opts.timeoutMs ?? KEEPALIVE_TIMEOUT_MS,
    sendPing: (id) => pings.push(id),
    onDead: (ms) => events.push(`dead ${ms} @${clock.now()}`),
    onRtt: () => {},
    onSuspect: (ms) => events.push(`suspect ${ms} @${clock.now()}`),
    onAlive: () => events.push(`alive @${clock.now()}`),
  });
  return { clock, events, pings, k };
}

/** Advances in 10 ms steps, so timers fire near their due time as a real loop would. */
function run(clock: FakeClock, ms: number): void {
  for (let i = 0; i < ms; i += 10) clock.advance(10);
}

test('defaults: suspect at 1.15 s of silence (with a PING at once), dead at 2 s, within the documented 3 s', (t) => {
  t.is(keepaliveSuspectMs(KEEPALIVE_INTERVAL_MS, KEEPALIVE_TIMEOUT_MS, undefined), 1150);
  t.is(keepaliveDeadMs(KEEPALIVE_TIMEOUT_MS, undefined), 2000);
  const { clock, events, k, pings } = keepalive();
  k.start();
  run(clock, 1140);
  t.is(pings.length, 2, 'at start and at 1 s');
  run(clock, 20);
  t.is(pings.length, 3, 'and one when the link turned suspect');
  run(clock, 2000);
  t.deepEqual(events, ['suspect 1150 @1150', 'dead 2000 @2000']);
});

test('a record on a suspect link says alive once, and the next silence is measured from it', (t) => {
  const { clock, events, k } = keepalive();
  k.start();
  run(clock, 1500);
  k.received();
  k.received();
  t.false(k.suspect);
  run(clock, 1000);
  t.deepEqual(events, ['suspect 1150 @1150', 'alive @1500']);
  run(clock, 2000);
  t.deepEqual(events, ['suspect 1150 @1150', 'alive @1500', 'suspect 1150 @2650', 'dead 2000 @3500']);
});

test('a live idle link (the peer pings every interval) is never suspect', (t) => {
  const { clock, events, k, pings } = keepalive();
  k.start();
  for (let i = 0; i < 60; i++) {
    run(clock, 1000);
    k.received();
  }
  t.deepEqual(events, []);
  t.true(pings.length >= 60);
});

test('echo: after what must be answered, silence brings a PING every 250 ms until a record arrives; none on an idle link', (t) => {
  const { clock, events, k, pings } = keepalive();
  k.start();
  run(clock, 100);
  k.received();
  k.expectReply();
  run(clock, 240);
  t.is(pings.length, 1, 'only the first PING before 250 ms of silence');
  run(clock, 20);
  t.is(pings.length, 2, 'an echo at 250 ms');
  run(clock, 500);
  t.is(pings.length, 4, 'and every 250 ms after');
  k.received();
  const before = pings.length;
  run(clock, 900);
  t.is(pings.length, before + 1, 'an answer ends the echoes: only the interval tick at 1 s');
  t.deepEqual(events, []);
  // Idle: records come, nothing awaits an answer: only the interval's PINGs.
  const idle = pings.length;
  for (let i = 0; i < 10; i++) {
    run(clock, 1000);
    k.received();
  }
  t.true(pings.length - idle <= 11, `${pings.length - idle} PINGs in 10 s idle`);
});

test('RTT-aware: at a 1 s RTT (loaded 4G) suspect after 3 s and dead after 4 s of silence', (t) => {
  t.is(keepaliveSuspectMs(1000, 2000, 1000), 3000);
  t.is(keepaliveDeadMs(2000, 1000), 4000);
  const { clock, events, k, pings } = keepalive();
  k.start();
  // Every PONG comes back 1 s late; the peer's own pings also take that long.
  for (let i = 0; i < 40; i++) {
    const id = pings[pings.length - 1]!;
    run(clock, 1000);
    k.received();
    k.pong(id);
  }
  t.is(k.rttMs, 1000);
  t.deepEqual(events, []);
  const at = clock.now();
  run(clock, 5000);
  t.deepEqual(events, [`suspect 3000 @${at + 3000}`, `dead 4000 @${at + 4000}`]);
});

test('no suspect when the margin reaches the timeout (then only the dead verdict)', (t) => {
  t.is(keepaliveSuspectMs(1000, 1100, undefined), undefined);
  const { clock, events, k } = keepalive({ intervalMs: 1000, timeoutMs: 1100 });
  k.start();
  run(clock, 2000);
  t.deepEqual(events, ['dead 1100 @1100']);
});
