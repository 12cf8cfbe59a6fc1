// `xnat dashboard` on both ends, in real terminals (tmux), against a real relay and agent: one TCP
// connection and one UDP flow show on the right mapping on both screens, a key press closes the
// connection (the visitor sees a reset), /metrics has the names and types of docs/operations.md, and
// the status snapshot and /metrics agree.
import test from 'ava';
import net from 'node:net';
import { TestEnv } from './lib/env.ts';
import { makeKeys } from './lib/profiles.ts';
import { Tmux, haveTmux } from './lib/tmux.ts';
import { killAll, waitFor } from '../helpers/procs.ts';
import {
  ADMIN_TOKEN,
  admin,
  agentStatus,
  askOnce,
  metrics,
  relayStatus,
  sample,
  startAgent,
  startRelay,
  udpEcho,
  visitor,
} from '../integration/udp-stack.ts';
import type { MappingStatus } from '../../src/observe/status.ts';

test.after.always(() => killAll());

/** A TCP echo server on 127.0.0.1 (closed at teardown). */
async function tcpEcho(env: TestEnv): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    s.pipe(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  env.onDispose(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as net.AddressInfo).port;
}

/** The screen line of a mapping in the Mappings panel. */
const mappingLine = (screen: string, name: string) =>
  screen.split('\n').find((l) => new RegExp(`^\\s*>?\\s*${name}\\s+(tcp|udp) `).test(l)) ?? '';
