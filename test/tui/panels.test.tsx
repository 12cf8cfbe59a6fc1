// Every dashboard panel rendered from snapshot factories on sized terminals (80x24 and wide), and the
// actions on a selection: confirmation, the source call, a result line that clears, the log filter.
import test from 'ava';
import { App } from '../../src/tui/app.tsx';
import { DashboardController } from '../../src/tui/controller.ts';
import { FakeClock } from '../../src/util/clock.ts';
import type { Status } from '../../src/observe/status.ts';
import {
  FakeSource,
  T0,
  agentStatus,
  flow,
  logLine,
  mapping,
  relayStatus,
  renderSized,
  session,
  waitFor,
} from './fixtures.ts';

const DOWN = '\u001b[B';
const TAB = '\t';

function screen(first: Status, columns = 80, rows = 24, props: { noticeMs?: number; note?: never } = {}) {
  const clock = new FakeClock();
  const source = new FakeSource(first);
  source.logLines = [
    logLine(1, { msg: 'listening', fields: 'what=control port=7000' }),
    logLine(2, { level: 'debug', msg: 'visitor connected' }),
    logLine(3, { level: 'warn', msg: 'session detached', fields: 'code=XNAT_ERR_LINK_KEEPALIVE' }),
  ];
  const controller = new DashboardController({
    clock,
    intervalMs: 1000,
    connect: () => Promise.resolve(source),
  });
  const r = renderSized(
    <App controller={controller} wallNow={() => T0 + 3_723_000} noticeMs={props.noticeMs} />,
    columns,
    rows,
  );
  const until = (ok: (f: string) => boolean) => waitFor(r.frame, ok);
  const end = () => {
    r.instance.unmount();
    controller.close();
  };
  return { ...r, clock, source, controller, until, end };
}

const withFlows = () =>
  relayStatus({
    sessions: [session({ flows: [flow()], activeFlows: 1 }), ...relayStatus().sessions.slice(1)],
    mappings: [
      mapping(),
      mapping({
        name: 'valheim',
        protocol: 'udp',
        remotePort: 2456,
        publicAddress: '203.0.113.5:2456',
        activeStreams: 1,
        totalStreams: 4,
        activeFlows: 1,
        totalFlows: 4,
      }),
      mapping({ name: 'web', remotePort: 8080, publicAddress: '203.0.113.5:8080', disabled: true }),
    ],
  });

function fits(t: { true: (v: boolean, m?: string) => void }, f: string, columns: number, rows: number) {
  const lines = f.split('\n');
  t.true(lines.length <= rows - 1, `${lines.length} lines`);
  for (const line of lines) t.true(line.length <= columns, `${line.length}: ${line}`);
}

test('relay at 80x24: every panel, sized to its content, within the screen', async (t) => {
  const two = withFlows();
  const d = screen({ ...two, mappings: two.mappings.slice(0, 2) });
  const f = await d.until((x) => x.includes('session detached'));
  fits(t, f, 80, 24);
  t.regex(f, /xnat relay 0\.1\.0 · up 1h02m · control 0\.0\.0\.0:7000 · 2 sessions · 2 mappings/);
  // Sessions: state, RTT last / p50 / p99, resumes, connections (2 streams + 1 flow).
  t.regex(f, /> alpha\s+attached\s+12\.3ms\s+11\.5ms\s+48\.2ms\s+1\s+3\b/);
  t.regex(f, /beta\s+detached/);
  // Mappings: forwarding line, open / total, state.
  t.regex(f, /minecraft\s+tcp 203\.0\.113\.5:25565 -> alpha\s+1\s+9/);
  t.regex(f, /valheim\s+udp 203\.0\.113\.5:2456 -> alpha\s+1\s+4/);
  // Connections and flows of the selected session: visitor, age, bytes.
  t.regex(f, /Connections and flows of alpha \(3\)/);
  t.regex(f, /tcp\s+minecraft\s+203\.0\.113\.7:50123\s+1m05s\s+2\.0K\s+4\.0K/);
  t.regex(f, /udp\s+valheim\s+192\.0\.2\.50:2456\s+30s\s+1\.2K\s+3\.3K/);
  t.false(f.includes('192.0.2.99'), "another session's stream is not listed");
  // Reconnects newest first with durations and causes.
  t.regex(f, /Reconnects of alpha/);
  t.regex(f, /attached\s+2s/);
  // Logs, info and above by default, newest first.
  t.regex(f, /Log \(info and above\)/);
  t.true(f.indexOf('session detached') < f.indexOf('listening'));
  t.false(f.includes('visitor connected'));
  t.regex(f, /K kick · x close · d on\/off · r reload · l log/);
  d.end();
});

