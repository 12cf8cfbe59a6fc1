// Port ranges, tcp+udp and presets with the real relay and agent processes: a 3-port UDP range answered
// port by port by the matching LAN echo, one public port answered over tcp (curl) and udp, and
// `xnat init --preset valheim` writing profiles that `xnat check` accepts.
import test from 'ava';
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { TestEnv, WAIT_MS } from '../e2e/lib/env.ts';
import { makeKeys, type Keys } from '../e2e/lib/profiles.ts';
import { startHttpServer } from '../e2e/lib/targets.ts';
import { killAll, type XnatProcess } from '../helpers/procs.ts';
import { admin, askOnce, freeBothPort, relayStatus, startRelay, visitor } from './udp-stack.ts';

test.after.always(() => killAll());

const RANGE = 3;

/** Binds a UDP echo on 127.0.0.1:`port` answering `${tag}${datagram}`; false when the port is taken. */
async function udpEchoAt(env: TestEnv, port: number, tag: string): Promise<boolean> {
  const s = dgram.createSocket('udp4');
  s.on('message', (msg, rinfo) => s.send(Buffer.concat([Buffer.from(tag), msg]), rinfo.port, rinfo.address));
  const ok = await new Promise<boolean>((resolve) => {
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => resolve(true));
  });
  if (!ok) {
    s.close();
    return false;
  }
  env.onDispose(() => s.close());
  return true;
}

/** `n` consecutive UDP ports in 20000..60000 that were free on 127.0.0.1 a moment ago. */
async function freeUdpRun(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * (40000 - n));
    const socks: dgram.Socket[] = [];
    let ok = true;
    for (let k = 0; k < n && ok; k++) {
      const s = dgram.createSocket('udp4');
      socks.push(s);
      ok = await new Promise<boolean>((resolve) => {
        s.once('error', () => resolve(false));
        s.bind(base + k, '127.0.0.1', () => resolve(true));
      });
    }
    for (const s of socks) s.close();
    if (ok) return base;
  }
  throw new Error(`no run of ${n} free udp ports`);
}

/** Starts an agent whose profile's mappings are `mappings` (YAML entries as written), and waits for `ready`. */
async function startAgentWith(
  env: TestEnv,
  keys: Keys,
  relay: { controlPort: number },
  relayKeys: Keys,
  mappings: readonly Record<string, unknown>[],
  ready: readonly string[],
): Promise<{ proc: XnatProcess; ports: Record<string, number> }> {
  const path = env.write(
    'agent.yaml',
    stringify({
      agent: { name: 'game', privateKey: keys.privateKey },
      relays: [{ address: `127.0.0.1:${relay.controlPort}`, publicKey: relayKeys.publicKey }],
      mappings,
      reconnect: { initialDelay: '50ms', maxDelay: '500ms' },
      tuning: { keepaliveInterval: '200ms', keepaliveTimeout: '1s' },
    }),
  );
  const proc = env.start(['agent', '--profile', path], { name: 'agent' });
  const ports: Record<string, number> = {};
  for (const name of ready) {
    const line = await proc.waitForLog({ msg: 'mapping ready', mapping: name }, WAIT_MS);
    ports[name] = line.remotePort as number;
  }
  return { proc, ports };
}

test('a 3-port udp range: each public port is answered by the LAN echo on its matching port', async (t) => {
  t.timeout(90_000);
  const env = new TestEnv(t);
  // LAN side: three echoes on consecutive ports, each tagging answers with its own port.
  let lan = 0;
  for (let attempt = 0; attempt < 20 && lan === 0; attempt++) {
    const base = await freeUdpRun(RANGE);
    let bound = 0;
    while (bound < RANGE && (await udpEchoAt(env, base + bound, `lan${base + bound}:`))) bound++;
    if (bound === RANGE) lan = base;
  }
  t.not(lan, 0, 'three consecutive LAN echo ports');
  const remote = await freeUdpRun(RANGE);
  const relayKeys = makeKeys();
  const agentKeys = makeKeys();
  const relay = await startRelay(env, relayKeys, [{ name: 'game', keys: agentKeys }]);
  const names = [0, 1, 2].map((k) => `valheim.${remote + k}.udp`);
  const agent = await startAgentWith(
    env,
    agentKeys,
    relay,
    relayKeys,
    [
      {
        preset: 'valheim',
        remotePort: `${remote}-${remote + RANGE - 1}`,
        local: `127.0.0.1:${lan}-${lan + RANGE - 1}`,
      },
    ],
    names,
  );
  t.deepEqual(
    names.map((n) => agent.ports[n]),
    [remote, remote + 1, remote + 2],
  );

  // One try per port, a fresh visitor each: the first datagram of every flow is answered by its own echo.
  for (let k = 0; k < RANGE; k++) {
    const v = await visitor(env);
    t.is(await askOnce(v, remote + k, `hello-${k}`), `lan${lan + k}:hello-${k}`, `port ${remote + k}`);
  }
  // One visitor on all three ports: three flows, each to its own port.
  const v = await visitor(env);
  for (let k = 0; k < RANGE; k++)
    t.is(await askOnce(v, remote + k, `same-${k}`), `lan${lan + k}:same-${k}`, `port ${remote + k}`);

  // The relay's status lists one udp mapping per port with the preset's flow idle timeout in effect.
  const rs = await relayStatus(await admin(env, relay));
  for (const [k, name] of names.entries()) {
    const m = rs.mappings.find((x) => x.name === name);
    t.truthy(m, name);
    t.is(m?.protocol, 'udp');
    t.is(m?.remotePort, remote + k);
    t.is(m?.activeFlows, 2, name);
  }
});