/** Open and total connections of a mapping line (the two numbers after the forwarding line). */
function openTotal(line: string): [number, number] | undefined {
  const m = /-> \S+\s+(\d+)\s+(\d+)/.exec(line);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

test('dashboards on both ends show the connection and the flow on the right mapping; x closes it', async (t) => {
  t.timeout(180_000);
  if (!(await haveTmux())) return t.fail('tmux is missing (.ci/run installs it)');
  const env = new TestEnv(t);
  const tcpTarget = await tcpEcho(env);
  const otherTarget = await tcpEcho(env);
  const udpTarget = await udpEcho(env);
  const relayKeys = makeKeys();
  const agentKeys = makeKeys();
  const relay = await startRelay(env, relayKeys, [{ name: 'home', keys: agentKeys }]);
  const agent = await startAgent(env, {
    name: 'home',
    keys: agentKeys,
    relayPort: relay.controlPort,
    relayKeys,
    mappings: [
      { name: 'web', protocol: 'tcp', localPort: otherTarget },
      { name: 'game', protocol: 'tcp', localPort: tcpTarget },
      { name: 'voice', protocol: 'udp', localPort: udpTarget, idleTimeout: '60s' },
    ],
  });
  const tmux = new Tmux(env);
  const size = { columns: 100, rows: 30 };
  const token = { XNAT_ADMIN_TOKEN: ADMIN_TOKEN };
  const relayPane = await tmux.start(
    'relay',
    ['dashboard', '--admin', `127.0.0.1:${relay.adminPort}`, '--interval', '250ms'],
    size,
    token,
  );
  const agentPane = await tmux.start(
    'agent',
    ['dashboard', '--admin', `127.0.0.1:${agent.adminPort}`, '--interval', '250ms'],
    size,
    token,
  );
  await relayPane.until((s) => s.includes('xnat relay') && s.includes('voice'), 'relay dashboard');
  await agentPane.until((s) => s.includes('xnat agent home') && s.includes('voice'), 'agent dashboard');

  // One TCP visitor on game (web stays idle), one UDP flow on voice.
  const visitorSocket = net.connect(agent.ports.game!, '127.0.0.1');
  const ended = new Promise<string>((resolve) => {
    visitorSocket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    visitorSocket.on('close', () => resolve('close'));
  });
  await new Promise<void>((resolve) => visitorSocket.once('connect', () => resolve()));
  const echoed = new Promise<void>((resolve) => visitorSocket.once('data', () => resolve()));
  visitorSocket.write('hello through the tunnel\n');
  await echoed;
  const player = await visitor(env);
  t.is(await askOnce(player, agent.ports.voice!, 'ping'), 'echo:ping');
  const flowFrom = `127.0.0.1:${player.address().port}`;

  const bothShow = (s: string) =>
    openTotal(mappingLine(s, 'game'))?.[0] === 1 &&
    openTotal(mappingLine(s, 'web'))?.[0] === 0 &&
    openTotal(mappingLine(s, 'voice'))?.[0] === 1 &&
    s.includes(flowFrom);
  const relayScreen = await relayPane.until(bothShow, 'relay: game 1 open, web 0, voice 1 flow');
  const agentScreen = await agentPane.until(bothShow, 'agent: game 1 open, web 0, voice 1 flow');
  t.regex(
    mappingLine(relayScreen, 'game'),
    new RegExp(`tcp 127\\.0\\.0\\.1:${agent.ports.game} -> home\\s+1\\s+1`),
  );
  t.regex(
    mappingLine(agentScreen, 'game'),
    new RegExp(`tcp 127\\.0\\.0\\.1:${agent.ports.game} -> 127\\.0\\.0\\.1:${tcpTarget}\\s+1\\s+1`),
  );
  // The agent's own side on the relay (stats.query, every 5 s): game's LAN target answered its one dial.
  await relayPane.until(
    (s) => /\s0\s+\d+(\.\d)?ms\s+ready/.test(mappingLine(s, 'game')),
    'relay: game lan err 0 and its LAN connect time',
  );
  // The visitor's address on both ends: the relay saw it, the agent got it with the open.
  const visitorAddr = `127.0.0.1:${visitorSocket.localPort}`;
  t.true(relayScreen.includes(visitorAddr), 'relay lists the visitor');
  t.true(agentScreen.includes(visitorAddr), 'agent lists the visitor');
  t.regex(relayScreen, new RegExp(`udp\\s+\\d+\\s+voice\\s+${flowFrom.replace(/\./g, '\\.')}`));

  // Status and metrics agree (nothing moves between the two reads: no traffic now).
  const rs = await relayStatus(await admin(env, relay));
  const text = await metrics(relay);
  const byName = (ms: readonly MappingStatus[], n: string) => ms.find((m) => m.name === n)!;
  for (const name of ['web', 'game']) {
    const m = byName(rs.mappings, name);
    t.is(sample(text, 'xnat_mapping_open_connections', { mapping: name }), m.activeStreams, name);
    t.is(sample(text, 'xnat_mapping_connections_total', { mapping: name }), m.totalStreams, name);
    t.is(
      sample(text, 'xnat_mapping_bytes_total', { mapping: name, direction: 'up' }),
      m.traffic!.bytesUp,
      name,
    );
  }
  const voice = byName(rs.mappings, 'voice');
  t.is(sample(text, 'xnat_mapping_open_flows', { mapping: 'voice' }), voice.activeFlows!);
  t.is(
    sample(text, 'xnat_mapping_datagrams_total', { mapping: 'voice', direction: 'up' }),
    voice.traffic!.packetsUp!,
  );
  t.is(sample(text, 'xnat_reconnects_total', { agent: 'home' }), rs.sessions[0]!.resumes);
  t.is(byName(rs.mappings, 'game').activeStreams, 1);
  t.is(byName(rs.mappings, 'web').activeStreams, 0);
  const as = await agentStatus(await admin(env, agent));
  const agentStreams = as.relays[0]!.session!.streams;
  t.deepEqual(
    agentStreams.map((s) => [s.mapping, s.visitor]),
    [['game', visitorAddr]],
  );
  const agentText = await metrics(agent);
  t.is(sample(agentText, 'xnat_mapping_open_connections', { mapping: 'game' }), 1);

  // Names and types after Prometheus conventions; no session id label.
  for (const [name, type] of [
    ['xnat_session_sent_bytes_total', 'counter'],
    ['xnat_session_received_bytes_total', 'counter'],
    ['xnat_mapping_bytes_total', 'counter'],
    ['xnat_mapping_connections_total', 'counter'],
    ['xnat_mapping_flows_total', 'counter'],
    ['xnat_mapping_datagrams_total', 'counter'],
    ['xnat_udp_drops_total', 'counter'],
    ['xnat_reconnects_total', 'counter'],
    ['xnat_handshake_failures_total', 'counter'],
    ['xnat_link_handshakes_total', 'counter'],
    ['xnat_rtt_seconds', 'histogram'],
    ['xnat_resume_duration_seconds', 'histogram'],
    ['xnat_mapping_open_connections', 'gauge'],
    ['xnat_sessions', 'gauge'],
    ['process_cpu_seconds_total', 'counter'],
    ['process_resident_memory_bytes', 'gauge'],
    ['nodejs_eventloop_lag_seconds', 'gauge'],
  ] as const) {
    t.true(text.includes(`# TYPE ${name} ${type}`), `${name} ${type}`);
  }
  t.regex(text, /xnat_rtt_seconds_bucket\{agent="home",le="\+Inf"\} [1-9]/);
  t.false(/session="/.test(text), 'no per-session label');
  t.regex(agentText, /# TYPE xnat_rtt_seconds histogram/);

  // On the relay's dashboard: tab to Connections, the only tcp row is selected; x, then y.
  await relayPane.keys('Tab');
  await relayPane.until((s) => s.includes('▸ Mappings'), 'focus on mappings');
  await relayPane.keys('Tab');
  await relayPane.until((s) => s.includes('▸ Connections'), 'focus on connections');
  await relayPane.keys('x');
  await relayPane.until((s) => s.includes('The visitor sees a reset'), 'close confirmation');
  await relayPane.keys('y');
  t.is(await ended, 'ECONNRESET', 'the visitor sees a reset');
  const after = await relayPane.until(
    (s) => s.includes('closed connection') && openTotal(mappingLine(s, 'game'))?.[0] === 0,
    'relay: closed, game 0 open',
  );
  t.regex(mappingLine(after, 'game'), /\s0\s+1\s/);
  await agentPane.until((s) => openTotal(mappingLine(s, 'game'))?.[0] === 0, 'agent: game 0 open');
  await waitFor(
    async () =>
      (await relayStatus(await admin(env, relay))).mappings.find((m) => m.name === 'game')?.activeStreams ===
      0,
    10_000,
    'status: game closed',
  );
  await relayPane.keys('q');
  await agentPane.keys('q');
});

test('admin actions on real processes: mapping.disable refuses new visitors, admin.logs serves redacted lines', async (t) => {
  t.timeout(120_000);
  const env = new TestEnv(t);
  const target = await tcpEcho(env);
  const relayKeys = makeKeys();
  const agentKeys = makeKeys();
  const relay = await startRelay(env, relayKeys, [{ name: 'home', keys: agentKeys }]);
  const agent = await startAgent(env, {
    name: 'home',
    keys: agentKeys,
    relayPort: relay.controlPort,
    relayKeys,
    mappings: [{ name: 'game', protocol: 'tcp', localPort: target }],
  });
  const port = agent.ports.game!;
  const client = await admin(env, relay);
  const roundTrip = () =>
    new Promise<string>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      s.once('data', (d) => {
        resolve(d.toString());
        s.destroy();
      });
      s.once('connect', () => s.write('ping'));
      s.once('close', () => resolve('closed'));
    });
  t.is(await roundTrip(), 'ping');
  t.is(await client.setMappingDisabled('game', true), 1);
  t.true((await relayStatus(client)).mappings[0]!.disabled);
  t.regex(await roundTrip(), /ECONNRESET|closed/, 'a new visitor is refused');
  t.is(await client.setMappingDisabled('game', false), 1);
  t.is(await roundTrip(), 'ping');
  t.is(await client.setMappingDisabled('nothing', true), 0);
  // Closing a stream nobody holds says so.
  t.false(await client.closeStream('00', 1));

  const first = await client.logs(0, 500);
  t.true(first.lines.length > 3);
  t.true(first.lines.some((l) => l.msg === 'mapping disabled'));
  t.true(first.lines.every((l, i) => i === 0 || l.seq > first.lines[i - 1]!.seq));
  t.false(JSON.stringify(first.lines).includes(ADMIN_TOKEN), 'no secret in the log lines');
  const later = await client.logs(first.lastSeq);
  t.true(later.lines.every((l) => l.seq > first.lastSeq));
  const agentLogs = await (await admin(env, agent)).logs();
  t.true(agentLogs.lines.some((l) => l.msg === 'mapping ready'));
});
