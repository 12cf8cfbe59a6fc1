// Environment overrides of secrets, privateKeyFile, and redaction of every secret in printable profiles.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadAgentProfile,
  parseAgentProfile,
  parseRelayProfile,
  redactProfile,
} from '../../src/config/index.ts';
import { isXnatError } from '../../src/errors.ts';

const KEY_PROFILE = Buffer.alloc(32, 1).toString('base64');
const KEY_ENV = Buffer.alloc(32, 3).toString('base64');
const KEY_FILE = Buffer.alloc(32, 4).toString('base64');
const RELAY_PUB = Buffer.alloc(32, 5).toString('base64');
const PSK = Buffer.alloc(32, 6).toString('base64');
const TOKEN = 'profile-token-0123456789';
const ENV_TOKEN = 'environment-token-0123456789';

const agent = (keyLine: string) =>
  [
    'agent:',
    '  name: home',
    keyLine,
    'relays:',
    `  - { address: "r.example:7000", publicKey: "${RELAY_PUB}", psk: "${PSK}" }`,
    'mappings:',
    '  - { name: web, remotePort: 80, local: "127.0.0.1:8080" }',
    'admin:',
    `  token: "${TOKEN}"`,
  ].join('\n');

test('XNAT_PRIVATE_KEY replaces the profile key; XNAT_ADMIN_TOKEN replaces admin.token', (t) => {
  const plain = parseAgentProfile(agent(`  privateKey: "${KEY_PROFILE}"`), 'a.yaml', {});
  t.is(plain.agent.privateKey.toString('base64'), KEY_PROFILE);
  t.is(plain.admin!.token, TOKEN);
  const env = { XNAT_PRIVATE_KEY: KEY_ENV, XNAT_ADMIN_TOKEN: ENV_TOKEN };
  const over = parseAgentProfile(agent(`  privateKey: "${KEY_PROFILE}"`), 'a.yaml', env);
  t.is(over.agent.privateKey.toString('base64'), KEY_ENV);
  t.is(over.agent.privateKeySource, 'env');
  t.is(over.admin!.token, ENV_TOKEN);
});

test('XNAT_PRIVATE_KEY alone supplies a key the profile leaves out; an empty value does not count', (t) => {
  const p = parseAgentProfile(agent(''), 'a.yaml', { XNAT_PRIVATE_KEY: KEY_ENV });
  t.is(p.agent.privateKey.toString('base64'), KEY_ENV);
  const err = t.throws(() => parseAgentProfile(agent(''), 'a.yaml', { XNAT_PRIVATE_KEY: '' }));
  t.true(isXnatError(err, 'XNAT_ERR_CONFIG_INVALID'));
});

test('bad XNAT_PRIVATE_KEY: KEY_TEXT naming the variable, not its value', (t) => {
  const bad = 'not-a-key-but-a-secret';
  const err = t.throws(() => parseAgentProfile(agent(''), 'a.yaml', { XNAT_PRIVATE_KEY: bad }));
  t.true(isXnatError(err, 'XNAT_ERR_CONFIG_KEY_TEXT'));
  t.regex(err!.message, /XNAT_PRIVATE_KEY/);
  t.false(err!.message.includes(bad));
});

test('privateKeyFile is read relative to the profile folder', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'xnat-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'agent.key'), `${KEY_FILE}\n`);
  writeFileSync(join(dir, 'agent.yaml'), agent('  privateKeyFile: agent.key'));
  const p = loadAgentProfile(join(dir, 'agent.yaml'), {});
  t.is(p.agent.privateKey.toString('base64'), KEY_FILE);
  t.is(p.agent.privateKeySource, 'file');
  // The environment still wins over the file.
  t.is(
    loadAgentProfile(join(dir, 'agent.yaml'), { XNAT_PRIVATE_KEY: KEY_ENV }).agent.privateKeySource,
    'env',
  );
  // Bad file content is KEY_TEXT, without the content.
  writeFileSync(join(dir, 'agent.key'), 'garbage-secret-text');
  const err = t.throws(() => loadAgentProfile(join(dir, 'agent.yaml'), {}));
  t.true(isXnatError(err, 'XNAT_ERR_CONFIG_KEY_TEXT'));
  t.regex(err!.message, /agent\.privateKeyFile/);
  t.false(err!.message.includes('garbage-secret-text'));
});

test('redactProfile: no secret in the JSON, public values readable', (t) => {
  const p = parseAgentProfile(agent(`  privateKey: "${KEY_PROFILE}"`), 'a.yaml', {});
  const json = JSON.stringify(redactProfile(p));
  for (const secret of [KEY_PROFILE, PSK, TOKEN]) t.false(json.includes(secret), secret);
  t.true(json.includes(RELAY_PUB));
  t.true(json.includes('"r.example:7000"'));
  t.true(json.includes('[redacted]'));
  const withEnv = parseAgentProfile(agent(''), 'a.yaml', {
    XNAT_PRIVATE_KEY: KEY_ENV,
    XNAT_ADMIN_TOKEN: ENV_TOKEN,
  });
  const json2 = JSON.stringify(redactProfile(withEnv));
  t.false(json2.includes(KEY_ENV));
  t.false(json2.includes(ENV_TOKEN));
  // Base64 of the raw bytes under any spelling would also be a leak.
  t.false(json2.includes(Buffer.from(KEY_ENV, 'base64').toString('hex')));
});

test('redactProfile on a relay: private key and every agent psk redacted, allow as text', (t) => {
  const p = parseRelayProfile(
    [
      'relay:',
      `  privateKey: "${KEY_PROFILE}"`,
      '  listen: "[::1]:7000"',
      'agents:',
      `  - { name: a, publicKey: "${RELAY_PUB}", psk: "${PSK}", allow: ["2456-2458/udp", 25565/tcp] }`,
      'admin:',
      `  token: "${TOKEN}"`,
    ].join('\n'),
    'r.yaml',
    {},
  );
  const r = redactProfile(p) as {
    relay: { listen: string; privateKey: string };
    agents: { psk: string; allow: string[] }[];
    admin: { token: string };
  };
  t.is(r.relay.listen, '[::1]:7000');
  t.is(r.relay.privateKey, '[redacted]');
  t.is(r.agents[0]!.psk, '[redacted]');
  t.deepEqual(r.agents[0]!.allow, ['2456-2458/udp', '25565/tcp']);
  t.is(r.admin.token, '[redacted]');
  const json = JSON.stringify(r);
  for (const secret of [KEY_PROFILE, PSK, TOKEN]) t.false(json.includes(secret));
});
