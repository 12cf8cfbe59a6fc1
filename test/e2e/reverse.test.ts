// End to end, reverse mode: the relay dials the agent (agents[].dial -> relays[].listen), here through the
// fault proxy. A transfer through one visitor connection survives link resets and a blackhole (the relay
// redials, the session resumes); strangers on the agent's port block nothing; a dial answered by another
// agent is refused; a late, restarted or moved agent is redialed; a taken listen port ends the agent.
import ava from 'ava';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { startFaultProxy } from '../helpers/fault-proxy.ts';
import { EXIT } from '../../src/errors.ts';
import { TestEnv, WAIT_MS, freePort } from './lib/env.ts';
import {
  countLogs,
  mappingReady,
  notableLogs,
  restartAgent,
  restartRelay,
  startAgent,
  startRelay,
  waitForNth,
  type AgentHandle,
  type RelayHandle,
} from './lib/cluster.ts';
import { makeKeys, relayProfile, type AgentSpec, type Keys, type MappingSpec } from './lib/profiles.ts';
import {
  connectVisitor,
  hashIncoming,
  startHashServer,
  startHttpServer,
  startTagServer,
  tagOf,
  visitorWorks,
  writeSeeded,
} from './lib/targets.ts';

const test = ava.serial;

/** Bytes each way through the visitor connection that lives through the resets. */
const TRANSFER_BYTES = 32 * 1024 * 1024;
const RESETS = 2;

/** The profile of reverse-mode agent `home`: it listens on 127.0.0.1:listenPort (0: any) for its relay. */
function reverseAgent(
  keys: Keys,
  relayKeys: Keys,
  listenPort: number,
  mappings: readonly MappingSpec[],
): AgentSpec {
  return {
    name: 'home',
    keys,
    relayPort: 0,
    relayPublicKey: relayKeys.publicKey,
    reverse: { listenPort },
    mappings,
  };
}

/** Starts a relay that dials agent `home` (agentKeys) at 127.0.0.1:dialPort. */
function startDialingRelay(
  env: TestEnv,
  relayKeys: Keys,
  agentKeys: Keys,
  dialPort: number,
): Promise<RelayHandle> {
  return startRelay(env, {
    keys: relayKeys,
    agents: [{ name: 'home', publicKey: agentKeys.publicKey, dial: `127.0.0.1:${dialPort}` }],
  });
}

/** Starts a reverse-mode agent on 127.0.0.1:0; resolves with it and the port it listens on for the relay. */
async function startReverseAgent(
  env: TestEnv,
  keys: Keys,
  relayKeys: Keys,
  mappings: readonly MappingSpec[],
  file = 'agent.yaml',
): Promise<{ agent: AgentHandle; port: number }> {
  const agent = startAgent(env, reverseAgent(keys, relayKeys, 0, mappings), file);
  const line = await agent.proc.waitForLog({ msg: 'listening', what: 'reverse' }, WAIT_MS);
  return { agent, port: line.port as number };
}

