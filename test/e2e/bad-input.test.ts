// End to end, bad input: invalid profiles through `xnat check`, a mapping outside the allow list, an
// unknown agent (and no secret in any log), two agents claiming one port, and visitors whose target or
// session is gone (they must see a reset, never a clean end).
import ava from 'ava';
import { TestEnv, WAIT_MS, freePort } from './lib/env.ts';
import { mappingReady, startAgent, startPair, startRelay, waitForNth } from './lib/cluster.ts';
import { agentProfile, makeKeys, makePsk, relayProfile, type Keys } from './lib/profiles.ts';
import {
  HTTP_GET,
  connectVisitor,
  ending,
  startHashServer,
  startHttpServer,
  visitorWorks,
} from './lib/targets.ts';
import type { XnatProcess } from '../helpers/procs.ts';

// Serial: each test starts several node processes; running them all at once on 2 cores only makes every
// wait slower and flakier.
const test = ava.serial;

/** A valid pair of profiles (as YAML text) to break one key at a time. */
function validProfiles(): { relay: string; agent: string } {
  const relayKeys = makeKeys();
  const agentKeys = makeKeys();
  return {
    relay: relayProfile({
      keys: relayKeys,
      agents: [{ name: 'home', publicKey: agentKeys.publicKey, allow: ['20000-20100/tcp'] }],
    }),
    agent: agentProfile({
      name: 'home',
      keys: agentKeys,
      relayPort: 7000,
      relayPublicKey: relayKeys.publicKey,
      mappings: [
        { name: 'web', remotePort: 20001, localPort: 8080 },
        { name: 'ssh', remotePort: 20002, localPort: 22 },
      ],
    }),
  };
}

const invalid: Array<{
  what: string;
  file: 'relay' | 'agent';
  edit: (text: string) => string;
  code: string;
  path: string;
}> = [
  {
    what: 'an unknown key',
    file: 'agent',
    edit: (s) => s.replace('    remotePort: 20001\n', '    remotePort: 20001\n    remotePrt: 20001\n'),
    code: 'XNAT_ERR_CONFIG_INVALID',
    path: 'mappings[0].remotePrt',
  },
  {
    what: 'bad key text',
    file: 'agent',
    edit: (s) => s.replace(/privateKey: .*/, 'privateKey: "c2VjcmV0LWJ1dC1ub3QtMzItYnl0ZXM="'),
    code: 'XNAT_ERR_CONFIG_KEY_TEXT',
    path: 'agent.privateKey',
  },
  {
    what: 'a bad port range',
    file: 'relay',
    edit: (s) => s.replace('20000-20100/tcp', '20100-20000/tcp'),
    code: 'XNAT_ERR_CONFIG_INVALID',
    path: 'agents[0].allow[0]',
  },
  {
    what: 'a duplicate mapping name',
    file: 'agent',
    edit: (s) => s.replace('name: ssh', 'name: web'),
    code: 'XNAT_ERR_CONFIG_INVALID',
    path: 'mappings[1].name',
  },
];

test('xnat check accepts the valid profiles the invalid ones are made from', async (t) => {
  const env = new TestEnv(t);
  const texts = validProfiles();
  for (const file of ['relay', 'agent'] as const) {
    const p = await env.run(['check', '--profile', env.write(`${file}.yaml`, texts[file])]);
    t.is(p.exit?.code, 0, `${file}: ${p.stderr}`);
  }
});

for (const c of invalid) {
  test(`xnat check refuses ${c.what} with exit code 3 naming the key path`, async (t) => {
    const env = new TestEnv(t);
    const texts = validProfiles();
    const text = c.edit(texts[c.file]);
    t.not(text, texts[c.file], 'the edit changed the profile');
    const p = await env.run(['check', '--profile', env.write(`${c.file}.yaml`, text)]);
    t.is(p.exit?.code, 3);
    t.true(p.stderr.startsWith(`error ${c.code}: `), p.stderr);
    t.true(p.stderr.includes(c.path), p.stderr);
    if (c.what === 'bad key text') t.false(p.stderr.includes('c2VjcmV0LWJ1dC1ub3QtMzItYnl0ZXM='));
  });
}

