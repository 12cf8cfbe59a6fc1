// The handshake admission policy on a fake clock: per-source cap, total cap with oldest-first eviction,
// known agents protected, per-agent cap, both deadlines, counters, the aggregated log line, and /metrics.
import test from 'ava';
import type { XnatError } from '../../src/errors.ts';
import {
  ADMISSION_DETAILED_LINES_PER_INTERVAL,
  LinkAdmission,
  sourceOf,
  type AdmissionOptions,
  type AdmissionTicket,
} from '../../src/link/admission.ts';
import { XnatError as Err } from '../../src/errors.ts';
import { buildMetricsRegistry } from '../../src/admin/metrics.ts';
import type { RelayStatus } from '../../src/observe/status.ts';
import { FakeClock } from '../../src/util/clock.ts';
import { captureLogger } from './link-helpers.ts';

interface Admitted {
  ticket: AdmissionTicket;
  dropped: XnatError | undefined;
}

function setup(opts: Partial<AdmissionOptions> = {}) {
  const clock = new FakeClock();
  const { logger, lines } = captureLogger();
  const admission = new LinkAdmission({ clock, logger, ...opts });
  const admit = (address: string): Admitted | undefined => {
    const a: Partial<Admitted> = {};
    const ticket = admission.admit(address, (err) => (a.dropped = err));
    if (!ticket) return undefined;
    a.ticket = ticket;
    return a as Admitted;
  };
  const summaries = () =>
    lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'link handshakes dropped');
  return { clock, admission, admit, summaries };
}

test('per-source cap: the oldest stranger of that source makes room, other sources are untouched', (t) => {
  const { admission, admit } = setup({ maxPerSource: 3 });
  const a = [admit('10.0.0.1')!, admit('10.0.0.1')!, admit('10.0.0.1')!];
  const other = admit('10.0.0.2')!;
  const newest = admit('10.0.0.1')!;
  t.is(a[0]!.dropped?.code, 'XNAT_ERR_LINK_HANDSHAKE_BUSY');
  t.regex(a[0]!.dropped?.detail ?? '', /newer connection from 10\.0\.0\.1/);
  t.is(a[0]!.ticket.dropped, 'evictedSource');
  for (const x of [a[1]!, a[2]!, other, newest]) t.is(x.dropped, undefined);
  t.is(admission.pending, 4);
  t.is(admission.stats().evictedSource, 1);
});

test('total cap: strangers are dropped oldest first, across sources', (t) => {
  const { admission, admit } = setup({ maxPending: 4 });
  const first = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'].map((s) => admit(s)!);
  const e = admit('10.0.0.5')!;
  const f = admit('10.0.0.6')!;
  t.deepEqual(
    first.map((x) => x.ticket.dropped),
    ['evictedTotal', 'evictedTotal', undefined, undefined],
  );
  t.is(e.dropped, undefined);
  t.is(f.dropped, undefined);
  t.is(admission.pending, 4);
  t.is(admission.stats().evictedTotal, 2);
});

test('known agents are never dropped for strangers; a table full of them refuses the newcomer', (t) => {
  const { admission, admit } = setup({ maxPending: 3 });
  const [a, b, c] = [admit('10.0.0.1')!, admit('10.0.0.1')!, admit('10.0.0.2')!];
  admission.identify(a.ticket, 'aa');
  admission.identify(b.ticket, 'bb');
  // Strangers keep arriving: only strangers make room.
  const strangers = Array.from({ length: 20 }, (_, i) => admit(`10.1.0.${i}`)!);
  t.is(a.dropped, undefined);
  t.is(b.dropped, undefined);
  t.is(c.ticket.dropped, 'evictedTotal');
  t.true(strangers.slice(0, -1).every((s) => s.ticket.dropped === 'evictedTotal'));
  const last = strangers.at(-1)!;
  t.is(last.dropped, undefined);
  admission.identify(last.ticket, 'cc');
  t.deepEqual(
    { pending: admission.stats().pending, known: admission.stats().pendingKnown },
    { pending: 3, known: 3 },
  );
  t.is(admit('10.2.0.1'), undefined);
  t.is(admission.stats().refused, 1);
  // A slot frees: the next one is admitted again.
  admission.release(a.ticket);
  t.truthy(admit('10.2.0.1'));
  t.is(admission.stats().established, 1);
});