test(`reverse mode: a transfer through one visitor connection survives ${RESETS} link resets`, async (t) => {
  t.timeout(120_000);
  const env = new TestEnv(t);
  const relayKeys = makeKeys();
  const agentKeys = makeKeys();
  const lan = await startHashServer(env, { replySeed: 'lan-to-visitor', replyBytes: TRANSFER_BYTES });
  const { agent, port } = await startReverseAgent(env, agentKeys, relayKeys, [
    { name: 'bulk', localPort: lan.port },
  ]);
  const proxy = await startFaultProxy(port);
  env.onDispose(() => proxy.close());
  const relay = await startDialingRelay(env, relayKeys, agentKeys, proxy.port);
  const publicPort = await mappingReady(agent.proc, 'bulk');
  const visitor = await connectVisitor(env, publicPort);
  const back = hashIncoming(visitor);
  let resets = 0;
  const sent = await writeSeeded(visitor, 'visitor-to-lan', TRANSFER_BYTES, async (written) => {
    if (resets >= RESETS || written < ((resets + 1) * TRANSFER_BYTES) / (RESETS + 1)) return;
    if (resets > 0) await waitForNth(agent.proc, { msg: 'session resumed' }, resets);
    proxy.reset();
    resets++;
  });
  t.is(resets, RESETS);
  await waitForNth(agent.proc, { msg: 'session resumed' }, RESETS);
  await waitForNth(relay.proc, { msg: 'session resumed' }, RESETS);
  const side = await lan.connection();
  const [lanGot, lanSent, visitorGot] = await Promise.all([side.received, side.sent, back]);
  const actual = { lan: lanGot, visitor: visitorGot };
  const expected = {
    lan: { bytes: TRANSFER_BYTES, sha256: sent, ending: 'end' },
    visitor: { bytes: TRANSFER_BYTES, sha256: lanSent, ending: 'end' },
  };
  if (!isDeepStrictEqual(actual, expected)) t.log(notableLogs(relay.proc, agent.proc));
  t.deepEqual(actual, expected);
  // One session throughout, each link dialed by the relay (through the proxy) and resumed by the agent.
  t.is(countLogs(agent.proc, { msg: 'session established' }), 1);
  t.true(proxy.accepted >= RESETS + 1);
  t.is(countLogs(agent.proc, { msg: 'connecting' }), 0);
});

/** A raw TCP connection to 127.0.0.1:port, errors ignored (the agent may reset it). */
async function connectSocket(port: number): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  await new Promise((r) => s.once('connect', r));
  return s;
}

test('reverse mode: strangers on the agent port (silent, garbage, reset) do not hold up the relay link', async (t) => {
  const env = new TestEnv(t);
  const relayKeys = makeKeys();
  const agentKeys = makeKeys();
  const body = 'reverse\n';
  const httpPort = await startHttpServer(env, body);
  const { agent, port } = await startReverseAgent(env, agentKeys, relayKeys, [
    { name: 'web', localPort: httpPort },
  ]);
  // More strangers than one source may keep unfinished (the oldest are dropped), connected and silent.
  const strangers: net.Socket[] = [];
  const heard: number[] = [];
  for (let i = 0; i < 6; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    const n = strangers.length;
    heard[n] = 0;
    s.on('data', (d: Buffer) => (heard[n]! += d.length));
    strangers.push(s);
    await new Promise((r) => s.once('connect', r));
  }
  env.onDispose(() => strangers.forEach((s) => s.destroy()));
  // And louder ones: garbage, garbage then a reset, an xnat preface then silence.
  for (const bytes of [randomBytes(3000), randomBytes(64), Buffer.from('XNAT\x01\x00\x00\x00')]) {
    const s = await connectSocket(port);
    s.write(bytes);
    if (bytes.length === 64) s.resetAndDestroy();
    else strangers.push(s);
  }
  const relay = await startDialingRelay(env, relayKeys, agentKeys, port);
  const publicPort = await mappingReady(agent.proc, 'web');
  t.true(await visitorWorks(env, publicPort, body));
  t.truthy(await relay.proc.waitForLog({ msg: 'session established', agent: 'home' }, WAIT_MS));
  // The agent answered each stranger with its message 1 at most (opaque to anyone but the relay), no more.
  t.true(
    heard.every((n) => n < 512),
    `bytes to strangers: ${heard.join(',')}`,
  );
  t.is(agent.proc.exit, undefined);
});

test('reverse mode: a dial answered by another agent is refused with XNAT_ERR_AUTH_WRONG_AGENT', async (t) => {
  const env = new TestEnv(t);
  const relayKeys = makeKeys();
  const other = await startReverseAgent(env, makeKeys(), relayKeys, [{ name: 'web', localPort: 9 }]);
  const expected = makeKeys();
  const relay = await startDialingRelay(env, relayKeys, expected, other.port);
  const line = await relay.proc.waitForLog({ msg: 'agent dial failed', agent: 'home' }, WAIT_MS);
  t.is(line.code, 'XNAT_ERR_AUTH_WRONG_AGENT');
  t.is(countLogs(other.agent.proc, { msg: 'session established' }), 0);
});