test('a mapping outside the allow list fails with XNAT_ERR_MAPPING_NOT_ALLOWED; the allowed one works', async (t) => {
  const env = new TestEnv(t);
  const body = 'allowed mapping\n';
  const httpPort = await startHttpServer(env, body);
  const pair = await startPair(env, {
    mappings: [
      { name: 'outside', remotePort: 1999, localPort: httpPort },
      { name: 'inside', localPort: httpPort },
    ],
    relay: { allow: ['20000-20100/tcp'] },
    waitReady: false,
  });
  const failed = await pair.agent.proc.waitForLog({ msg: 'mapping failed', mapping: 'outside' }, WAIT_MS);
  t.is(failed.code, 'XNAT_ERR_MAPPING_NOT_ALLOWED');
  const relaySide = await pair.relay.proc.waitForLog({ msg: 'mapping failed', mapping: 'outside' }, WAIT_MS);
  t.is(relaySide.code, 'XNAT_ERR_MAPPING_NOT_ALLOWED');
  const port = await mappingReady(pair.agent.proc, 'inside');
  t.true(port >= 20000 && port <= 20100);
  t.true(await visitorWorks(env, port, body));
});

/** Every way a key could be printed: base64, url-safe base64 without padding, hex. */
function renderings(key: Buffer): string[] {
  return [key.toString('base64'), key.toString('base64url'), key.toString('hex')];
}

function leaks(p: XnatProcess, secrets: readonly string[]): string[] {
  const text = [...p.logs.map((l) => JSON.stringify(l)), ...p.otherLines, p.stderr].join('\n');
  return secrets.filter((s) => text.includes(s));
}

test('an unknown agent is rejected on both sides, leaks no secret, and a valid agent keeps working', async (t) => {
  const env = new TestEnv(t);
  const body = 'valid agent\n';
  const httpPort = await startHttpServer(env, body);
  const relayKeys = makeKeys();
  const good: Keys = makeKeys();
  const stranger: Keys = makeKeys();
  const goodPsk = makePsk();
  const strangerPsk = makePsk();
  const relay = await startRelay(env, {
    keys: relayKeys,
    agents: [{ name: 'good', publicKey: good.publicKey, psk: goodPsk }],
  });
  const goodAgent = startAgent(
    env,
    {
      name: 'good',
      keys: good,
      psk: goodPsk,
      relayPort: relay.port,
      relayPublicKey: relayKeys.publicKey,
      mappings: [{ name: 'web', localPort: httpPort }],
    },
    'good.yaml',
  );
  const port = await mappingReady(goodAgent.proc, 'web');
  const strangerAgent = startAgent(
    env,
    {
      name: 'stranger',
      keys: stranger,
      psk: strangerPsk,
      relayPort: relay.port,
      relayPublicKey: relayKeys.publicKey,
      mappings: [{ name: 'web2', localPort: httpPort }],
      // Refusals are retried at a slow pace (1 min by default); the test wants a second try soon.
      reconnect: { initialDelay: '50ms', maxDelay: '500ms', authRetryDelay: '200ms' },
    },
    'stranger.yaml',
  );
  const rejected = await relay.proc.waitForLog({ msg: 'link rejected' }, WAIT_MS);
  t.is(rejected.code, 'XNAT_ERR_AUTH_UNKNOWN_AGENT');
  const failed = await strangerAgent.proc.waitForLog({ msg: 'link failed' }, WAIT_MS);
  t.is(failed.code, 'XNAT_ERR_AUTH_UNKNOWN_AGENT');
  // It keeps being refused (a second attempt), and the valid agent is untouched.
  await waitForNth(relay.proc, { msg: 'link rejected' }, 2);
  t.true(await visitorWorks(env, port, body));
  t.is(goodAgent.proc.logs.filter((l) => l.msg === 'session established').length, 1);
  t.false(strangerAgent.proc.logs.some((l) => l.msg === 'session established'));

  const secrets = [relayKeys, good, stranger]
    .flatMap((k) => renderings(k.pair.privateKey))
    .concat([goodPsk, strangerPsk].flatMap((psk) => renderings(Buffer.from(psk, 'base64'))));
  for (const p of [relay.proc, goodAgent.proc, strangerAgent.proc]) {
    t.deepEqual(leaks(p, secrets), [], `${p.name} leaked a secret`);
    t.true(p.logs.length > 0, `${p.name} logged`);
  }
});

