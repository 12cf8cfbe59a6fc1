// The LAN side on dashboards: on a relay's, LAN connect errors and connect time per mapping from stats.query
// through the relay (admin.agentStats), asked every 5 s at most and of attached agents only; on an agent's, its own.
import test from 'ava';
import { App } from '../../src/tui/app.tsx';
import { DashboardController } from '../../src/tui/controller.ts';
import { AGENT_SIDE_INTERVAL_MS, lanSideOf } from '../../src/tui/agent-side.ts';
import { FakeClock } from '../../src/util/clock.ts';
import type { Status } from '../../src/observe/status.ts';
import { FakeSource, T0, agentStatus, mapping, relayStatus, renderSized, waitFor } from './fixtures.ts';

const SIDE = {
  alpha: {
    minecraft: {
      connects: 8,
      connectErrors: 2,
      connectMsSum: 12,
      connectMsAvg: 1.5,
      connectMsLast: 1,
      connectMsMax: 3,
    },
  },
};

function screen(first: Status, columns: number, rows: number) {
  const clock = new FakeClock();
  const source = new FakeSource(first);
  source.agentSide = SIDE;
  const controller = new DashboardController({
    clock,
    intervalMs: 1000,
    connect: () => Promise.resolve(source),
  });
  const r = renderSized(<App controller={controller} wallNow={() => T0 + 60_000} />, columns, rows);
  const until = (ok: (f: string) => boolean) => waitFor(r.frame, ok);
  const end = () => {
    r.instance.unmount();
    controller.close();
  };
  return { ...r, clock, source, controller, until, end };
}

test('relay at 80x24: the mappings panel shows the LAN connect errors the agent reported', async (t) => {
  // Both mappings ready: a failed one's state (its code) takes the room the forwarding line needs.
  const d = screen(
    relayStatus({ mappings: [mapping(), mapping({ name: 'web', remotePort: 8080 })] }),
    80,
    24,
  );
  const f = await d.until((x) => /minecraft.*\s2 ready/.test(x));
  t.regex(f, /open total\s+rate lan err state/);
  t.regex(f, /minecraft\s+tcp 203\.0\.113\.5:25565 -> alpha\s+1\s+9\s+-\s+2 ready/);
  for (const line of f.split('\n')) t.true(line.length <= 80, line);
  // beta's session is detached: it is not asked.
  t.deepEqual(d.source.agentAsks, ['alpha']);
  d.end();
});

test('relay on a wide terminal: LAN connect time too; asked once per interval, not per snapshot', async (t) => {
  const d = screen(relayStatus(), 170, 36);
  const f = await d.until((x) => x.includes('1.5ms'));
  t.regex(f, /lan err\s+lan ms/);
  t.regex(f, /minecraft .*\s2\s+1\.5ms\s+ready/);
  // The failed mapping "web" has no answer from alpha: '-'.
  t.regex(f, /web .*-\s+-\s+MAPPING_BIN/);
  for (let i = 0; i < 4; i++) {
    d.clock.advance(1000);
    d.source.push(relayStatus());
  }
  await new Promise((r) => setTimeout(r, 20));
  t.is(d.source.agentAsks.length, 1);
  d.clock.advance(AGENT_SIDE_INTERVAL_MS);
  d.source.push(relayStatus());
  await waitFor(
    () => d.source.agentAsks.length,
    (n) => n === 2,
  );
  t.is(d.source.agentAsks.length, 2);
  d.end();
});

test('an agent dashboard shows its own LAN side from its status and asks nothing', async (t) => {
  const base = agentStatus();
  const [tcp, udp] = base.mappings;
  const status = agentStatus({
    mappings: [{ ...tcp!, lan: { connects: 4, connectErrors: 3, connectMsAvg: 0.75 } }, udp!],
  });
  const d = screen(status, 170, 36);
  const f = await d.until((x) => x.includes('minecraft'));
  t.regex(f, /lan err\s+lan ms/);
  t.regex(f, /minecraft .*\s3\s+0\.8ms\s+registering/);
  // A udp mapping has no LAN dials: '-'.
  t.regex(f, /valheim .*-\s+-\s+ready/);
  t.deepEqual(d.source.agentAsks, []);
  d.end();
});

test('lanSideOf sums the agents serving a mapping', (t) => {
  const m = mapping({ agents: ['alpha', 'beta'] });
  const side = new Map([
    ['alpha', { minecraft: { connects: 2, connectErrors: 1, connectMsSum: 4 } }],
    ['beta', { minecraft: { connects: 2, connectErrors: 3, connectMsSum: 8 } }],
  ]);
  t.deepEqual(lanSideOf(m, side), { connectErrors: 4, connectMsAvg: 3 });
  t.is(lanSideOf(mapping({ agents: ['gamma'] }), side), undefined);
  t.deepEqual(lanSideOf(m, new Map([['alpha', { minecraft: { connects: 0, connectErrors: 5 } }]])), {
    connectErrors: 5,
    connectMsAvg: undefined,
  });
});