test('per-agent cap: a newer handshake of the same key drops its oldest one', (t) => {
  const { admission, admit } = setup({ maxPerAgent: 2 });
  const hs = [admit('10.0.0.1')!, admit('10.0.0.2')!, admit('10.0.0.3')!];
  for (const h of hs) admission.identify(h.ticket, 'aa');
  t.deepEqual(
    hs.map((h) => h.ticket.dropped),
    ['evictedAgent', undefined, undefined],
  );
  const other = admit('10.0.0.4')!;
  admission.identify(other.ticket, 'bb');
  t.is(other.dropped, undefined);
  t.is(admission.stats().evictedAgent, 1);
});

test('first-message deadline for strangers, then the rest of the whole deadline once identified', (t) => {
  const { clock, admission, admit } = setup({ firstMessageTimeoutMs: 3000, handshakeTimeoutMs: 10_000 });
  const silent = admit('10.0.0.1')!;
  const agent = admit('10.0.0.2')!;
  clock.advance(1000);
  admission.identify(agent.ticket, 'aa');
  clock.advance(1999);
  t.is(silent.dropped, undefined);
  clock.advance(1);
  t.is(silent.dropped?.code, 'XNAT_ERR_LINK_HANDSHAKE_TIMEOUT');
  t.is(silent.ticket.dropped, 'firstMessageTimeout');
  t.regex(silent.dropped?.detail ?? '', /no preface and message 1 after 3000 ms/);
  t.is(agent.dropped, undefined);
  clock.advance(6999); // t = 9999 since the agent's accept
  t.is(agent.dropped, undefined);
  clock.advance(1);
  t.is(agent.ticket.dropped, 'handshakeTimeout');
  t.deepEqual(
    [admission.stats().firstMessageTimeouts, admission.stats().handshakeTimeouts, admission.pending],
    [1, 1, 0],
  );
});

test('a whole deadline shorter than the first-message one wins', (t) => {
  const { clock, admit } = setup({ firstMessageTimeoutMs: 3000, handshakeTimeoutMs: 500 });
  const s = admit('10.0.0.1')!;
  clock.advance(500);
  t.is(s.ticket.dropped, 'handshakeTimeout');
});

test('release: each handshake is counted once; timers are gone once released', (t) => {
  const { clock, admission, admit } = setup({ maxPending: 1 });
  const ok = admit('10.0.0.1')!;
  admission.identify(ok.ticket, 'aa');
  t.false(admission.release(ok.ticket));
  t.false(admission.release(ok.ticket)); // twice: no effect
  const bad = admit('10.0.0.1')!;
  const err = new Err('XNAT_ERR_LINK_PREFACE');
  t.false(admission.release(bad.ticket, err), 'a stranger gets no line of its own');
  const evicted = admit('10.0.0.1')!;
  admit('10.0.0.2');
  t.is(evicted.ticket.dropped, 'evictedTotal');
  admission.release(evicted.ticket, evicted.dropped); // the acceptor's cleanup after the drop
  const s = admission.stats();
  t.deepEqual([s.established, s.failed, s.evictedTotal, s.pending], [1, 1, 1, 1]);
  admission.close();
  t.is(clock.pending, 1, 'only the remaining handshake’s deadline');
});

test('peers that knew the relay key get lines of their own, within a budget per interval', (t) => {
  const { clock, admission, admit, summaries } = setup();
  const own: boolean[] = [];
  for (let i = 0; i < ADMISSION_DETAILED_LINES_PER_INTERVAL + 5; i++) {
    const h = admit(`10.0.0.${i}`)!;
    own.push(admission.release(h.ticket, new Err('XNAT_ERR_AUTH_UNKNOWN_AGENT'), true));
  }
  t.is(own.filter(Boolean).length, ADMISSION_DETAILED_LINES_PER_INTERVAL);
  clock.advance(10_000);
  const [line] = summaries();
  t.is(line?.suppressedLines, 5);
  t.deepEqual(line?.codes, { XNAT_ERR_AUTH_UNKNOWN_AGENT: 15 });
  // A new interval, a new budget.
  t.true(admission.release(admit('10.0.0.1')!.ticket, new Err('XNAT_ERR_AUTH_PSK'), true));
});

