// The UDP path with the real relay and agent processes, through a TCP fault proxy and a UDP proxy on one
// port number: datagrams go over UDP once probed; a replayed datagram and one with a bad tag are dropped
// and counted; a stranger's datagrams are counted and never answered; the relay follows the agent to a
// new source port; when UDP is dropped datagrams take the TCP lane, and they go back to UDP once it
// works again. With tuning.udpPath off, the TCP lane only.
import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { TestEnv, WAIT_MS } from '../e2e/lib/env.ts';
import { makeKeys } from '../e2e/lib/profiles.ts';
import { killAll, waitFor } from '../helpers/procs.ts';
import { startPathProxies } from '../helpers/udp-proxy.ts';
import type { AdminClient } from '../../src/admin/admin-client.ts';
import type { DatagramPathStatus } from '../../src/observe/status.ts';
import {
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
} from './udp-stack.ts';

test.after.always(() => killAll());

async function relayPath(client: AdminClient): Promise<DatagramPathStatus | undefined> {
  return (await relayStatus(client)).sessions[0]?.datagramPath;
}

async function agentPath(client: AdminClient): Promise<DatagramPathStatus | undefined> {
  return (await agentStatus(client)).relays[0]?.session?.datagramPath;
}

async function setup(t: ExecutionContext, agentTuning: Record<string, unknown> = {}) {
  const env = new TestEnv(t);
  const echo = await udpEcho(env);
  const relayKeys = makeKeys();
  const agentKeys = makeKeys();
  const relay = await startRelay(env, relayKeys, [{ name: 'game', keys: agentKeys }]);
  const proxies = await startPathProxies(relay.controlPort);
  env.onDispose(() => proxies.udp.close());
  env.onDispose(() => proxies.tcp.close());
  const agent = await startAgent(env, {
    name: 'game',
    keys: agentKeys,
    relayPort: proxies.tcp.port,
    relayKeys,
    mappings: [{ name: 'voice', localPort: echo, idleTimeout: '60s' }],
    tuning: { udpPathKeepalive: '1s', ...agentTuning },
  });
  const relayAdmin = await admin(env, relay);
  const agentAdmin = await admin(env, agent);
  const port = agent.ports.voice!;
  const v = await visitor(env);
  return { env, relay, agent, proxies, relayAdmin, agentAdmin, port, v };
}

/** Asks until an answer comes (each try a fresh text), so a datagram lost in a switch does not fail the test. */
async function roundTrip(v: Parameters<typeof askOnce>[0], port: number, tag: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    if (await askOnce(v, port, `${tag}-${i}`, 1_500)) return;
  }
  throw new Error(`no answer through the mapping (${tag})`);
}

