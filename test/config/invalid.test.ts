// Every kind of invalid profile gets its own typed error naming the file, the key path and the line.
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProfile, parseAgentProfile, parseProfile, parseRelayProfile } from '../../src/config/index.ts';
import { isXnatError, type ErrorCode, type XnatError } from '../../src/errors.ts';

const KEY_A = Buffer.alloc(32, 1).toString('base64');
const KEY_B = Buffer.alloc(32, 2).toString('base64');

/** A valid agent profile; `extra` lines are appended (they may add mappings to the list). */
function agentYaml(...extra: string[]): string {
  return [
    'agent:', //                                        1
    '  name: home', //                                  2
    `  privateKey: "${KEY_A}"`, //                      3
    'relays:', //                                       4
    `  - address: "relay.example.com:7000"`, //         5
    `    publicKey: "${KEY_B}"`, //                     6
    'mappings:', //                                     7
    '  - name: web', //                                 8
    '    remotePort: 8080', //                          9
    '    local: "127.0.0.1:80"', //                     10
    ...extra, //                                        11...
  ].join('\n');
}

function relayYaml(...extra: string[]): string {
  return ['relay:', `  privateKey: "${KEY_A}"`, 'agents:', ...extra].join('\n');
}

function fails(t: ExecutionContext, fn: () => unknown, code: ErrorCode): XnatError {
  const err = t.throws(fn);
  t.true(
    isXnatError(err, code),
    `expected ${code}, got ${(err as XnatError | undefined)?.code}: ${err?.message}`,
  );
  return err as XnatError;
}

test('sanity: the base fixtures are valid', (t) => {
  t.notThrows(() => parseAgentProfile(agentYaml(), 'agent.yaml', {}));
  t.notThrows(() =>
    parseRelayProfile(relayYaml(`  - { name: a, publicKey: "${KEY_B}", allow: [1/tcp] }`), 'r.yaml', {}),
  );
});

test('unknown key: named with its path and line', (t) => {
  const err = fails(
    t,
    () => parseAgentProfile(agentYaml('    colour: red'), 'agent.yaml', {}),
    'XNAT_ERR_CONFIG_INVALID',
  );
  t.is(err.detail, 'agent.yaml:11 mappings[0].colour: unknown key');
  const top = fails(
    t,
    () => parseAgentProfile(agentYaml('relay_typo: 1'), 'agent.yaml', {}),
    'XNAT_ERR_CONFIG_INVALID',
  );
  t.is(top.detail, 'agent.yaml:11 relay_typo: unknown key');
});

test('bad key text: KEY_TEXT with the path and line, never the text', (t) => {
  const secret = 'c2VjcmV0LXNlY3JldC1zZWNyZXQ'; // base64 of 20 bytes: wrong length
  const text = agentYaml().replace(KEY_A, secret);
  const err = fails(t, () => parseAgentProfile(text, 'agent.yaml', {}), 'XNAT_ERR_CONFIG_KEY_TEXT');
  t.regex(err.message, /agent\.yaml:3 agent\.privateKey:/);
  t.false(err.message.includes(secret));
  t.false(JSON.stringify(err).includes(secret));
  const notBase64 = agentYaml().replace(KEY_B, 'hunter2 hunter2 hunter2!');
  const err2 = fails(t, () => parseAgentProfile(notBase64, 'agent.yaml', {}), 'XNAT_ERR_CONFIG_KEY_TEXT');
  t.regex(err2.message, /agent\.yaml:6 relays\[0\]\.publicKey:/);
  t.false(err2.message.includes('hunter2'));
});

test('bad port and range: allow entries, remotePort, local', (t) => {
  const backwards = relayYaml(`  - name: a`, `    publicKey: "${KEY_B}"`, `    allow: ["2458-2456/udp"]`);
  const e1 = fails(t, () => parseRelayProfile(backwards, 'relay.yaml', {}), 'XNAT_ERR_CONFIG_INVALID');
  t.is(e1.detail, 'relay.yaml:6 agents[0].allow[0]: range start must not exceed its end');
  for (const entry of ['0/tcp', '70000/tcp', '80/sctp', '80', '1-65536/udp']) {
    const y = relayYaml(`  - name: a`, `    publicKey: "${KEY_B}"`, `    allow: ["${entry}"]`);
    const e = fails(t, () => parseRelayProfile(y, 'relay.yaml', {}), 'XNAT_ERR_CONFIG_INVALID');
    t.regex(e.detail!, /^relay\.yaml:6 agents\[0\]\.allow\[0\]: /, entry);
  }
  const bigPort = agentYaml().replace('remotePort: 8080', 'remotePort: 65536');
  const e2 = fails(t, () => parseAgentProfile(bigPort, 'agent.yaml', {}), 'XNAT_ERR_CONFIG_INVALID');
  t.is(e2.detail, 'agent.yaml:9 mappings[0].remotePort: must be an integer 0..65535');
  const zeroLocal = agentYaml().replace('127.0.0.1:80', '127.0.0.1:0');
  const e3 = fails(t, () => parseAgentProfile(zeroLocal, 'agent.yaml', {}), 'XNAT_ERR_CONFIG_INVALID');
  t.is(e3.detail, 'agent.yaml:10 mappings[0].local: port must be 1..65535');
  const v6 = agentYaml().replace('relay.example.com:7000', '2001:db8::1:7000');
  const e4 = fails(t, () => parseAgentProfile(v6, 'agent.yaml', {}), 'XNAT_ERR_CONFIG_INVALID');
  t.regex(e4.detail!, /^agent\.yaml:5 relays\[0\]\.address: .*brackets/);
});

