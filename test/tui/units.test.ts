// Pure parts of the dashboard: rates between snapshots, cell formatting, panel heights, --interval.
import test from 'ava';
import { computeRates } from '../../src/tui/rates.ts';
import { fit, shortBytes, shortDuration, shortRtt, shortCode } from '../../src/tui/format.ts';
import { panelHeights } from '../../src/tui/app.tsx';
import { parseInterval } from '../../src/cli/dashboard.ts';
import { isXnatError } from '../../src/errors.ts';
import { agentStatus, relayStatus, session } from './fixtures.ts';

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
  t.is(shortRtt(undefined), '-');
  t.is(shortRtt(0.44), '0.4ms');
  t.is(shortRtt(250.4), '250ms');
  t.is(shortCode('XNAT_ERR_LINK_RESET'), 'LINK_RESET');
  t.is(fit('abcdef', 4), 'abc…');
  t.is(fit('ab', 4, 'right'), '  ab');
  t.is(fit('a\u001bb', 4), 'a?b ');
});

test('panelHeights: 12 table rows at 24 lines, more for taller terminals, at least one each', (t) => {
  t.deepEqual(panelHeights(24), { sessions: 4, mappings: 3, streams: 3, history: 2 });
  const tall = panelHeights(50);
  t.is(tall.sessions + tall.mappings + tall.streams + tall.history, 50 - 1 - 11);
  t.deepEqual(panelHeights(5), { sessions: 1, mappings: 1, streams: 1, history: 1 });
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
