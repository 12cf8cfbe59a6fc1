// End to end, reverse mode's fast resume: real relay and agent processes, the relay dialing the agent
// through a fault proxy. A 1 s blackhole (default keepalive) during a download: the relay's probe dials of
// its suspect link reach the agent's probe, bytes flow again soon after the path returns, the SHA-256 is
// intact, one warning. A slow but alive link (1.5 s each way) keeps its session with no takeover storm.
import ava from 'ava';
import { isDeepStrictEqual } from 'node:util';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.ts';
import { TestEnv, WAIT_MS } from './lib/env.ts';
import {
  countLogs,
  mappingReady,
  notableLogs,
  startAgent,
  startRelay,
  type AgentHandle,
} from './lib/cluster.ts';
import { makeKeys, type MappingSpec } from './lib/profiles.ts';
import { connectVisitor, hashIncoming, startHashServer, writeSeeded } from './lib/targets.ts';

const test = ava.serial;

/** Generous bound from the path's return to bytes again (the figure is logged; test/bench/resume.ts). */
const RESUME_BOUND_MS = 3_000;
const DOWNLOAD_BYTES = 16 * 1024 * 1024;
const WARN = 40;

/** A reverse-mode agent and its relay, the relay dialing it through a fault proxy; default keepalive. */
async function startReversePair(
  env: TestEnv,
  mappings: readonly MappingSpec[],
): Promise<{ agent: AgentHandle; proxy: FaultProxy; relay: Awaited<ReturnType<typeof startRelay>> }> {
  const relayKeys = makeKeys();
  const agentKeys = makeKeys();
  const agent = startAgent(env, {
    name: 'home',
    keys: agentKeys,
    relayPort: 0,
    relayPublicKey: relayKeys.publicKey,
    reverse: { listenPort: 0 },
    mappings,
  });
  const port = (await agent.proc.waitForLog({ msg: 'listening', what: 'reverse' }, WAIT_MS)).port as number;
  const proxy = await startFaultProxy(port);
  env.onDispose(() => proxy.close());
  const relay = await startRelay(env, {
    keys: relayKeys,
    agents: [{ name: 'home', publicKey: agentKeys.publicKey, dial: `127.0.0.1:${proxy.port}` }],
  });
  return { agent, proxy, relay };
}

test('reverse mode: a 1 s blackhole during a download resumes soon after the path returns, bytes intact, one warning', async (t) => {
  t.timeout(90_000);
  const env = new TestEnv(t);
  const lan = await startHashServer(env, { replySeed: 'lan-to-visitor', replyBytes: DOWNLOAD_BYTES });
  const { agent, proxy, relay } = await startReversePair(env, [{ name: 'bulk', localPort: lan.port }]);
  const visitor = await connectVisitor(env, await mappingReady(agent.proc, 'bulk'));
  const logsBefore = agent.proc.logs.length;
  let healedAt: number | undefined;
  let resumeMs: number | undefined;
  let blackholed = false;
  const back = hashIncoming(visitor, (total) => {
    if (healedAt !== undefined) resumeMs ??= performance.now() - healedAt;
    if (blackholed || total < DOWNLOAD_BYTES / 8) return;
    blackholed = true;
    proxy.blackhole();
    setTimeout(() => {
      healedAt = performance.now();
      proxy.heal();
    }, 1_000);
  });
  const sent = await writeSeeded(visitor, 'visitor-to-lan', 1024);
  const side = await lan.connection();
  const [lanGot, lanSent, visitorGot] = await Promise.all([side.received, side.sent, back]);
  const restored = await agent.proc.waitForLog({ msg: 'link restored' }, WAIT_MS);
  t.log(
    `1 s blackhole (reverse, default keepalive): bytes ${resumeMs?.toFixed(0)} ms after the path returned; ` +
      `'link restored' outageMs ${String(restored.outageMs)}, attempts ${String(restored.attempts)}; ` +
      `the proxy accepted ${proxy.accepted} links`,
  );
  const actual = { lan: lanGot, visitor: visitorGot };
  const expected = {
    lan: { bytes: 1024, sha256: sent, ending: 'end' },
    visitor: { bytes: DOWNLOAD_BYTES, sha256: lanSent, ending: 'end' },
  };
  if (!isDeepStrictEqual(actual, expected)) t.log(notableLogs(relay.proc, agent.proc));
  t.deepEqual(actual, expected);
  t.true(blackholed && resumeMs !== undefined, 'the blackhole came during the download');
  t.true(resumeMs! <= RESUME_BOUND_MS, `resumed ${resumeMs} ms after the path returned`);
  t.is(restored.resumed, true);
  t.is(countLogs(agent.proc, { msg: 'session established' }), 1);
  const warnings = agent.proc.logs.slice(logsBefore).filter((l) => (l.level ?? 0) >= WARN);
  t.deepEqual(
    warnings.map((l) => l.msg),
    ['link restored'],
    notableLogs(agent.proc),
  );
});

test('reverse mode: a slow link (1.5 s each way for 8 s) is suspect yet kept: no takeover storm, nothing lost', async (t) => {
  t.timeout(60_000);
  const env = new TestEnv(t);
  const lan = await startHashServer(env);
  const { agent, proxy } = await startReversePair(env, [{ name: 'sink', localPort: lan.port }]);
  const visitor = await connectVisitor(env, await mappingReady(agent.proc, 'sink'));
  const logsBefore = agent.proc.logs.length;
  const acceptedBefore = proxy.accepted;
  proxy.delay(1_500);
  await new Promise((r) => setTimeout(r, 8_000));
  proxy.heal();
  await new Promise((r) => setTimeout(r, 2_000));
  const sent = await writeSeeded(visitor, 'visitor-to-lan', 64 * 1024);
  const got = await (await lan.connection()).received;
  const probes = proxy.accepted - acceptedBefore;
  t.log(`slow spell (reverse): ${probes} probe dials reached the proxy`);
  t.deepEqual(got, { bytes: 64 * 1024, sha256: sent, ending: 'end' });
  t.true(probes <= 4, `${probes} probe dials`);
  const since = agent.proc.logs.slice(logsBefore);
  t.is(countLogs(agent.proc, { msg: 'session established' }), 1);
  t.true(since.filter((l) => l.msg === 'session resumed').length <= 1, notableLogs(agent.proc));
  t.deepEqual(
    since.filter((l) => (l.level ?? 0) >= WARN).map((l) => l.msg),
    [],
    notableLogs(agent.proc),
  );
});