test('a second agent claiming a taken port gets XNAT_ERR_MAPPING_IN_USE; the first keeps working', async (t) => {
  const env = new TestEnv(t);
  const body = 'first agent\n';
  const httpPort = await startHttpServer(env, body);
  const remotePort = await freePort();
  const relayKeys = makeKeys();
  const first = makeKeys();
  const second = makeKeys();
  const allow = [`${remotePort}/tcp`];
  const relay = await startRelay(env, {
    keys: relayKeys,
    agents: [
      { name: 'first', publicKey: first.publicKey, allow },
      { name: 'second', publicKey: second.publicKey, allow },
    ],
  });
  const common = { relayPort: relay.port, relayPublicKey: relayKeys.publicKey };
  const a1 = startAgent(
    env,
    { ...common, name: 'first', keys: first, mappings: [{ name: 'web', remotePort, localPort: httpPort }] },
    'first.yaml',
  );
  t.is(await mappingReady(a1.proc, 'web'), remotePort);
  // Another mapping name on the same port: not a second server of one mapping, but a clash.
  const a2 = startAgent(
    env,
    {
      ...common,
      name: 'second',
      keys: second,
      mappings: [{ name: 'other', remotePort, localPort: httpPort }],
    },
    'second.yaml',
  );
  const failed = await a2.proc.waitForLog({ msg: 'mapping failed', mapping: 'other' }, WAIT_MS);
  t.is(failed.code, 'XNAT_ERR_MAPPING_IN_USE');
  t.true(await visitorWorks(env, remotePort, body));
  t.false(a2.proc.logs.some((l) => l.msg === 'mapping ready'));
});

test('a visitor is reset (not ended) when the LAN target is down', async (t) => {
  const env = new TestEnv(t);
  const downPort = await freePort();
  const pair = await startPair(env, { mappings: [{ name: 'down', localPort: downPort }] });
  const visitor = await connectVisitor(env, pair.ports.down!);
  const how = ending(visitor);
  visitor.write(HTTP_GET);
  t.is(await how, 'ECONNRESET');
  const failed = await pair.agent.proc.waitForLog({ msg: 'target failed' }, WAIT_MS);
  t.is(failed.code, 'XNAT_ERR_FORWARD_TARGET_REFUSED');
});

test('a live visitor is reset when its session expires (agent killed, short resume window)', async (t) => {
  const env = new TestEnv(t);
  const lan = await startHashServer(env);
  const pair = await startPair(env, {
    mappings: [{ name: 'web', localPort: lan.port }],
    relay: { resumeWindow: '1s' },
  });
  const visitor = await connectVisitor(env, pair.ports.web!);
  const how = ending(visitor);
  visitor.write('the stream is open');
  // The stream reached the LAN target: the visitor is live end to end.
  await lan.connection();
  await pair.agent.proc.stop('SIGKILL');
  await pair.relay.proc.waitForLog({ msg: 'session detached' }, WAIT_MS);
  // The session layer and the relay both log `session expired`; the relay's line carries the code.
  const expired = await pair.relay.proc.waitForLog(
    { msg: 'session expired', code: 'XNAT_ERR_SESSION_EXPIRED' },
    WAIT_MS,
  );
  t.is(expired.agent, 'home');
  t.is(await how, 'ECONNRESET');
});