test('reverse mode: a relay started before its agent keeps dialing and links once the agent listens', async (t) => {
  const env = new TestEnv(t);
  const relayKeys = makeKeys();
  const agentKeys = makeKeys();
  const body = 'relay first\n';
  const httpPort = await startHttpServer(env, body);
  const listenPort = await freePort();
  const relay = await startDialingRelay(env, relayKeys, agentKeys, listenPort);
  // The first failure of the outage is a warning; the redials after it are quiet (debug).
  const failed = await relay.proc.waitForLog({ msg: 'agent dial failed', agent: 'home' }, WAIT_MS);
  t.is(failed.code, 'XNAT_ERR_LINK_CONNECT');
  const agent = startAgent(
    env,
    reverseAgent(agentKeys, relayKeys, listenPort, [{ name: 'web', localPort: httpPort }]),
  );
  const publicPort = await mappingReady(agent.proc, 'web');
  t.true(await visitorWorks(env, publicPort, body));
  const restored = await relay.proc.waitForLog({ msg: 'agent link restored', agent: 'home' }, WAIT_MS);
  t.true((restored.attempts as number) >= 1);
  t.is(countLogs(relay.proc, { msg: 'agent dial failed', level: 40 }), 1);
});

test('reverse mode: xnat reload starts a dialer for a new dial entry and stops it when the entry goes', async (t) => {
  const env = new TestEnv(t);
  const relayKeys = makeKeys();
  const agentKeys = makeKeys();
  const body = 'reloaded\n';
  const httpPort = await startHttpServer(env, body);
  const { agent, port } = await startReverseAgent(env, agentKeys, relayKeys, [
    { name: 'web', localPort: httpPort },
  ]);
  const admin = { port: await freePort(), token: 'reverse-reload-token-0123456789' };
  const entry = { name: 'home', publicKey: agentKeys.publicKey };
  const relay = await startRelay(env, { keys: relayKeys, admin, agents: [entry] });
  const reload = async (dial: string | undefined) => {
    env.write(
      'relay.yaml',
      relayProfile({ keys: relayKeys, admin, agents: [{ ...entry, ...(dial ? { dial } : {}) }] }),
    );
    const p = await env.run(['reload', '--profile', relay.profilePath]);
    return p.otherLines.join('\n');
  };
  t.regex(await reload(`127.0.0.1:${port}`), /agent home: dialed at 127\.0\.0\.1:\d+/);
  const publicPort = await mappingReady(agent.proc, 'web');
  t.true(await visitorWorks(env, publicPort, body));
  // xnat status says who dials: the relay's session row and its dialer.
  const status = (await env.run(['status', '--profile', relay.profilePath])).otherLines.join('\n');
  t.regex(status, /session \w+ agent=home state=attached .* dialed-by=relay/);
  t.regex(status, /dialer agent=home dial=127\.0\.0\.1:\d+ state=linked dials=\d+/);
  t.regex(await reload(undefined), /agent home: no longer dialed/);
  await agent.proc.waitForLog({ msg: 'session detached' }, WAIT_MS);
  t.is(countLogs(relay.proc, { msg: 'dialing agent' }), 1);
});

test('reverse mode: a taken listen port ends the agent with XNAT_ERR_LINK_LISTEN, before it registers anything', async (t) => {
  const env = new TestEnv(t);
  const held = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', () => resolve()));
  env.onDispose(() => new Promise<void>((r) => held.close(() => r())));
  const port = (held.address() as net.AddressInfo).port;
  const agent = startAgent(env, reverseAgent(makeKeys(), makeKeys(), port, [{ name: 'web', localPort: 9 }]));
  const exit = await agent.proc.exited;
  t.is(exit.code, EXIT.NETWORK, agent.proc.tail());
  t.regex(
    agent.proc.stderr,
    new RegExp(`^error XNAT_ERR_LINK_LISTEN: .*127\\.0\\.0\\.1:${port} EADDRINUSE`, 'm'),
  );
  t.is(countLogs(agent.proc, { msg: 'waiting for the relay to dial' }), 0);
});

