// Admission to the admin endpoint on a fake clock: per-source and total caps drop the oldest
// unauthenticated connection (of the busiest source), the deadline, refusal when every slot is
// authenticated, and the aggregated refusal log line.
import test from 'ava';
import { createRootLogger } from '../../src/observe/log.ts';
import { AdminAdmission, DEFAULT_ADMISSION_LIMITS, type AdmissionTicket } from '../../src/admin/admission.ts';
import { FakeClock } from '../../src/util/clock.ts';

function setup(limits: Partial<typeof DEFAULT_ADMISSION_LIMITS> = {}) {
  const clock = new FakeClock();
  const lines: Array<Record<string, unknown>> = [];
  const logger = createRootLogger({
    level: 'info',
    destination: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
  });
  const admission = new AdminAdmission(clock, logger, { ...DEFAULT_ADMISSION_LIMITS, ...limits });
  const killed: string[] = [];
  const admit = (source: string, name: string): AdmissionTicket | undefined =>
    admission.admit(source, () => killed.push(name));
  return { clock, lines, admission, killed, admit };
}

test('over the per-source cap, that source loses its oldest unauthenticated connection', (t) => {
  const { admission, killed, admit } = setup({ maxUnauthenticatedPerSource: 3 });
  for (let i = 0; i < 5; i++) t.truthy(admit('127.0.0.1', `a${i}`));
  t.truthy(admit('10.0.0.2', 'b0'));
  t.deepEqual(killed, ['a0', 'a1']);
  t.like(admission.snapshot(), { connections: 4, unauthenticated: 4, accepted: 6, evicted: 2 });
  // An IPv4-mapped address is the same source.
  admit('::ffff:127.0.0.1', 'a5');
  t.deepEqual(killed, ['a0', 'a1', 'a2']);
});

test('over the total cap, the busiest source loses its oldest; authenticated ones are never dropped', (t) => {
  const { admission, killed, admit } = setup({ maxUnauthenticated: 4, maxUnauthenticatedPerSource: 8 });
  const op = admit('10.0.0.9', 'operator')!;
  admission.authenticated(op);
  admit('10.0.0.1', 'x0');
  admit('10.0.0.2', 'y0');
  admit('10.0.0.2', 'y1');
  admit('10.0.0.2', 'y2');
  admit('10.0.0.1', 'x1');
  t.deepEqual(killed, ['y0']);
  t.like(admission.snapshot(), { connections: 5, unauthenticated: 4, authenticated: 1, evicted: 1 });
});

test('when every slot is authenticated a newcomer is refused; with one unauthenticated, it is dropped', (t) => {
  const { admission, killed, admit } = setup({ maxConnections: 2 });
  admission.authenticated(admit('127.0.0.1', 'a')!);
  const b = admit('127.0.0.1', 'b')!;
  t.truthy(admit('127.0.0.1', 'c'));
  t.deepEqual(killed, ['b']);
  admission.release(b);
  admission.release(b);
  admission.authenticated(admit('127.0.0.1', 'd') ?? t.fail('d refused')!);
  t.deepEqual(killed, ['b', 'c']);
  t.is(admit('127.0.0.1', 'e'), undefined);
  t.like(admission.snapshot(), { connections: 2, refused: 1, evicted: 2 });
});

test('an unauthenticated connection is closed at the deadline; an authenticated one is not', (t) => {
  const { clock, admission, killed, admit } = setup();
  admit('127.0.0.1', 'idle');
  const op = admit('127.0.0.1', 'operator')!;
  clock.advance(DEFAULT_ADMISSION_LIMITS.authTimeoutMs - 1);
  admission.authenticated(op);
  t.deepEqual(killed, []);
  clock.advance(1);
  t.deepEqual(killed, ['idle']);
  clock.advance(60_000);
  t.deepEqual(killed, ['idle']);
  t.like(admission.snapshot(), { connections: 1, unauthenticated: 0, timedOut: 1 });
});

test('refusals: one log line at once, then at most one per interval with the counts', (t) => {
  const { clock, lines, admission, admit } = setup({ maxUnauthenticatedPerSource: 1 });
  for (let i = 0; i < 100; i++) admit('127.0.0.1', `c${i}`);
  const refusals = () => lines.filter((l) => l.msg === 'admin connections refused');
  t.is(refusals().length, 1);
  t.like(refusals()[0], { evicted: 1, timedOut: 0, level: 40 });
  clock.advance(DEFAULT_ADMISSION_LIMITS.logIntervalMs);
  t.is(refusals().length, 2);
  // 98 more evictions, and the deadline of the last connection (inside the same interval).
  t.like(refusals()[1], { evicted: 98, timedOut: 1 });
  clock.advance(DEFAULT_ADMISSION_LIMITS.logIntervalMs * 5);
  t.is(refusals().length, 2);
  admission.authFailed();
  t.is(refusals().length, 3);
  t.like(admission.snapshot(), { evicted: 99, timedOut: 1, authFailures: 1 });
});
