// Captures the frames of docs/dashboard.md: relay, agent and both dashboards (80x24 and 170x36) under
// tmux, with TCP visitors (one pushing bulk data) and UDP players. Not a check: it runs only with
// XNAT_CAPTURE_FRAMES=<file> set, and writes the frames there.
import test from 'ava';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { TestEnv } from './lib/env.ts';
import { makeKeys } from './lib/profiles.ts';
import { Tmux, type TmuxPane } from './lib/tmux.ts';
import { killAll } from '../helpers/procs.ts';
import { ADMIN_TOKEN, askOnce, startAgent, startRelay, udpEcho, visitor } from '../integration/udp-stack.ts';

const OUT = process.env.XNAT_CAPTURE_FRAMES;
test.after.always(() => killAll());

(OUT ? test : test.skip)('capture the dashboard frames of docs/dashboard.md', async (t) => {
  t.timeout(180_000);
  const env = new TestEnv(t);
  const echo = net.createServer((s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  env.onDispose(() => echo.close());
  const tcpTarget = (echo.address() as net.AddressInfo).port;
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
      { name: 'minecraft', protocol: 'tcp', localPort: tcpTarget },
      { name: 'web', protocol: 'tcp', localPort: tcpTarget },
      { name: 'valheim', protocol: 'udp', localPort: udpTarget, idleTimeout: '60s' },
    ],
  });
  const tmux = new Tmux(env);
  const token = { XNAT_ADMIN_TOKEN: ADMIN_TOKEN };
  const panes: Record<string, TmuxPane> = {};
  for (const [name, who, columns, rows] of [
    ['relay 80x24', relay, 80, 24],
    ['agent 80x24', agent, 80, 24],
    ['relay 170x36', relay, 170, 36],
    ['agent 170x36', agent, 170, 36],
  ] as const) {
    panes[name] = await tmux.start(
      name.replace(/ /g, '-'),
      ['dashboard', '--admin', `127.0.0.1:${who.adminPort}`],
      { columns, rows },
      token,
    );
  }
  for (const p of Object.values(panes)) await p.until((x) => x.includes('valheim'), 'dashboard up');

  const socks: net.Socket[] = [];
  for (let i = 0; i < 2; i++) {
    const s = net.connect(agent.ports.minecraft!, '127.0.0.1');
    s.on('error', () => {});
    s.on('data', () => {});
    await new Promise<void>((r) => s.once('connect', () => r()));
    s.write('x'.repeat(20_000));
    socks.push(s);
  }
  const players = [await visitor(env), await visitor(env)];
  for (const p of players) await askOnce(p, agent.ports.valheim!, 'hello');
  const w = net.connect(agent.ports.web!, '127.0.0.1');
  w.on('error', () => {});
  await new Promise<void>((r) => w.once('connect', () => r()));
  w.end('bye');
  // Bulk data on one visitor and game ticks from the players while the screens fill their trends.
  const pump = setInterval(() => {
    socks[1]!.write('y'.repeat(50_000 + Math.floor(Math.random() * 200_000)));
    for (const p of players) p.send('tick', agent.ports.valheim!, '127.0.0.1');
  }, 300);
  const snapshots = (s: string) => Number(/(\d+) snapshots/.exec(s)?.[1] ?? 0);
  const frames: string[] = [];
  const grab = async (name: string, pane: TmuxPane) => frames.push(`=== ${name}\n${await pane.capture()}`);
  for (const [name, p] of Object.entries(panes)) {
    const at = snapshots(await p.capture());
    await p.until((x) => snapshots(x) >= at + 12, `${name}: a dozen snapshots of traffic`);
    await grab(name, p);
  }
  clearInterval(pump);
  const r80 = panes['relay 80x24']!;
  const a80 = panes['agent 80x24']!;
  await r80.keys('Tab');
  await r80.until((x) => x.includes('▸ Mappings'), 'focus mappings');
  await r80.keys('Tab');
  await r80.until((x) => x.includes('▸ Connections'), 'focus connections');
  await r80.keys('Down');
  await r80.until((x) => /> tcp\s+minecraft\s+\S+\s+\S+\s+\d+\.\dM/.test(x), 'the bulk visitor selected');
  await r80.keys('x');
  await r80.until((x) => x.includes('[y/n] Close'), 'confirmation');
  await grab('relay confirm', r80);
  await r80.keys('y');
  await r80.until((x) => x.includes('closed connection'), 'closed');
  await grab('relay closed', r80);
  for (let i = 0; i < 4; i++) {
    await a80.keys('Tab');
    await a80.until((x) => x.includes(['▸ Mappings', '▸ Connections', '▸ Reconnects', '▸ Log'][i]!), 'focus');
  }
  await a80.until((x) => x.includes('stream reset'), 'agent log shows the reset');
  await grab('agent logs', a80);
  for (const s of socks) s.destroy();
  writeFileSync(OUT!, `${frames.join('\n')}\n`);
  t.pass();
});
