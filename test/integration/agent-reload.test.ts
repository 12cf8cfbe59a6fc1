// Live reload of a real agent process: a mapping added (SIGHUP) and removed (`xnat reload`), and the
// kept mapping pointed at another LAN service, while that mapping's visitor connection keeps flowing,
// its bytes checked by SHA-256; keys that need a restart are named, not applied.
import ava from 'ava';
import { TestEnv, WAIT_MS, freePort } from '../e2e/lib/env.ts';
import { countLogs, mappingReady, notableLogs, startPair } from '../e2e/lib/cluster.ts';
import { agentProfile, type AgentSpec } from '../e2e/lib/profiles.ts';
import {
  connectVisitor,
  startHashServer,
  startHttpServer,
  visitorWorks,
  writeSeeded,
} from '../e2e/lib/targets.ts';
import { waitFor } from '../helpers/procs.ts';
import net from 'node:net';

const test = ava.serial;

/** Bytes sent through the connection that lives through both reloads. */
const FLOW_BYTES = 16 * 1024 * 1024;
/** The writer holds after this many bytes until both reloads are done, so the connection spans them. */
const HOLD_AT_BYTES = 2 * 1024 * 1024;
const TOKEN = 'agent-reload-token-0123456789';

/** Whether a TCP connect to 127.0.0.1:port is refused (the port is closed). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

test('agent reload: a mapping added by SIGHUP and removed by xnat reload; the other connection flows on intact', async (t) => {
  t.timeout(240_000);
  const env = new TestEnv(t);
  const lan = await startHashServer(env);
  const body = 'added by reload\n';
  const httpPort = await startHttpServer(env, body);
  const adminPort = await freePort();
  const keep = { name: 'keep', localPort: lan.port };
  const pair = await startPair(env, {
    mappings: [keep],
    agent: { admin: { port: adminPort, token: TOKEN } },
  });
  const spec: AgentSpec = {
    name: 'home',
    keys: pair.agentKeys,
    relayPort: pair.relay.port,
    relayPublicKey: pair.relayKeys.publicKey,
    mappings: [keep],
    admin: { port: adminPort, token: TOKEN },
  };
  const agent = pair.agent.proc;

  // A visitor connection on `keep` that stays open through both reloads.
  const visitor = await connectVisitor(env, pair.ports.keep!);
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let written = 0;
  const sent = writeSeeded(visitor, 'keep-flow', FLOW_BYTES, async (n) => {
    written = n;
    if (n >= HOLD_AT_BYTES) await released;
  });
  await waitFor(() => written >= HOLD_AT_BYTES, WAIT_MS, 'the first bytes through keep');

  // 1. Add a mapping and send SIGHUP: it is registered; `keep` is not touched.
  env.write(
    'agent.yaml',
    agentProfile({ ...spec, mappings: [keep, { name: 'extra', localPort: httpPort }] }),
  );
  agent.kill('SIGHUP');
  const addedPort = await mappingReady(agent, 'extra');
  t.true(await visitorWorks(env, addedPort, body));
  t.truthy(agent.logs.find((l) => l.msg === 'profile reloaded' && l.change === 'mapping extra added'));

  // 2. Remove it again through the admin endpoint: the relay closes its public port.
  env.write('agent.yaml', agentProfile(spec));
  const reload = await env.run(['reload', '--profile', pair.agent.profilePath]);
  t.is(reload.exit?.code, 0, reload.stderr);
  t.true(reload.otherLines.includes('mapping extra removed'), reload.otherLines.join('\n'));
  await pair.relay.proc.waitForLog({ msg: 'mapping closed', mapping: 'extra' }, WAIT_MS);
  await waitFor(() => refused(addedPort), WAIT_MS, 'the removed mapping port to close');

  // 3. Point `keep` itself at another LAN service: its port and the held connection stay, new visitors
  // reach the new target.
  const moved = { ...spec, mappings: [{ ...keep, localPort: httpPort }] };
  env.write('agent.yaml', agentProfile(moved));
  const retarget = await env.run(['reload', '--profile', pair.agent.profilePath]);
  t.deepEqual(retarget.otherLines, [`mapping keep: local is now 127.0.0.1:${httpPort}`]);
  t.true(await visitorWorks(env, pair.ports.keep!, body));

  // 4. A key that cannot change live is named and left alone.
  env.write('agent.yaml', agentProfile({ ...moved, tuning: { maxStreams: 77 } }));
  const again = await env.run(['reload', '--profile', pair.agent.profilePath]);
  t.true(
    again.otherLines.includes('tuning.maxStreams changed: needs a restart'),
    again.otherLines.join('\n'),
  );
  await agent.waitForLog({ msg: 'tuning.maxStreams changed: needs a restart' }, WAIT_MS);

  // The held connection finishes: every byte arrived once, in order, on the one session it began on.
  release();
  const digest = await sent;
  const server = await lan.connection(1);
  const got = await server.received;
  t.is(got.bytes, FLOW_BYTES, notableLogs(agent, pair.relay.proc));
  t.is(got.sha256, digest);
  t.is(got.ending, 'end');
  t.is(countLogs(agent, { msg: 'session established' }), 1);
  t.is(countLogs(pair.relay.proc, { msg: 'visitor reset' }), 0);
  t.false(agent.logs.some((l) => l.msg === 'stream reset'));
});

test('agent reload: a mapping moved to another public port is unregistered, then registered there', async (t) => {
  t.timeout(180_000);
  const env = new TestEnv(t);
  const body = 'moved\n';
  const httpPort = await startHttpServer(env, body);
  const adminPort = await freePort();
  const [from, to] = [await freePort(), await freePort()];
  const pair = await startPair(env, {
    mappings: [{ name: 'web', remotePort: from, localPort: httpPort }],
    agent: { admin: { port: adminPort, token: TOKEN } },
  });
  t.is(pair.ports.web, from);
  env.write(
    'agent.yaml',
    agentProfile({
      name: 'home',
      keys: pair.agentKeys,
      relayPort: pair.relay.port,
      relayPublicKey: pair.relayKeys.publicKey,
      mappings: [{ name: 'web', remotePort: to, localPort: httpPort }],
      admin: { port: adminPort, token: TOKEN },
    }),
  );
  const reload = await env.run(['reload', '--profile', pair.agent.profilePath]);
  t.deepEqual(reload.otherLines, ['mapping web changed']);
  t.is(await mappingReady(pair.agent.proc, 'web', 2), to);
  await pair.agent.proc.waitForLog({ msg: 'mapping unregistered', mapping: 'web' }, WAIT_MS);
  await waitFor(() => refused(from), WAIT_MS, 'the old port to close');
  t.true(await visitorWorks(env, to, body));
  t.is(countLogs(pair.agent.proc, { msg: 'session established' }), 1);
});
