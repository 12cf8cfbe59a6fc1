// Hedged attempts on a fake clock: extra attempts start while none succeeded; the first success wins.
import test from 'ava';
import { FakeClock } from '../../src/util/clock.ts';
import { hedge } from '../../src/util/hedge.ts';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

test('a stuck first attempt is overtaken by a later one, which wins; the stuck one is aborted and disposed', async (t) => {
  const clock = new FakeClock();
  const attempts: Array<{ d: ReturnType<typeof deferred<string>>; signal: AbortSignal }> = [];
  const disposed: string[] = [];
  const p = hedge(
    (signal) => {
      const d = deferred<string>();
      attempts.push({ d, signal });
      return d.promise;
    },
    { delayMs: 1000, maxAttempts: 3, clock, dispose: (v) => disposed.push(v) },
  );
  t.is(attempts.length, 1);
  clock.advance(999);
  t.is(attempts.length, 1);
  clock.advance(1);
  t.is(attempts.length, 2);
  attempts[1]!.d.resolve('second');
  t.is(await p, 'second');
  t.true(attempts[0]!.signal.aborted);
  attempts[0]!.d.resolve('first-late');
  await Promise.resolve();
  t.deepEqual(disposed, ['first-late']);
  clock.advance(5000);
  t.is(attempts.length, 2, 'no attempt starts after a success');
});

test('never more than maxAttempts; when all fail, the last error is reported', async (t) => {
  const clock = new FakeClock();
  const attempts: Array<ReturnType<typeof deferred<string>>> = [];
  const p = hedge(
    () => {
      const d = deferred<string>();
      attempts.push(d);
      return d.promise;
    },
    { delayMs: 100, maxAttempts: 2, clock },
  );
  clock.advance(1000);
  t.is(attempts.length, 2);
  attempts[0]!.reject(new Error('a'));
  attempts[1]!.reject(new Error('b'));
  await t.throwsAsync(p, { message: 'b' });
});

test('a fast failure of the only attempt rejects at once', async (t) => {
  const clock = new FakeClock();
  await t.throwsAsync(
    hedge(() => Promise.reject(new Error('refused')), { delayMs: 100, maxAttempts: 3, clock }),
    {
      message: 'refused',
    },
  );
});

test('a schedule function keeps fresh attempts coming; a timed-out attempt is abandoned with the given reason', async (t) => {
  const clock = new FakeClock();
  const attempts: Array<{ d: ReturnType<typeof deferred<string>>; signal: AbortSignal }> = [];
  let more = true;
  const p = hedge(
    (signal) => {
      const d = deferred<string>();
      attempts.push({ d, signal });
      return d.promise;
    },
    {
      delayMs: () => (more ? 300 : undefined),
      attemptTimeoutMs: 1000,
      abandonReason: (age) => new Error(`abandoned at ${age}`),
      clock,
    },
  );
  clock.advance(2999);
  t.is(attempts.length, 10, 'one every 300 ms, none blocked by the stuck ones');
  t.deepEqual(
    attempts.map((a) => a.signal.aborted),
    [true, true, true, true, true, true, true, false, false, false],
    'each abandoned 1 s after its start',
  );
  const failed = t.throwsAsync(p, { message: 'abandoned at 1000' });
  more = false; // the one due at 3000 still starts; then no more
  clock.advance(5000);
  t.is(attempts.length, 11);
  await failed;
});

test('maxInFlight abandons the oldest when a fresher attempt starts; the fresher one can win', async (t) => {
  const clock = new FakeClock();
  const attempts: Array<{ d: ReturnType<typeof deferred<string>>; signal: AbortSignal }> = [];
  const p = hedge(
    (signal) => {
      const d = deferred<string>();
      attempts.push({ d, signal });
      return d.promise;
    },
    { delayMs: () => 100, maxInFlight: 2, clock },
  );
  clock.advance(200);
  t.is(attempts.length, 3);
  t.true(attempts[0]!.signal.aborted);
  t.false(attempts[1]!.signal.aborted);
  attempts[2]!.d.resolve('third');
  t.is(await p, 'third');
  t.true(attempts[1]!.signal.aborted);
});

test('an outer abort stops everything and rejects with its reason', async (t) => {
  const clock = new FakeClock();
  const signals: AbortSignal[] = [];
  const outer = new AbortController();
  const p = hedge(
    (signal) => {
      signals.push(signal);
      return new Promise<string>(() => {});
    },
    { delayMs: 100, maxAttempts: 3, clock, signal: outer.signal },
  );
  clock.advance(100);
  outer.abort(new Error('closed'));
  await t.throwsAsync(p, { message: 'closed' });
  t.true(signals.every((s) => s.aborted));
  clock.advance(1000);
  t.is(signals.length, 2);
});
