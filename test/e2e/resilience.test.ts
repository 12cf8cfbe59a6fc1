// End to end, when things break: agent before relay, agent killed and restarted (also on a half-open
// link), relay restarted, and a long transfer that must survive three link resets byte for byte.
import ava from 'ava';
import { isDeepStrictEqual } from 'node:util';
import { TestEnv, WAIT_MS, freePort } from './lib/env.ts';
import {
  mappingReady,
  notableLogs,
  restartAgent,
  restartRelay,
  startAgent,
  startPair,
  startRelay,
  waitForNth,
} from './lib/cluster.ts';
import { makeKeys } from './lib/profiles.ts';
import {
  connectVisitor,
  visitorWorks,
  hashIncoming,
  startHashServer,
  startHttpServer,
  writeSeeded,
} from './lib/targets.ts';

// Serial: each test starts several node processes; running them all at once on 2 cores only makes every
// wait slower and flakier.
const test = ava.serial;

/** Bytes sent each way through the visitor connection that lives through three link resets. */
const RESET_TRANSFER_BYTES = 128 * 1024 * 1024;
/** Link resets during that transfer. */
const RESETS = 3;

test('an agent started before its relay retries, and its mapping is ready once the relay starts', async (t) => {
  const env = new TestEnv(t);
  const body = 'early agent\n';
  const httpPort = await startHttpServer(env, body);
  const controlPort = await freePort();
  const relayKeys = makeKeys();
  const agentKeys = makeKeys();
  const agent = startAgent(env, {
    name: 'home',
    keys: agentKeys,
    relayPort: controlPort,
    relayPublicKey: relayKeys.publicKey,
    mappings: [{ name: 'web', localPort: httpPort }],
  });
  // It keeps dialing rather than giving up (three lines: at least two dials, as each failure is
  // currently logged twice, by the session client and by the relay connection).
  await waitForNth(agent.proc, { msg: 'link failed', code: 'XNAT_ERR_LINK_CONNECT' }, 3);
  await startRelay(env, {
    keys: relayKeys,
    port: controlPort,
    agents: [{ name: 'home', publicKey: agentKeys.publicKey }],
  });
  const port = await mappingReady(agent.proc, 'web');
  t.true(await visitorWorks(env, port, body));
});

for (const halfOpen of [false, true]) {
  const how = halfOpen ? ' while its old link is half-open' : '';
  test(`an agent killed and restarted with the same key takes over its port at once${how}`, async (t) => {
    const env = new TestEnv(t);
    const body = `takeover${how}\n`;
    const httpPort = await startHttpServer(env, body);
    const remotePort = await freePort();
    const pair = await startPair(env, {
      mappings: [{ name: 'web', remotePort, localPort: httpPort }],
      proxy: true,
      relay: {
        allow: [`${remotePort}/tcp`],
        // The relay would only notice a half-open link after a minute: a takeover must not wait for that.
        ...(halfOpen ? { tuning: { keepaliveInterval: '10s', keepaliveTimeout: '60s' } } : {}),
      },
    });
    t.is(pair.ports.web, remotePort);
    t.true(await visitorWorks(env, remotePort, body));
    if (halfOpen) {
      const [old] = pair.proxy!.connections;
      old!.blackhole();
    }
    await pair.agent.proc.stop('SIGKILL');
    const agent2 = restartAgent(env, pair.agent);
    const relaySide = await waitForNth(pair.relay.proc, { msg: 'session established' }, 2);
    t.is(relaySide.agent, 'home');
    t.is(await mappingReady(agent2.proc, 'web'), remotePort);
    t.true(await visitorWorks(env, remotePort, body));
    // The old session was replaced by the new one of the same key, not waited out.
    const closed = await pair.relay.proc.waitForLog({ msg: 'session closed', agent: 'home' }, WAIT_MS);
    t.is(closed.code, 'XNAT_ERR_SESSION_REPLACED');
    if (halfOpen) {
      // The relay never saw the old link die: it was half-open until the takeover.
      t.false(pair.relay.proc.logs.some((l) => l.msg === 'session detached'));
    }
  });
}

