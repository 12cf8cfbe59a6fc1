// Several agents on one TCP mapping, real processes: weights split visitors, a SIGKILLed agent (its
// session detached, inside the resume window) gets no new visitor while the other is attached but keeps
// its live ones, and an agent whose LAN target refuses is skipped for its back-off (status shows health).
import test from 'ava';
import type net from 'node:net';
import { TestEnv, freePort } from '../e2e/lib/env.ts';
import { makeKeys } from '../e2e/lib/profiles.ts';
import { startTagServer, tagOf } from '../e2e/lib/targets.ts';
import { killAll, waitFor } from '../helpers/procs.ts';
import { admin, agentStatus, relayStatus, startAgent, startRelay } from './udp-stack.ts';
import type { RelayStatus } from '../../src/observe/status.ts';

test.after.always(() => killAll());

function servers(s: RelayStatus, mapping: string) {
  return s.mappings.find((m) => m.name === mapping)?.servers ?? [];
}

async function twoAgents(
  env: TestEnv,
  alphaTarget: number,
  betaTarget: number,
  alphaExtra: Record<string, unknown> = {},
) {
  const relayKeys = makeKeys();
  const alphaKeys = makeKeys();
  const betaKeys = makeKeys();
  const relay = await startRelay(env, relayKeys, [
    { name: 'alpha', keys: alphaKeys },
    { name: 'beta', keys: betaKeys },
  ]);
  const alpha = await startAgent(env, {
    name: 'alpha',
    keys: alphaKeys,
    relayPort: relay.controlPort,
    relayKeys,
    mappings: [{ name: 'web', protocol: 'tcp', localPort: alphaTarget, extra: alphaExtra }],
  });
  const port = alpha.ports.web!;
  const beta = await startAgent(env, {
    name: 'beta',
    keys: betaKeys,
    relayPort: relay.controlPort,
    relayKeys,
    mappings: [{ name: 'web', protocol: 'tcp', remotePort: port, localPort: betaTarget }],
  });
  const client = await admin(env, relay);
  await waitFor(
    async () => servers(await relayStatus(client), 'web').length === 2,
    30_000,
    'both agents serving web',
  );
  return { relay, alpha, beta, port, client };
}

test('weights split visitors 3:1; a SIGKILLed agent gets no new visitor but keeps its live ones', async (t) => {
  t.timeout(120_000);
  const env = new TestEnv(t);
  const { alpha, port, client } = await twoAgents(
    env,
    await startTagServer(env, 'A'),
    await startTagServer(env, 'B'),
    { weight: 3 },
  );
  const held: { socket: net.Socket; tag: string }[] = [];
  for (let i = 0; i < 8; i++) held.push(await tagOf(env, port));
  const onA = held.filter((h) => h.tag === 'A').length;
  t.is(onA, 6, `weight 3 against 1: ${held.map((h) => h.tag).join('')}`);
  t.deepEqual(
    servers(await relayStatus(client), 'web').map((s) => [s.agent, s.weight, s.visitors]),
    [
      ['alpha', 3, 6],
      ['beta', 1, 2],
    ],
  );

  const closed = new Set<net.Socket>();
  for (const h of held) h.socket.once('close', () => closed.add(h.socket));
  alpha.proc.kill('SIGKILL');
  await alpha.proc.exited;
  await waitFor(
    async () => servers(await relayStatus(client), 'web').some((s) => s.agent === 'alpha' && !s.attached),
    30_000,
    "alpha's session detached at the relay",
  );
  const after = await relayStatus(client);
  t.is(after.sessions.find((s) => s.agent === 'alpha')?.state, 'detached', 'inside its resume window');

  // Every new visitor goes to beta at once, although alpha (weight 3) would win on load.
  const fresh = [];
  for (let i = 0; i < 10; i++) fresh.push(await tagOf(env, port));
  t.deepEqual(
    fresh.map((f) => f.tag),
    Array<string>(10).fill('B'),
  );
  // alpha's visitors are held for its resume, not cut.
  t.is([...closed].filter((s) => held.find((h) => h.socket === s)?.tag === 'A').length, 0);
  t.is(servers(await relayStatus(client), 'web').find((s) => s.agent === 'alpha')?.visitors, 6);
});

test('an agent whose LAN target refuses is skipped for its back-off; status shows it unhealthy', async (t) => {
  t.timeout(120_000);
  const env = new TestEnv(t);
  const dead = await freePort(); // nothing listens: connections are refused
  const { alpha, port, client } = await twoAgents(env, dead, await startTagServer(env, 'B'));
  // The first visitor goes to alpha (first registered, equal loads): its dial is refused, it is reset.
  const first = await tagOf(env, port);
  t.true(first.tag === 'close' || first.tag.startsWith('error') || first.tag === 'end', first.tag);
  await waitFor(
    async () => servers(await relayStatus(client), 'web').some((s) => s.agent === 'alpha' && !s.healthy),
    30_000,
    'alpha unhealthy at the relay',
  );
  const agentView = await agentStatus(await admin(env, alpha));
  t.is(agentView.mappings.find((m) => m.name === 'web')?.healthy, false, "the agent's own status");
  // Visitors while the back-off has over half a second left all go to beta (after it, one probes alpha).
  const tags: string[] = [];
  for (let i = 0; i < 10; i++) {
    const left = servers(await relayStatus(client), 'web').find((s) => s.agent === 'alpha')!.backoffMs;
    if (left < 500) break;
    tags.push((await tagOf(env, port)).tag);
  }
  t.true(tags.length >= 3, `${tags.length} visitors inside the back-off`);
  t.deepEqual(tags, Array<string>(tags.length).fill('B'));
});