test('drops are summed up in one line per interval, with counts by cause and the top sources', (t) => {
  const { clock, admit, summaries } = setup({ maxPending: 8, maxPerSource: 4 });
  // 25 s of a flood: 12 connections a second, most from one address, none ever sends a byte.
  for (let ms = 0; ms < 25_000; ms += 1000) {
    for (let i = 0; i < 12; i++) admit(i < 9 ? '203.0.113.9' : `198.51.100.${i}`);
    clock.advance(1000);
  }
  clock.advance(10_000); // the flood is over; the last interval is written
  const lines = summaries();
  t.is(lines.length, 3, JSON.stringify(lines));
  const firstLine = lines[0]!;
  t.is(firstLine.level, 40, 'evictions are pressure: warn');
  const counts = firstLine.counts as Record<string, number>;
  t.true(counts.evictedSource! > 0 && counts.evictedTotal! > 0, JSON.stringify(counts));
  const top = firstLine.top as Array<{ source: string; n: number }>;
  t.is(top[0]!.source, '203.0.113.9');
  t.true(top.length <= 5);
  t.is(firstLine.sources, 4);
  // Quiet afterwards: no more lines.
  clock.advance(60_000);
  t.is(summaries().length, 3);
});

test('only timeouts and garbage, no pressure: the summary is info', (t) => {
  const { clock, admission, admit, summaries } = setup();
  admit('10.0.0.1');
  admission.release(admit('10.0.0.2')!.ticket, new Err('XNAT_ERR_LINK_PREFACE'));
  clock.advance(10_000);
  const [line] = summaries();
  t.is(line?.level, 30);
  t.deepEqual(line?.counts, { firstMessageTimeout: 1, failed: 1 });
});

test('source addresses: IPv4 as is, IPv4-mapped as IPv4, IPv6 by /64', (t) => {
  t.is(sourceOf('127.0.0.2'), '127.0.0.2');
  t.is(sourceOf('::ffff:192.0.2.7'), '192.0.2.7');
  t.is(sourceOf('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  t.is(sourceOf('2001:DB8:1:2::7'), '2001:db8:1:2::/64');
  t.is(sourceOf('2001:db8::1'), '2001:db8:0:0::/64');
  t.is(sourceOf('::1'), '0:0:0:0::/64');
  t.is(sourceOf('fe80::1%eth0'), 'fe80:0:0:0::/64');
  t.is(sourceOf('2001:db8:1:2::ffff:192.0.2.7'), '2001:db8:1:2::/64');
  t.is(sourceOf(undefined), 'memory');
});

test('/metrics: handshake outcomes as one counter family, pending as a gauge', async (t) => {
  const status: RelayStatus = {
    role: 'relay',
    version: 'test',
    startedAt: 0,
    control: undefined,
    sessions: [],
    mappings: [],
    handshakes: {
      pending: 5,
      pendingKnown: 1,
      established: 3,
      refused: 0,
      evictedSource: 7,
      evictedTotal: 11,
      evictedAgent: 0,
      firstMessageTimeouts: 13,
      handshakeTimeouts: 2,
      failed: 4,
    },
  };
  const text = await buildMetricsRegistry(() => status).metrics();
  t.regex(text, /# TYPE xnat_link_handshakes_total counter/);
  t.regex(text, /xnat_link_handshakes_total\{outcome="evicted_total"\} 11/);
  t.regex(text, /xnat_link_handshakes_total\{outcome="timeout_first_message"\} 13/);
  t.regex(text, /xnat_link_handshakes_total\{outcome="established"\} 3/);
  t.regex(text, /xnat_link_handshakes_pending\{known="false"\} 4/);
  t.regex(text, /xnat_link_handshakes_pending\{known="true"\} 1/);
});