test('a restarted relay gets a new session from the agent and the mapping works again', async (t) => {
  const env = new TestEnv(t);
  const body = 'relay restart\n';
  const httpPort = await startHttpServer(env, body);
  const controlPort = await freePort();
  const pair = await startPair(env, {
    mappings: [{ name: 'web', localPort: httpPort }],
    relay: { port: controlPort },
  });
  t.true(await visitorWorks(env, pair.ports.web!, body));
  let relay = pair.relay;
  // Once gracefully (SIGTERM: the relay closes its sessions), once abruptly (SIGKILL).
  const signals = ['SIGTERM', 'SIGKILL'] as const;
  for (const [i, signal] of signals.entries()) {
    await relay.proc.stop(signal);
    relay = await restartRelay(env, relay, `relay (restart ${i + 1})`);
    t.is(relay.port, controlPort);
    await relay.proc.waitForLog({ msg: 'session established', agent: 'home' }, WAIT_MS);
    await waitForNth(pair.agent.proc, { msg: 'session established' }, i + 2);
    const port = await mappingReady(pair.agent.proc, 'web', i + 2);
    t.true(await visitorWorks(env, port, body), `after ${signal}`);
  }
});

test(`a transfer through one visitor connection survives ${RESETS} link resets intact`, async (t) => {
  t.timeout(180_000);
  const env = new TestEnv(t);
  const lan = await startHashServer(env, { replySeed: 'lan-to-visitor', replyBytes: RESET_TRANSFER_BYTES });
  const pair = await startPair(env, { mappings: [{ name: 'bulk', localPort: lan.port }], proxy: true });
  const proxy = pair.proxy!;
  const visitor = await connectVisitor(env, pair.ports.bulk!);
  const back = hashIncoming(visitor);
  let resets = 0;
  const sent = await writeSeeded(visitor, 'visitor-to-lan', RESET_TRANSFER_BYTES, async (written) => {
    if (resets >= RESETS || written < ((resets + 1) * RESET_TRANSFER_BYTES) / (RESETS + 1)) return;
    // The previous reset must have been healed by a resume, or this one would hit no link.
    if (resets > 0) await waitForNth(pair.agent.proc, { msg: 'session resumed' }, resets);
    proxy.reset();
    resets++;
  });
  t.is(resets, RESETS);
  await waitForNth(pair.agent.proc, { msg: 'session resumed' }, RESETS);
  await waitForNth(pair.relay.proc, { msg: 'session resumed' }, RESETS);
  const side = await lan.connection();
  const [lanGot, lanSent, visitorGot] = await Promise.all([side.received, side.sent, back]);
  const actual = { lan: lanGot, visitor: visitorGot };
  const expected = {
    lan: { bytes: RESET_TRANSFER_BYTES, sha256: sent, ending: 'end' },
    visitor: { bytes: RESET_TRANSFER_BYTES, sha256: lanSent, ending: 'end' },
  };
  // Logs first: a failed assertion ends the test.
  if (!isDeepStrictEqual(actual, expected)) t.log(notableLogs(pair.relay.proc, pair.agent.proc));
  t.deepEqual(actual, expected);
  // Bytes were in flight at the resets: the resumes replayed some (the session layer's attach lines say how many).
  const replayed = [pair.agent.proc, pair.relay.proc]
    .flatMap((p) => p.logs)
    .filter((l) => l.msg === 'session attached' && l.resumed === true)
    .reduce((n, l) => n + (typeof l.replayed === 'number' ? l.replayed : 0), 0);
  t.log(`frames replayed over ${RESETS} resumes: ${replayed}`);
  t.true(replayed > 0);
  // One session throughout: resumed, never re-established.
  t.is(pair.agent.proc.logs.filter((l) => l.msg === 'session established').length, 1);
  t.true(proxy.accepted >= RESETS + 1);
});