test('reverse mode: a restarted agent is redialed and takes over; a relay restarted gracefully dials a new session', async (t) => {
  t.timeout(120_000);
  const env = new TestEnv(t);
  const relayKeys = makeKeys();
  const agentKeys = makeKeys();
  const body = 'restarts\n';
  const httpPort = await startHttpServer(env, body);
  const listenPort = await freePort();
  let agent = startAgent(
    env,
    reverseAgent(agentKeys, relayKeys, listenPort, [{ name: 'web', localPort: httpPort }]),
  );
  let relay = await startDialingRelay(env, relayKeys, agentKeys, listenPort);
  t.true(await visitorWorks(env, await mappingReady(agent.proc, 'web'), body));

  await agent.proc.stop('SIGKILL');
  agent = restartAgent(env, agent);
  t.true(await visitorWorks(env, await mappingReady(agent.proc, 'web'), body), 'after the agent restart');
  const closed = await relay.proc.waitForLog({ msg: 'session closed', agent: 'home' }, WAIT_MS);
  t.is(closed.code, 'XNAT_ERR_SESSION_REPLACED');

  // Gracefully: the relay's links stay up for its relay.shutdown notice, then go with the sessions.
  await relay.proc.stop('SIGTERM');
  t.truthy(await agent.proc.waitForLog({ msg: 'relay shutting down' }, WAIT_MS));
  relay = await restartRelay(env, relay);
  await relay.proc.waitForLog({ msg: 'session established', agent: 'home' }, WAIT_MS);
  t.true(await visitorWorks(env, await mappingReady(agent.proc, 'web', 2), body), 'after the relay restart');
});

test('reverse mode: a blackholed link is found by keepalive, probed or redialed by the relay and resumed', async (t) => {
  const env = new TestEnv(t);
  const relayKeys = makeKeys();
  const agentKeys = makeKeys();
  const tuning = { keepaliveInterval: '200ms', keepaliveTimeout: '1s' };
  const tag = await startTagServer(env, 'lan');
  const agent = startAgent(env, {
    name: 'home',
    keys: agentKeys,
    relayPort: 0,
    relayPublicKey: relayKeys.publicKey,
    reverse: { listenPort: 0 },
    mappings: [{ name: 'echo', localPort: tag }],
    tuning,
  });
  const port = (await agent.proc.waitForLog({ msg: 'listening', what: 'reverse' }, WAIT_MS)).port as number;
  const proxy = await startFaultProxy(port);
  env.onDispose(() => proxy.close());
  await startRelay(env, {
    keys: relayKeys,
    tuning,
    agents: [{ name: 'home', publicKey: agentKeys.publicKey, dial: `127.0.0.1:${proxy.port}` }],
  });
  const { socket: visitor, tag: greeting } = await tagOf(env, await mappingReady(agent.proc, 'echo'));
  t.is(greeting, 'lan');
  // Only the live connection goes dark: the relay's probe (its link is suspect) or its redial (after the
  // keepalive verdict) gets through the proxy, and the agent's session moves to it.
  proxy.connections[0]!.blackhole();
  const detached = await agent.proc.waitForLog({ msg: 'session detached' }, WAIT_MS);
  t.true(['XNAT_ERR_SESSION_LINK_REPLACED', 'XNAT_ERR_LINK_KEEPALIVE'].includes(String(detached.code)));
  await waitForNth(agent.proc, { msg: 'session resumed' }, 1);
  // The visitor's connection lived through it: what it sends now is echoed back.
  const echoed = new Promise<string>((resolve) => visitor.once('data', (d: Buffer) => resolve(d.toString())));
  visitor.write('still here\n');
  t.is(await echoed, 'still here\n');
  t.is(countLogs(agent.proc, { msg: 'session established' }), 1);
});