test('protocol tcp+udp: one public port answered over tcp (curl) and udp by the LAN port of both', async (t) => {
  t.timeout(90_000);
  const env = new TestEnv(t);
  // LAN: an HTTP server and a UDP echo on one port number.
  let lan = 0;
  for (let attempt = 0; attempt < 20 && lan === 0; attempt++) {
    const port = await startHttpServer(env, 'hello over tcp');
    if (await udpEchoAt(env, port, 'udp:')) lan = port;
  }
  t.not(lan, 0, 'one LAN port for both protocols');
  const remote = await freeBothPort();
  const relayKeys = makeKeys();
  const agentKeys = makeKeys();
  const relay = await startRelay(env, relayKeys, [{ name: 'game', keys: agentKeys }]);
  const names = [`cs2.${remote}.tcp`, `cs2.${remote}.udp`];
  const agent = await startAgentWith(
    env,
    agentKeys,
    relay,
    relayKeys,
    [{ name: 'cs2', protocol: 'tcp+udp', remotePort: remote, local: `127.0.0.1:${lan}`, idleTimeout: '30s' }],
    names,
  );
  t.deepEqual(
    names.map((n) => agent.ports[n]),
    [remote, remote],
  );

  const { stdout } = await promisify(execFile)(
    'curl',
    ['-sS', '--max-time', '20', `http://127.0.0.1:${remote}/`],
    { timeout: WAIT_MS },
  );
  t.is(stdout, 'hello over tcp');
  const v = await visitor(env);
  t.is(await askOnce(v, remote, 'ping'), 'udp:ping');

  const rs = await relayStatus(await admin(env, relay));
  t.deepEqual(
    rs.mappings
      .filter((m) => m.remotePort === remote)
      .map((m) => [m.name, m.protocol])
      .sort(),
    [
      [`cs2.${remote}.tcp`, 'tcp'],
      [`cs2.${remote}.udp`, 'udp'],
    ],
  );
});

test('xnat init --preset valheim writes profiles that xnat check accepts', async (t) => {
  t.timeout(60_000);
  const env = new TestEnv(t);
  const dir = env.path('init');
  const init = await env.run(['init', dir, '--preset', 'valheim', '--relay-address', 'vps.example.com:7000']);
  t.is(init.exit?.code, 0, init.stderr);
  const agent = await env.run(['check', '--profile', `${dir}/agent.yaml`]);
  t.is(agent.exit?.code, 0, agent.stderr);
  t.regex(agent.otherLines.join('\n'), /^ok: .* 3 mapping\(s\)/);
  const relay = await env.run(['check', '--profile', `${dir}/relay.yaml`, '--json']);
  t.is(relay.exit?.code, 0, relay.stderr);
  const parsed = JSON.parse(relay.otherLines.join('\n')) as {
    agents: Array<{ allow: string[] }>;
  };
  t.deepEqual(parsed.agents[0]!.allow, ['2456-2458/udp']);
  // A misspelt preset is a usage error naming the right one.
  const bad = await env.run(['init', env.path('bad'), '--preset', 'valhiem']);
  t.not(bad.exit?.code, 0);
  t.true(bad.stderr.startsWith('error XNAT_ERR_CLI_USAGE: '), bad.stderr);
  t.regex(bad.stderr, /did you mean valheim\?/);
});
