// Pure parts of the dashboard: rates and trends between snapshots, cell formatting, layout, column widths,
// the log ring and RTT history feeding it, --interval.
import test from 'ava';
import { computeRates } from '../../src/tui/rates.ts';
import {
  fit,
  shortBytes,
  shortRate,
  shortDuration,
  shortRtt,
  shortCode,
  sparkline,
  shortCount,
} from '../../src/tui/format.ts';
import { allocate, layout } from '../../src/tui/layout.ts';
import { columnWidths } from '../../src/tui/table.tsx';
import { TrendBook, itemRates, itemKey } from '../../src/tui/trends.ts';
import { LogRing } from '../../src/observe/log-ring.ts';
import { LinkHistory, quantile } from '../../src/observe/link-history.ts';
import { parseInterval } from '../../src/cli/dashboard.ts';
import { isXnatError } from '../../src/errors.ts';
import { agentStatus, flow, mapping, relayStatus, session } from './fixtures.ts';

test('computeRates: bytes per second between two snapshots, keyed by session id', (t) => {
  const a = relayStatus();
  const b = relayStatus({
    sessions: [
      session({ bytesSent: 10 * 1024 + 3000, bytesReceived: 5 * 1024 }),
      session({ id: 'new', agent: 'new' }),
    ],
  });
  const r = computeRates(a, b, 1500);
  t.deepEqual(r.get('a1b2c3d4e5f60718'), { sentPerSec: 2000, receivedPerSec: 0 });
  t.deepEqual(r.get('new'), { sentPerSec: undefined, receivedPerSec: undefined });
  t.false(r.has('ffee000011112222'));
});

test('computeRates: no rate without an earlier sample, a zero interval or a counter that went down', (t) => {
  const a = relayStatus();
  t.is(computeRates(undefined, a, 1000).get('a1b2c3d4e5f60718')?.sentPerSec, undefined);
  t.is(computeRates(a, a, 0).get('a1b2c3d4e5f60718')?.sentPerSec, undefined);
  const reset = relayStatus({ sessions: [session({ bytesSent: 1 })] });
  const r = computeRates(a, reset, 1000).get('a1b2c3d4e5f60718');
  t.is(r?.sentPerSec, undefined);
  t.is(r?.receivedPerSec, 0);
});

test('computeRates: agent snapshots use the session of each relay', (t) => {
  const a = agentStatus();
  const b = agentStatus();
  const s = b.relays[0]!.session!;
  const next = {
    ...b,
    relays: [{ ...b.relays[0]!, session: { ...s, bytesReceived: s.bytesReceived + 500 } }],
  };
  t.is(computeRates(a, next, 250).get(s.id)?.receivedPerSec, 2000);
});

test('formatting stays within its widths', (t) => {
  t.is(shortBytes(0), '0B');
  t.is(shortBytes(1023), '1023B');
  t.is(shortBytes(1536), '1.5K');
  t.is(shortBytes(5 * 1024 ** 3), '5.0G');
  t.is(shortDuration(59_999), '59s');
  t.is(shortDuration(65_000), '1m05s');
  t.is(shortDuration(3_723_000), '1h02m');
  t.is(shortDuration(2 * 86_400_000 + 4 * 3_600_000), '2d04h');
  t.is(shortRate(1001.1 * 1024), '1.0M/s');
  t.is(shortRate(999 * 1024), '999.0K/s');
  t.is(shortRtt(undefined), '-');
  t.is(shortRtt(0.44), '0.4ms');
  t.is(shortRtt(250.4), '250ms');
  t.is(shortCode('XNAT_ERR_LINK_RESET'), 'LINK_RESET');
  t.is(fit('abcdef', 4), 'abc…');
  t.is(fit('ab', 4, 'right'), '  ab');
  t.is(fit('a\u001bb', 4), 'a?b ');
});

test('layout: panels as tall as their content, 10 rows at 80x24, two columns on wide terminals', (t) => {
  const want = { sessions: 1, mappings: 2, connections: 30, history: 3, logs: 50 };
  const small = layout(80, 24, want);
  t.false(small.wide);
  const sum = (h: Record<string, number>, ps: readonly string[]) => ps.reduce((n, p) => n + h[p]!, 0);
  t.is(sum(small.heights, small.left), 24 - 1 - 3 - 10);
  t.is(small.heights.sessions, 1, 'one session takes one row');
  t.is(small.heights.mappings, 2);
  const wide = layout(200, 50, want);
  t.true(wide.wide);
  t.deepEqual(wide.left, ['sessions', 'mappings', 'connections']);
  t.deepEqual(wide.right, ['history', 'logs']);
  t.is(wide.leftWidth + wide.rightWidth + 1, 200);
  t.is(sum(wide.heights, wide.left), 50 - 1 - 3 - 6);
  t.is(sum(wide.heights, wide.right), 50 - 1 - 3 - 4);
  // Nobody needs more: leftovers go to the last panel; a tiny terminal still gives one row each.
  t.deepEqual(allocate(['sessions', 'logs'], { ...want, logs: 0 }, 10), { sessions: 1, logs: 9 } as never);
  t.deepEqual(Object.values(layout(80, 5, want).heights), [1, 1, 1, 1, 1]);
});