test('datagrams take the UDP path; replayed and bad-tag datagrams are dropped and counted; the relay roams', async (t) => {
  t.timeout(120_000);
  const { env, relay, proxies, relayAdmin, agentAdmin, port, v } = await setup(t);

  await waitFor(async () => (await agentPath(agentAdmin))?.path === 'udp', WAIT_MS, 'agent path udp');
  await waitFor(async () => (await relayPath(relayAdmin))?.path === 'udp', WAIT_MS, 'relay path udp');
  // The flow's first datagram rides the TCP lane behind its flow.open; once the agent answered, UDP.
  t.is(await askOnce(v, port, 'first'), 'echo:first');
  t.is((await relayPath(relayAdmin))!.sent, 0, 'the first datagram of a flow took the lane');
  t.is(await askOnce(v, port, 'over-udp'), 'echo:over-udp');
  const up = (await relayPath(relayAdmin))!;
  t.true(up.received >= 2, 'the echo replies came to the relay over UDP');
  t.true(up.sent >= 1, 'the later visitor datagram went to the agent over UDP');
  t.is(up.peer, `127.0.0.1:${proxies.udp.upstreamPort}`);

  // Replay every datagram the agent sent so far: none is delivered twice, each is counted.
  const seen = proxies.udp.captured.length;
  const before = (await relayStatus(relayAdmin)).sessions[0]!.flows![0]!.packetsDown;
  for (const d of proxies.udp.captured.slice(0, seen)) proxies.udp.inject(d);
  await waitFor(async () => (await relayPath(relayAdmin))!.replayed >= seen, WAIT_MS, 'replays counted');
  t.is(
    (await relayStatus(relayAdmin)).sessions[0]!.flows![0]!.packetsDown,
    before,
    'no replay reached the visitor',
  );

  // A flipped tag bit on the next datagram up: dropped and counted, the path stays up.
  proxies.udp.corruptNextUp();
  await roundTrip(v, port, 'after-bad-tag');
  await waitFor(async () => (await relayPath(relayAdmin))!.badTag >= 1, WAIT_MS, 'bad tag counted');
  t.is((await relayPath(relayAdmin))!.path, 'udp');

  // The agent's NAT gives it a new public port: the relay follows its next authenticated datagram.
  await proxies.udp.rebind();
  await roundTrip(v, port, 'roamed');
  await waitFor(async () => (await relayPath(relayAdmin))!.roams >= 1, WAIT_MS, 'relay roamed');
  t.is((await relayPath(relayAdmin))!.peer, `127.0.0.1:${proxies.udp.upstreamPort}`);
  t.is(await askOnce(v, port, 'after-roam'), 'echo:after-roam');

  // A stranger's datagrams to the relay's UDP port: counted, never answered.
  const stranger = await visitor(env);
  let answers = 0;
  stranger.on('message', () => answers++);
  for (let i = 0; i < 20; i++) stranger.send(randomBytes(i < 5 ? 8 : 64), relay.controlPort, '127.0.0.1');
  await waitFor(
    async () => {
      const u = (await relayStatus(relayAdmin)).udpPath;
      return (u?.unknownIndex ?? 0) >= 15 && (u?.malformed ?? 0) >= 5;
    },
    WAIT_MS,
    'stranger datagrams counted',
  );
  t.is(answers, 0, 'no answer to a stranger');

  const text = await metrics(relay);
  t.true(sample(text, 'xnat_udp_path_drops_total', { cause: 'replayed' }) >= seen);
  t.true(sample(text, 'xnat_udp_path_drops_total', { cause: 'bad_tag' }) >= 1);
  t.true(sample(text, 'xnat_udp_path_drops_total', { cause: 'unknown_index' }) >= 15);
});

test('when UDP to the relay is dropped datagrams take the tcp lane, and the UDP path again once it returns', async (t) => {
  t.timeout(120_000);
  const { proxies, relayAdmin, agentAdmin, port, v } = await setup(t);
  await waitFor(async () => (await agentPath(agentAdmin))?.path === 'udp', WAIT_MS, 'agent path udp');
  await roundTrip(v, port, 'warm');

  proxies.udp.drop('both');
  // Traffic keeps flowing: the first answers may be lost until the probes give up on UDP.
  await waitFor(
    async () => {
      await askOnce(v, port, 'during-drop', 300);
      return (await agentPath(agentAdmin))?.path === 'tcp-lane';
    },
    WAIT_MS,
    'agent falls back to the tcp lane',
  );
  await waitFor(
    async () => {
      await askOnce(v, port, 'during-drop', 300);
      return (await relayPath(relayAdmin))?.path === 'tcp-lane';
    },
    WAIT_MS,
    'relay falls back to the tcp lane',
  );
  t.is(await askOnce(v, port, 'via-lane'), 'echo:via-lane', 'answered over the tcp lane, first try');
  const down = (await agentPath(agentAdmin))!;
  t.true(down.fallbacks >= 1);

  proxies.udp.heal();
  await waitFor(async () => (await agentPath(agentAdmin))?.path === 'udp', WAIT_MS, 'agent back on udp');
  await waitFor(async () => (await relayPath(relayAdmin))?.path === 'udp', WAIT_MS, 'relay back on udp');
  const sentBefore = (await relayPath(relayAdmin))!.sent;
  t.is(await askOnce(v, port, 'back-on-udp'), 'echo:back-on-udp');
  await waitFor(async () => (await relayPath(relayAdmin))!.sent > sentBefore, WAIT_MS, 'sent on udp again');
  t.true((await agentPath(agentAdmin))!.recoveries >= 1);
});

test('with tuning.udpPath off the agent never probes and datagrams take the tcp lane', async (t) => {
  t.timeout(90_000);
  const { proxies, agentAdmin, relayAdmin, port, v } = await setup(t, { udpPath: 'off' });
  t.is(await askOnce(v, port, 'lane-only'), 'echo:lane-only');
  t.is((await agentPath(agentAdmin))?.path, 'tcp-lane');
  t.is(proxies.udp.counts.up, 0, 'not one UDP datagram from the agent');
  await waitFor(
    async () => (await relayPath(relayAdmin))?.path === 'tcp-lane',
    WAIT_MS,
    'relay says tcp lane',
  );
});