test('relay on a wide terminal: two columns, secondary figures and the throughput sparkline', async (t) => {
  const d = screen(withFlows(), 200, 40);
  await d.until((x) => x.includes('session detached'));
  // Two more snapshots a second apart: rates and a trend.
  const next = withFlows();
  d.clock.advance(1000);
  d.source.push({
    ...next,
    mappings: next.mappings.map((m) =>
      m.name === 'minecraft'
        ? { ...m, totalStreams: 10, traffic: { bytesUp: 2048 + 4096, bytesDown: 4096 } }
        : m,
    ),
  });
  const f = await d.until((x) => x.includes('4.0K/s'));
  fits(t, f, 200, 40);
  const line = (s: string) => f.split('\n').find((l) => l.includes(s)) ?? '';
  // Sessions and reconnects side by side.
  t.regex(line('Sessions'), /Sessions.*Reconnects of alpha/);
  t.regex(f, /sent\s+recv\s+replay/);
  t.regex(
    line('tcp 203.0.113.5:25565'),
    /minecraft\s+tcp 203\.0\.113\.5:25565 -> alpha\s+1\s+10\s+60\s+4\.0K\/s\s+ *█/,
  );
  t.regex(f, /kind\s+id\s+mapping/);
  t.regex(f, /web\s+tcp 203\.0\.113\.5:8080 -> alpha.*disabled/);
  d.end();
});

test('agent at 80x24 and 100 columns: relays with the last error while connecting, LAN targets, streams with visitors', async (t) => {
  const d = screen(agentStatus());
  let f = await d.until((x) => x.includes('session detached'));
  fits(t, f, 80, 24);
  t.regex(f, /Relays \(2\)/);
  t.regex(f, /198\.51\.100\.9:7000\s+connecting\s+-.*LINK_CONNECT/);
  d.stdout.resize(100, 30);
  f = await d.until((x) => x.includes(' res '));
  t.regex(f, /valheim\s+udp vps\.example\.net:2456 -> 192\.168\.1\.20:2456\s+1\s+2/);
  t.regex(f, /minecraft\s+tcp :25565 -> 127\.0\.0\.1:25565\s+0\s+3.*registering/);
  t.regex(f, /tcp\s+3\s+minecraft\s+203\.0\.113\.7:50123/);
  t.false(f.includes('K kick'));
  d.end();
});

test('agent: a relay without a session keeps its reconnect timeline', async (t) => {
  const base = agentStatus();
  const d = screen({
    ...base,
    relays: [
      {
        address: 'vps.example.net:7000',
        state: 'connecting',
        session: undefined,
        lastError: { code: 'XNAT_ERR_LINK_CONNECT', message: 'The link could not connect to the relay.' },
        reconnects: [
          { at: T0 + 1_000, event: 'attached' },
          { at: T0 + 90_000, event: 'detached', code: 'XNAT_ERR_LINK_RESET', durationMs: 89_000 },
        ],
      },
    ],
  });
  const f = await d.until((x) => x.includes('LINK_RESET'));
  t.regex(f, /vps\.example\.net:7000\s+connecting.*LINK_CONNECT/);
  t.regex(f, /detached\s+1m29s\s+LINK_RESET/);
  d.end();
});