test('duplicate mapping name', (t) => {
  const y = agentYaml('  - name: web', '    remotePort: 8081', '    local: "127.0.0.1:81"');
  const err = fails(t, () => parseAgentProfile(y, 'agent.yaml', {}), 'XNAT_ERR_CONFIG_INVALID');
  t.is(err.detail, 'agent.yaml:11 mappings[1].name: same name as entry [0]');
});

test('duplicate remote port for the same protocol; not for another protocol or port 0', (t) => {
  const y = agentYaml('  - name: web2', '    remotePort: 8080', '    local: "127.0.0.1:81"');
  const err = fails(t, () => parseAgentProfile(y, 'agent.yaml', {}), 'XNAT_ERR_CONFIG_INVALID');
  t.is(err.detail, 'agent.yaml:12 mappings[1].remotePort: same remotePort and protocol as entry [0]');
  const udp = agentYaml(
    '  - name: web2',
    '    protocol: udp',
    '    remotePort: 8080',
    '    local: "127.0.0.1:81"',
  );
  t.notThrows(() => parseAgentProfile(udp, 'agent.yaml', {}));
  const zeros = agentYaml(
    '  - { name: a, remotePort: 0, local: "h:1" }',
    '  - { name: b, remotePort: 0, local: "h:2" }',
  );
  t.notThrows(() => parseAgentProfile(zeros, 'agent.yaml', {}));
});

test('duplicate agent names and keys on the relay', (t) => {
  const y = relayYaml(
    `  - { name: a, publicKey: "${KEY_B}", allow: [1/tcp] }`,
    `  - { name: a, publicKey: "${KEY_B}", allow: [2/tcp] }`,
  );
  const err = fails(t, () => parseRelayProfile(y, 'relay.yaml', {}), 'XNAT_ERR_CONFIG_INVALID');
  t.is(
    err.detail,
    'relay.yaml:5 agents[1].name: same name as entry [0]; relay.yaml:5 agents[1].publicKey: same key as entry [0]',
  );
});

test('admin token too short (profile and env)', (t) => {
  const y = agentYaml('admin:', '  token: "0123456789abcde"');
  const err = fails(t, () => parseAgentProfile(y, 'agent.yaml', {}), 'XNAT_ERR_CONFIG_INVALID');
  t.is(err.detail, 'agent.yaml:12 admin.token: must be at least 16 characters');
  t.false(err.message.includes('0123456789abcde'));
  const env = fails(
    t,
    () => parseAgentProfile(y, 'agent.yaml', { XNAT_ADMIN_TOKEN: 'short' }),
    'XNAT_ERR_CONFIG_INVALID',
  );
  t.is(env.detail, 'environment XNAT_ADMIN_TOKEN: must be at least 16 characters');
  const none = fails(
    t,
    () => parseAgentProfile(agentYaml('admin: {}'), 'agent.yaml', {}),
    'XNAT_ERR_CONFIG_INVALID',
  );
  t.regex(none.detail!, /^agent\.yaml:11 admin\.token: required/);
});

test('idleTimeout on a tcp mapping: parsed, defaulting to 1 h, and range-checked', (t) => {
  const ok = parseAgentProfile(agentYaml('    idleTimeout: 30s'), 'agent.yaml', {});
  t.is(ok.mappings[0]!.idleTimeoutMs, 30_000);
  t.is(parseAgentProfile(agentYaml(), 'agent.yaml', {}).mappings[0]!.idleTimeoutMs, 3_600_000);
  const err = fails(
    t,
    () => parseAgentProfile(agentYaml('    idleTimeout: 10ms'), 'agent.yaml', {}),
    'XNAT_ERR_CONFIG_INVALID',
  );
  t.regex(err.detail!, /^agent\.yaml:11 mappings\[0\]\.idleTimeout: /);
});

