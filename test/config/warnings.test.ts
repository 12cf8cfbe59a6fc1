// Profiles that load but are unsafe get warnings, like ssh's: a private key file, or a profile holding
// a secret inline, that other users may read. Modes 0600 (and secrets kept elsewhere) warn about nothing.
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAgentProfile, loadProfile, loadRelayProfile } from '../../src/config/index.ts';

const KEY_A = Buffer.alloc(32, 1).toString('base64');
const KEY_B = Buffer.alloc(32, 2).toString('base64');

const agentYaml = (keyLine: string, extra = '') =>
  [
    'agent:',
    '  name: home',
    keyLine,
    'relays:',
    `  - { address: "relay.example.com:7000", publicKey: "${KEY_B}"${extra} }`,
    'mappings:',
    '  - { name: web, remotePort: 8080, local: "127.0.0.1:80" }',
    '',
  ].join('\n');

function write(t: ExecutionContext, name: string, text: string, mode: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'xnat-warn-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode); // not through writeFileSync's mode: the umask would narrow it
  return path;
}

test('a private key file others may read gets a warning naming the file, the mode and the fix', (t) => {
  const profile = write(t, 'agent.yaml', agentYaml('  privateKeyFile: agent.key'), 0o644);
  const key = join(profile, '..', 'agent.key');
  writeFileSync(key, `${KEY_A}\n`);
  chmodSync(key, 0o644);
  const p = loadAgentProfile(profile, {});
  t.deepEqual(p.warnings, [
    `${key} holds a private key, and other users may read it (mode 0644): run chmod 600 ${key}`,
  ]);
  t.false(JSON.stringify(p.warnings).includes(KEY_A));
  chmodSync(key, 0o600);
  // The profile itself holds no secret (the key is in its own file): 0644 is fine for it.
  t.is(loadAgentProfile(profile, {}).warnings, undefined);
});

test('a profile holding a secret inline warns when others may read it; 0600 does not', (t) => {
  const inline = write(t, 'agent.yaml', agentYaml(`  privateKey: "${KEY_A}"`, `, psk: "${KEY_B}"`), 0o640);
  const w = loadProfile(inline, {}).warnings ?? [];
  t.is(w.length, 1);
  t.regex(w[0]!, /holds a private key and a psk, and other users may read it \(mode 0640\): run chmod 600 /);
  chmodSync(inline, 0o600);
  t.is(loadProfile(inline, {}).warnings, undefined);
});

test('a relay profile whose key comes from the environment and with no psk or admin block warns about nothing', (t) => {
  const relay = write(
    t,
    'relay.yaml',
    `relay:\n  listen: "0.0.0.0:7000"\nagents:\n  - { name: home, publicKey: "${KEY_B}", allow: ["2222/tcp"] }\n`,
    0o644,
  );
  t.is(loadRelayProfile(relay, { XNAT_PRIVATE_KEY: KEY_A }).warnings, undefined);
  const withToken = write(t, 'relay2.yaml', `relay:\nadmin:\n  token: "0123456789abcdef0123"\n`, 0o604);
  const w = loadRelayProfile(withToken, { XNAT_PRIVATE_KEY: KEY_A }).warnings ?? [];
  t.is(w.length, 1);
  t.regex(w[0]!, /holds the admin token, and other users may read it \(mode 0604\)/);
});
