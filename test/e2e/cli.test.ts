// End to end, the CLI around running processes: `xnat status` through the admin endpoint (text, JSON,
// wrong token), `xnat init` writing profiles that `xnat check` accepts, and `xnat keygen --json`.
import ava from 'ava';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { publicKeyFromPrivate } from '../../src/crypto/keys.ts';
import { TestEnv, freePort } from './lib/env.ts';
import { startPair } from './lib/cluster.ts';
import { startHttpServer } from './lib/targets.ts';

// Serial: each test starts several node processes; running them all at once on 2 cores only makes every
// wait slower and flakier.
const test = ava.serial;

/** The parts of a status snapshot (`xnat status --json`) these tests read. */
interface StatusJson {
  role: string;
  sessions?: Array<{ agent: string; state: string }>;
  relays?: Array<{ state: string; session?: { agent: string } }>;
  mappings: Array<{ name: string; remotePort: number; phase: string }>;
}

test('xnat status prints the session and mapping of a relay and an agent; a wrong token is denied', async (t) => {
  const env = new TestEnv(t);
  const httpPort = await startHttpServer(env, 'status\n');
  const relayToken = randomBytes(16).toString('hex');
  const agentToken = randomBytes(16).toString('hex');
  const [relayAdmin, agentAdmin] = [await freePort(), await freePort()];
  const pair = await startPair(env, {
    mappings: [{ name: 'web', localPort: httpPort }],
    relay: { admin: { port: relayAdmin, token: relayToken } },
    agent: { admin: { port: agentAdmin, token: agentToken } },
  });
  const remotePort = pair.ports.web!;

  const text = await env.run(['status', '--profile', pair.relay.profilePath]);
  t.is(text.exit?.code, 0, text.stderr);
  const out = text.otherLines.join('\n');
  t.regex(out, /^relay /m);
  t.regex(out, /session [0-9a-f]{12} agent=home state=attached/);
  t.regex(out, new RegExp(`mapping web tcp remotePort=${remotePort} phase=ready`));

  const json = await env.run(['status', '--profile', pair.relay.profilePath, '--json']);
  t.is(json.exit?.code, 0, json.stderr);
  // Pretty JSON spans many lines: the harness saw them as non-JSON lines; join them back.
  const relayStatus = JSON.parse(json.otherLines.join('\n')) as StatusJson;
  t.is(relayStatus.role, 'relay');
  t.deepEqual(
    relayStatus.sessions?.map((s) => [s.agent, s.state]),
    [['home', 'attached']],
  );
  t.deepEqual(
    relayStatus.mappings.map((m) => [m.name, m.remotePort, m.phase]),
    [['web', remotePort, 'ready']],
  );

  const agentJson = await env.run(['status', '--profile', pair.agent.profilePath, '--json']);
  t.is(agentJson.exit?.code, 0, agentJson.stderr);
  const agentStatus = JSON.parse(agentJson.otherLines.join('\n')) as StatusJson;
  t.is(agentStatus.role, 'agent');
  t.is(agentStatus.relays?.[0]?.session?.agent, 'home');
  t.deepEqual(
    agentStatus.mappings.map((m) => [m.name, m.remotePort, m.phase]),
    [['web', remotePort, 'ready']],
  );

  const wrongToken = randomBytes(16).toString('hex');
  const wrongProfile = env.write(
    'wrong-token.yaml',
    readFileSync(pair.relay.profilePath, 'utf8').replace(relayToken, wrongToken),
  );
  const denied = await env.run(['status', '--profile', wrongProfile]);
  t.not(denied.exit?.code, 0);
  t.true(denied.stderr.startsWith('error XNAT_ERR_COMMAND_DENIED: '), denied.stderr);
  for (const p of [text, json, agentJson, denied, pair.relay.proc, pair.agent.proc]) {
    const all = [...p.otherLines, ...p.logs.map((l) => JSON.stringify(l)), p.stderr].join('\n');
    t.false(
      all.includes(relayToken) || all.includes(wrongToken) || all.includes(agentToken),
      `${p.name} leaked a token`,
    );
  }
});

test('xnat init writes profiles that xnat check accepts', async (t) => {
  const env = new TestEnv(t);
  const dir = env.path('init');
  const init = await env.run(['init', dir]);
  t.is(init.exit?.code, 0, init.stderr);
  for (const file of ['relay.yaml', 'agent.yaml']) {
    const check = await env.run(['check', '--profile', `${dir}/${file}`]);
    t.is(check.exit?.code, 0, check.stderr);
    t.regex(check.otherLines.join('\n'), /^ok: /);
  }
  // A second init into the same folder refuses to overwrite.
  const again = await env.run(['init', dir]);
  t.not(again.exit?.code, 0);
  t.true(again.stderr.startsWith('error XNAT_ERR_CLI_USAGE: '), again.stderr);
});

test('xnat keygen --json prints a key pair that parses', async (t) => {
  const env = new TestEnv(t);
  const p = await env.run(['keygen', '--json']);
  t.is(p.exit?.code, 0, p.stderr);
  // One JSON object line: the harness parsed it as a log line.
  t.is(p.logs.length, 1);
  const { privateKey, publicKey } = p.logs[0] as { privateKey?: unknown; publicKey?: unknown };
  if (typeof privateKey !== 'string' || typeof publicKey !== 'string') {
    t.fail(`keygen printed ${JSON.stringify(p.logs[0])}`);
    return;
  }
  t.is(Buffer.from(privateKey, 'base64').length, 32);
  t.is(Buffer.from(publicKey, 'base64').length, 32);
  t.is(publicKeyFromPrivate(Buffer.from(privateKey, 'base64')).toString('base64'), publicKey);
});