test('YAML syntax error: CONFIG_YAML with the line', (t) => {
  const broken = agentYaml('  - name: [unclosed', '    remotePort: 1');
  const err = fails(t, () => parseAgentProfile(broken, 'agent.yaml', {}), 'XNAT_ERR_CONFIG_YAML');
  t.regex(err.detail!, /^agent\.yaml:1[12] /);
  const dup = fails(
    t,
    () => parseAgentProfile(agentYaml('agent: {}'), 'agent.yaml', {}),
    'XNAT_ERR_CONFIG_YAML',
  );
  t.regex(dup.detail!, /^agent\.yaml:11 /);
  // The offending line may hold a secret: the message never quotes it.
  const tab = agentYaml().replace(`  privateKey: "${KEY_A}"`, `  privateKey: "${KEY_A}`);
  const e3 = fails(t, () => parseAgentProfile(tab, 'agent.yaml', {}), 'XNAT_ERR_CONFIG_YAML');
  t.false(e3.message.includes(KEY_A));
});

test('wrong types, missing keys and out-of-range values', (t) => {
  const cases: [string, string][] = [
    [
      // Text is for ranges only: a quoted number is still a type error.
      agentYaml().replace('remotePort: 8080', 'remotePort: "8080"'),
      'agent.yaml:9 mappings[0].remotePort: must be an integer 0..65535 or a range such as 2456-2458',
    ],
    [agentYaml().replace('    remotePort: 8080\n', ''), 'agent.yaml:8 mappings[0].remotePort: required'],
    [
      agentYaml('reconnect: { initialDelay: 200 }'),
      'agent.yaml:11 reconnect.initialDelay: must be a duration with a unit, e.g. 250ms, 120s, 2m',
    ],
    [agentYaml('tuning: { replayBuffer: 1KiB }'), 'agent.yaml:11 tuning.replayBuffer: must be 64KiB..1GiB'],
    [
      agentYaml('tuning: { keepaliveInterval: 5s, keepaliveTimeout: 5s }'),
      'agent.yaml:11 tuning.keepaliveTimeout: must be longer than tuning.keepaliveInterval',
    ],
    [
      agentYaml('log: { level: loud }'),
      'agent.yaml:11 log.level: must be one of trace, debug, info, warn, error, fatal',
    ],
    [agentYaml('    protocol: sctp'), 'agent.yaml:11 mappings[0].protocol: must be tcp, udp or tcp+udp'],
    [
      agentYaml().replace('name: web', 'name: Web_1'),
      'agent.yaml:8 mappings[0].name: must be 1-32 characters of a-z, 0-9 and -',
    ],
    [
      agentYaml('mappings: []').replace(
        'mappings:\n  - name: web\n    remotePort: 8080\n    local: "127.0.0.1:80"\n',
        '',
      ),
      'agent.yaml:7 mappings: must have at least one entry',
    ],
  ];
  for (const [yaml, detail] of cases) {
    const err = fails(t, () => parseAgentProfile(yaml, 'agent.yaml', {}), 'XNAT_ERR_CONFIG_INVALID');
    t.is(err.detail, detail);
  }
  const relay = fails(
    t,
    () => parseRelayProfile(`relay:\n  privateKey: "${KEY_A}"\n  resumeWindow: 25h\n`, 'r.yaml', {}),
    'XNAT_ERR_CONFIG_INVALID',
  );
  t.is(relay.detail, 'r.yaml:3 relay.resumeWindow: must be 1s..24h');
});

test('listen ports that clash, and allow ranges that cover the relay port', (t) => {
  const y = `relay:\n  privateKey: "${KEY_A}"\nadmin: { listen: "127.0.0.1:7000", token: "${'t'.repeat(16)}" }\n`;
  const err = fails(t, () => parseRelayProfile(y, 'r.yaml', {}), 'XNAT_ERR_CONFIG_INVALID');
  t.is(err.detail, 'r.yaml:3 admin.listen: port 7000 is also used by relay.listen');
  const cover = relayYaml(`  - { name: a, publicKey: "${KEY_B}", allow: ["6000-8000/tcp"] }`);
  const e2 = fails(t, () => parseRelayProfile(cover, 'r.yaml', {}), 'XNAT_ERR_CONFIG_INVALID');
  t.regex(e2.detail!, /^r\.yaml:4 agents\[0\]\.allow\[0\]: covers relay\.listen/);
  // The UDP path listens on the control port's number: a udp range over it clashes, unless the path is off.
  const udp = relayYaml(`  - { name: a, publicKey: "${KEY_B}", allow: ["7000/udp"] }`);
  const e3 = fails(t, () => parseRelayProfile(udp, 'r.yaml', {}), 'XNAT_ERR_CONFIG_INVALID');
  t.regex(e3.detail!, /^r\.yaml:4 agents\[0\]\.allow\[0\]: covers relay\.listen/);
  t.notThrows(() => parseRelayProfile(`${udp}\ntuning: { udpPath: "off" }\n`, 'r.yaml', {}));
  // Port 0 (tests) never clashes.
  const zeros = `relay:\n  privateKey: "${KEY_A}"\n  listen: "127.0.0.1:0"\nmetrics: { listen: "127.0.0.1:0" }\n`;
  t.notThrows(() => parseRelayProfile(zeros, 'r.yaml', {}));
});

