// A UDP mapping served by two agents, real processes: new flows spread over both (least-loaded counts
// flows), each flow stays with its agent, and a flow survives a TCP link reset of its agent's session
// (same flow id at the relay, same LAN socket at the agent) once the session has resumed.
import test from 'ava';
import { TestEnv } from '../e2e/lib/env.ts';
import { makeKeys } from '../e2e/lib/profiles.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';
import { killAll } from '../helpers/procs.ts';
import { waitForNth } from '../e2e/lib/cluster.ts';
import { admin, askOnce, relayStatus, startAgent, startRelay, udpEcho, visitor } from './udp-stack.ts';

test.after.always(() => killAll());

const VISITORS = 8;

test('flows spread over two agents, stick to theirs, and survive a link reset', async (t) => {
  t.timeout(120_000);
  const env = new TestEnv(t);
  const echoA = await udpEcho(env, 'A:', true);
  const echoB = await udpEcho(env, 'B:', true);
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
    mappings: [{ name: 'game', localPort: echoA }],
  });
  const port = alpha.ports.game!;
  // beta reaches the relay through a fault proxy, so its link can be reset.
  const proxy = await startFaultProxy(relay.controlPort);
  env.onDispose(() => proxy.close());
  const beta = await startAgent(env, {
    name: 'beta',
    keys: betaKeys,
    relayPort: proxy.port,
    relayKeys,
    mappings: [{ name: 'game', remotePort: port, localPort: echoB }],
  });
  t.is(beta.ports.game, port, 'beta serves the same public port');
  const client = await admin(env, relay);
  const before = await relayStatus(client);
  t.deepEqual(
    before.mappings
      .find((m) => m.name === 'game')!
      .agents!.slice()
      .sort(),
    ['alpha', 'beta'],
  );

  // New flows spread: each answer names the agent (A/B) and its LAN socket's port.
  const sockets = [];
  const first = new Map<number, string>();
  for (let i = 0; i < VISITORS; i++) {
    const s = await visitor(env);
    sockets.push(s);
    const answer = await askOnce(s, port, `hello-${i}`);
    t.truthy(answer, `visitor ${i} answered on its first datagram`);
    first.set(i, answer!.slice(0, answer!.lastIndexOf(':')));
  }
  const onA = [...first.values()].filter((a) => a.startsWith('A:')).length;
  t.true(onA >= 3 && onA <= VISITORS - 3, `flows on alpha: ${onA} of ${VISITORS}`);

  // Each flow stays with its agent and its LAN socket.
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < VISITORS; i++) {
      const answer = await askOnce(sockets[i]!, port, `again-${round}-${i}`);
      t.is(answer?.slice(0, answer.lastIndexOf(':')), first.get(i), `visitor ${i} round ${round}`);
    }
  }

  // A blip on beta's link: the TCP connection is reset, the agent redials and resumes its session.
  const i = [...first.entries()].find(([, a]) => a.startsWith('B:'))![0];
  const v = sockets[i]!;
  const visitorAddr = `127.0.0.1:${v.address().port}`;
  const flowBefore = (await relayStatus(client)).sessions
    .find((s) => s.agent === 'beta')!
    .flows!.find((f) => f.visitor === visitorAddr)!;
  t.truthy(flowBefore);
  proxy.reset();
  await waitForNth(beta.proc, { msg: 'session resumed' }, 1);
  // Datagrams sent while the link was down are lost (as on any network); once resumed, the flow answers.
  let answer: string | undefined;
  for (let tries = 0; tries < 20 && answer === undefined; tries++)
    answer = await askOnce(v, port, `after-blip-${tries}`, 500);
  t.is(answer?.slice(0, answer.lastIndexOf(':')), first.get(i), 'same agent, same LAN socket after the blip');
  const after = await relayStatus(client);
  const betaSession = after.sessions.find((s) => s.agent === 'beta')!;
  t.true(betaSession.resumes >= 1);
  const flowAfter = betaSession.flows!.find((f) => f.visitor === visitorAddr)!;
  t.is(flowAfter.id, flowBefore.id, 'the relay kept the flow');
  t.is(after.mappings.find((m) => m.name === 'game')!.totalFlows, VISITORS, 'no flow was opened anew');
});
