// UDP mappings end to end with the real relay and agent processes: the first datagram of every flow is
// answered (one try, no retry), one flow per visitor address, and the flows show in both status snapshots
// and /metrics.
import test from 'ava';
import { TestEnv } from '../e2e/lib/env.ts';
import { makeKeys } from '../e2e/lib/profiles.ts';
import { killAll, waitFor } from '../helpers/procs.ts';
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

test('a udp mapping answers the first datagram of each flow, one flow per visitor, shown in status', async (t) => {
  t.timeout(90_000);
  const env = new TestEnv(t);
  const echo = await udpEcho(env);
  const relayKeys = makeKeys();
  const agentKeys = makeKeys();
  const relay = await startRelay(env, relayKeys, [{ name: 'game', keys: agentKeys }]);
  const agent = await startAgent(env, {
    name: 'game',
    keys: agentKeys,
    relayPort: relay.controlPort,
    relayKeys,
    mappings: [{ name: 'bedrock', localPort: echo, idleTimeout: '30s' }],
  });
  const port = agent.ports.bedrock!;
  t.true(port >= 20000 && port <= 60000);

  // Each new socket is a new flow: its very first datagram must come back (no retry).
  const a = await visitor(env);
  const b = await visitor(env);
  t.is(await askOnce(a, port, 'ping-a1'), 'echo:ping-a1');
  t.is(await askOnce(b, port, 'ping-b1'), 'echo:ping-b1');
  t.is(await askOnce(a, port, 'ping-a2'), 'echo:ping-a2');
  for (let i = 0; i < 5; i++) {
    const fresh = await visitor(env);
    t.is(await askOnce(fresh, port, `first-${i}`), `echo:first-${i}`, `new flow ${i}`);
    fresh.close();
  }
  // A burst from one visitor arrives (best effort, but nothing is lost on an idle loopback).
  const got = new Set<string>();
  b.on('message', (m) => got.add(m.toString()));
  for (let i = 0; i < 50; i++) b.send(`burst-${i}`, port, '127.0.0.1');
  await waitFor(() => got.size >= 45, 10_000, 'burst answers').catch(() => {});
  t.true(got.size >= 45, `burst answers ${got.size}`);

  // Status: the mapping counts flows (not the session's streams), the sessions list them.
  const rs = await relayStatus(await admin(env, relay));
  const m = rs.mappings.find((x) => x.name === 'bedrock')!;
  t.is(m.protocol, 'udp');
  t.is(m.activeFlows, 7);
  t.is(m.totalFlows, 7);
  t.is(m.activeStreams, 7, 'the streams column of a udp mapping shows its flows');
  t.is(m.flowDrops?.noAgent, 0);
  const session = rs.sessions[0]!;
  t.is(session.activeFlows, 7);
  const flowA = session.flows!.find((f) => f.visitor === `127.0.0.1:${a.address().port}`)!;
  t.truthy(flowA, 'visitor a has a flow in the relay status');
  t.is(flowA.mapping, 'bedrock');
  t.is(flowA.packetsUp, 2);
  t.is(flowA.packetsDown, 2);
  t.is(flowA.bytesUp, 'ping-a1'.length * 2);
  t.is(flowA.bytesDown, 'echo:ping-a1'.length * 2);
  t.is(flowA.drops, 0);
  t.true(flowA.ageMs >= 0 && flowA.idleMs >= 0);

  const as = await agentStatus(await admin(env, agent));
  const am = as.mappings.find((x) => x.name === 'bedrock')!;
  t.is(am.activeFlows, 7);
  const agentFlows = as.relays[0]!.session!.flows!;
  t.is(agentFlows.length, 7);
  const agentA = agentFlows.find((f) => f.id === flowA.id)!;
  t.is(agentA.visitor, flowA.visitor, 'the agent knows the visitor of each flow');
  t.is(agentA.packetsUp, 2);
  t.is(agentA.packetsDown, 2);

  const text = await metrics(relay);
  t.is(sample(text, 'xnat_mapping_open_flows', { mapping: 'bedrock' }), 7);
  t.is(sample(text, 'xnat_mapping_flows_total', { mapping: 'bedrock' }), 7);
  t.regex(text, /# TYPE xnat_udp_drops_total counter/);
  t.is(sample(text, 'xnat_udp_drops_total', { cause: 'no_agent' }), 0);
});