test('private key sources: none, or both in the profile', (t) => {
  const none = agentYaml().replace(`  privateKey: "${KEY_A}"\n`, '');
  const e1 = fails(t, () => parseAgentProfile(none, 'agent.yaml', {}), 'XNAT_ERR_CONFIG_INVALID');
  t.regex(e1.detail!, /^agent\.yaml:1 agent\.privateKey: required/);
  const both = agentYaml().replace('  name: home', '  name: home\n  privateKeyFile: k.key');
  const e2 = fails(t, () => parseAgentProfile(both, 'agent.yaml', {}), 'XNAT_ERR_CONFIG_INVALID');
  t.is(e2.detail, 'agent.yaml:3 agent.privateKeyFile: set privateKey or privateKeyFile, not both');
});

test('unreadable files: CONFIG_READ', (t) => {
  fails(t, () => loadProfile('/nonexistent/xnat/agent.yaml', {}), 'XNAT_ERR_CONFIG_READ');
  const dir = mkdtempSync(join(tmpdir(), 'xnat-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'agent.yaml');
  writeFileSync(file, agentYaml().replace(`privateKey: "${KEY_A}"`, 'privateKeyFile: missing.key'));
  const err = fails(t, () => loadProfile(file, {}), 'XNAT_ERR_CONFIG_READ');
  t.true(err.message.includes(join(dir, 'missing.key')));
  t.regex(err.message, /agent\.yaml:3 agent\.privateKeyFile: cannot read/);
});

test('documents that are not profiles', (t) => {
  fails(t, () => parseProfile('', 'e.yaml', {}), 'XNAT_ERR_CONFIG_INVALID');
  fails(t, () => parseProfile('- 1\n', 'e.yaml', {}), 'XNAT_ERR_CONFIG_INVALID');
  fails(t, () => parseProfile('log: { level: info }\n', 'e.yaml', {}), 'XNAT_ERR_CONFIG_INVALID');
  const both = fails(
    t,
    () => parseProfile('relay: {}\nagent: {}\n', 'e.yaml', {}),
    'XNAT_ERR_CONFIG_INVALID',
  );
  t.regex(both.detail!, /not both/);
});

test('cipher keys: suites and backends by their own names, tuning.cipher is agent only', (t) => {
  const agentCipher = (v: string) =>
    parseAgentProfile(agentYaml('tuning:', `  cipher: ${v}`), 'agent.yaml', {});
  t.is(agentCipher('aes-256-gcm').tuning.cipher, 'aes-256-gcm');
  t.is(agentCipher('chacha20-poly1305').tuning.cipher, 'chacha20-poly1305');
  // The backend names the key used to take before suites existed.
  const old = fails(t, () => agentCipher('noble'), 'XNAT_ERR_CONFIG_INVALID');
  t.is(
    old.detail,
    'agent.yaml:12 tuning.cipher: must be one of auto, aes-256-gcm, chacha20-poly1305 (the backend is tuning.cipherBackend)',
  );
  const relayWith = (...lines: string[]) =>
    parseRelayProfile(['relay:', `  privateKey: "${KEY_A}"`, ...lines].join('\n'), 'r.yaml', {});
  const onRelay = fails(t, () => relayWith('tuning:', '  cipher: auto'), 'XNAT_ERR_CONFIG_INVALID');
  t.regex(
    onRelay.detail ?? '',
    /r\.yaml:4 tuning\.cipher: is agent only; on a relay use tuning\.cipherBackend/,
  );
  t.deepEqual(relayWith('  cipherSuites: [chacha20-poly1305, chacha20-poly1305]').relay.cipherSuites, [
    'chacha20-poly1305',
  ]);
  const none = fails(t, () => relayWith('  cipherSuites: []'), 'XNAT_ERR_CONFIG_INVALID');
  t.is(none.detail, 'r.yaml:3 relay.cipherSuites: must have at least one entry');
  const bad = fails(t, () => relayWith('  cipherSuites: [aes-128-gcm]'), 'XNAT_ERR_CONFIG_INVALID');
  t.is(bad.detail, 'r.yaml:3 relay.cipherSuites[0]: must be aes-256-gcm or chacha20-poly1305');
  t.is(relayWith('tuning:', '  cipherBackend: noble').tuning.cipherBackend, 'noble');
});