test('x closes the selected connection after y; the result clears from the status line', async (t) => {
  const d = screen(withFlows(), 100, 30, { noticeMs: 300 });
  await d.until((x) => x.includes('alpha'));
  d.type(TAB);
  await d.until((x) => x.includes('▸ Mappings'));
  d.type(TAB);
  await d.until((x) => x.includes('▸ Connections'));
  d.type(DOWN); // stream 3 (streams sort by id)
  await d.until((x) => x.includes('> tcp    3'));
  d.type('x');
  let f = await d.until((x) => x.includes('Close connection 3'));
  t.regex(
    f,
    /\[y\/n\] Close connection 3 of minecraft from 203\.0\.113\.7:50123\? The visitor sees a reset\./,
  );
  d.type('y');
  f = await d.until((x) => x.includes('closed connection 3'));
  t.deepEqual(d.source.actions, ['close a1b2c3d4e5f60718 3']);
  // The key legend stayed; the result goes away by itself.
  t.regex(f, /q quit/);
  f = await d.until((x) => !x.includes('closed connection 3'));
  t.regex(f, /live · every 1 s/);
  // A UDP flow is not closed.
  d.type(DOWN);
  await d.until((x) => x.includes('> udp'));
  d.type('x');
  f = await d.until((x) => x.includes('idle timeout'));
  t.deepEqual(d.source.actions, ['close a1b2c3d4e5f60718 3']);
  d.end();
});

test('d disables and enables the selected mapping, r reloads; n cancels', async (t) => {
  const d = screen(withFlows(), 100, 30);
  await d.until((x) => x.includes('alpha'));
  d.type(TAB);
  await d.until((x) => x.includes('▸ Mappings'));
  d.type('d');
  await d.until((x) => x.includes('Disable mapping minecraft?'));
  d.type('n');
  await d.until((x) => x.includes('cancelled'));
  d.type('d');
  await d.until((x) => x.includes('Disable mapping minecraft?'));
  d.type('y');
  await d.until((x) => x.includes('disabled minecraft'));
  d.type(DOWN);
  await d.until((x) => x.includes('> valheim'));
  d.type(DOWN);
  await d.until((x) => x.includes('> web'));
  d.type('d');
  await d.until((x) => x.includes('Enable mapping web again?'));
  d.type('y');
  await d.until((x) => x.includes('enabled web'));
  d.type('r');
  await d.until((x) => x.includes('Reload the relay profile'));
  d.type('y');
  await d.until((x) => x.includes('profile reloaded: agent gamma added'));
  t.deepEqual(d.source.actions, ['disable minecraft true', 'disable web false', 'reload']);
  d.end();
});

test('l cycles the log filter: debug shows everything, error hides warnings', async (t) => {
  const d = screen(relayStatus(), 100, 30);
  await d.until((x) => x.includes('session detached'));
  d.type('l'); // info -> warn
  let f = await d.until((x) => x.includes('Log (warn and above)'));
  t.false(f.includes('listening'));
  t.true(f.includes('session detached'));
  d.type('l'); // error
  f = await d.until((x) => x.includes('Log (error and above)'));
  t.regex(f, /nothing at error or above/);
  d.type('l'); // debug
  f = await d.until((x) => x.includes('Log (debug and above)'));
  t.true(f.includes('visitor connected'));
  d.end();
});

test('uptime follows the snapshot time and stops while paused; the note follows the snapshot', async (t) => {
  const clock = new FakeClock();
  const source = new FakeSource(relayStatus({ at: T0 + 60_000 }));
  const controller = new DashboardController({ clock, connect: () => Promise.resolve(source) });
  const note = (s: Status | undefined) => `try: curl http://127.0.0.1:${s?.mappings[0]?.remotePort ?? 0}/`;
  const r = renderSized(<App controller={controller} wallNow={() => T0 + 999_000} note={note} />, 100, 30);
  let f = await waitFor(r.frame, (x) => x.includes('up 1m00s'));
  t.regex(f, /try: curl http:\/\/127\.0\.0\.1:25565\//);
  r.type('p');
  await waitFor(r.frame, (x) => x.includes('PAUSED'));
  source.push(relayStatus({ at: T0 + 120_000, mappings: [mapping({ remotePort: 40001 })] }));
  await waitFor(
    () => controller.getState().received,
    (n) => n >= 2,
  );
  f = r.frame();
  t.regex(f, /up 1m00s/, 'the frozen snapshot keeps its uptime');
  r.type('p');
  f = await waitFor(r.frame, (x) => x.includes('up 2m00s'));
  t.regex(f, /try: curl http:\/\/127\.0\.0\.1:40001\//, 'the note names the port after a re-registration');
  r.instance.unmount();
  controller.close();
});