test('columnWidths: content-sized columns, flex columns shrink first and share the spare', (t) => {
  const cols = [
    { title: 'a', width: 3, max: 10 },
    { title: 'name', width: 4, max: 30, flex: 1 },
  ];
  const rows = [[{ text: 'abcdefgh' }, { text: 'x'.repeat(20) }]];
  t.deepEqual(columnWidths(cols, 2 + 8 + 1 + 20, rows), [8, 20]);
  t.deepEqual(columnWidths(cols, 2 + 8 + 1 + 10, rows), [8, 10], 'flex shrinks, fixed keeps its content');
  t.deepEqual(columnWidths(cols, 2 + 8 + 1 + 30, rows), [8, 30], 'spare goes to flex');
  t.deepEqual(columnWidths(cols, 20, []), [3, 14]);
});

test('trends: throughput, sparkline and connections per minute per mapping across snapshots', (t) => {
  const book = new TrendBook();
  const at = (bytes: number, total: number) =>
    relayStatus({ mappings: [mapping({ traffic: { bytesUp: bytes, bytesDown: 0 }, totalStreams: total })] });
  t.is(book.push(at(0, 0), 0).get('tcp/minecraft')?.bytesPerSec, undefined);
  const r1 = book.push(at(2048, 5), 1000).get('tcp/minecraft')!;
  t.is(r1.bytesPerSec, 2048);
  t.is(r1.perMinute, 300);
  const r2 = book.push(at(2048, 10), 2000).get('tcp/minecraft')!;
  t.is(r2.bytesPerSec, 0);
  t.deepEqual(r2.spark, [2048, 0]);
  t.is(r2.perMinute, 300);
  // A counter going down (the port reopened) starts over.
  t.is(book.push(at(10, 1), 3000).get('tcp/minecraft')?.bytesPerSec, undefined);
  t.is(sparkline([0, 1, 2, 4, 8], 6), ' ▁▁▂▄█');
  t.is(shortCount(12_345), '12k');
});

test('itemRates: bytes per second of each stream and flow present in both snapshots', (t) => {
  const a = relayStatus({ sessions: [session({ flows: [flow()] })] });
  const s = a.sessions[0]!;
  const b = relayStatus({
    sessions: [
      session({
        streams: s.streams.map((x) => (x.id === 3 ? { ...x, bytesDown: x.bytesDown + 1000 } : x)),
        flows: [flow({ bytesUp: 1200 + 500 })],
      }),
    ],
  });
  const r = itemRates(a, b, 500);
  t.is(r.get(itemKey(s.id, 'tcp', 3)), 2000);
  t.is(r.get(itemKey(s.id, 'tcp', 1)), 0);
  t.is(r.get(itemKey(s.id, 'udp', 4)), 1000);
});

test('LogRing: bounded, numbered, filtered by level, long text cut', (t) => {
  const ring = new LogRing(3);
  for (let i = 1; i <= 5; i++)
    ring.write(
      `${JSON.stringify({ level: i === 5 ? 50 : 30, time: '2024-01-01T00:00:00.000Z', msg: `m${i}`, pid: 1, k: i })}\n`,
    );
  ring.write(`${JSON.stringify({ level: 40, msg: 'x'.repeat(1000) })}\n`);
  t.is(ring.lastSeq, 6);
  t.deepEqual(
    ring.since().map((l) => l.seq),
    [4, 5, 6],
  );
  t.is(ring.since(0, 10, 'warn').length, 2);
  t.is(ring.since(5).length, 1);
  const first = ring.since()[0]!;
  t.is(first.fields, 'k=4');
  t.is(first.time, Date.parse('2024-01-01T00:00:00.000Z'));
  t.true(ring.since(5)[0]!.msg.length <= 300);
});

test('LinkHistory: outage and link durations, RTT p50/p99 over the window, histograms', (t) => {
  let now = 1_000;
  const h = new LinkHistory(() => now);
  h.attached();
  now += 30_000;
  h.detached('XNAT_ERR_LINK_KEEPALIVE');
  now += 1_500;
  h.attached();
  t.deepEqual(
    h.reconnects.map((e) => [e.event, e.durationMs, e.code]),
    [
      ['attached', undefined, undefined],
      ['detached', 30_000, 'XNAT_ERR_LINK_KEEPALIVE'],
      ['attached', 1_500, undefined],
    ],
  );
  const resume = h.resumeHistogram();
  t.is(resume.count, 1);
  t.is(resume.sum, 1.5);
  for (let i = 1; i <= 100; i++) h.rtt(i);
  const r = h.rttSummary()!;
  t.is(r.lastMs, 100);
  t.is(r.p50Ms, 50);
  t.is(r.p99Ms, 99);
  t.is(h.rttHistogram().count, 100);
  now += 61_000;
  t.is(h.rttSummary(), undefined, 'samples leave the 60 s window');
  t.is(quantile([], 0.5), undefined);
});

test('parseInterval accepts durations within 100ms..60s', (t) => {
  t.is(parseInterval('1s'), 1000);
  t.is(parseInterval('250ms'), 250);
  t.is(parseInterval('2000'), 2000);
  for (const bad of ['50ms', '2m', 'soon', ''])
    t.true(
      isXnatError(
        (() => {
          try {
            parseInterval(bad);
          } catch (e) {
            return e;
          }
        })(),
        'XNAT_ERR_CLI_USAGE',
      ),
      bad,
    );
});
