// The shipped example profiles load, and a valid profile parses to the documented normalised values.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  isAllowed,
  loadAgentProfile,
  loadProfile,
  loadRelayProfile,
  parseAgentProfile,
  parseProfile,
  parseRelayProfile,
} from '../../src/config/index.ts';
import { isXnatError } from '../../src/errors.ts';

const PROFILES = resolve(import.meta.dirname, '..', '..', 'profiles');
const KEY = Buffer.alloc(32, 7).toString('base64');

test('every file in profiles/ loads, with an empty environment', (t) => {
  const files = readdirSync(PROFILES).filter((f) => f.endsWith('.yaml'));
  t.true(files.length >= 5);
  for (const f of files) {
    const p = loadProfile(join(PROFILES, f), {});
    t.is(p.source, join(PROFILES, f));
    t.true(p.kind === 'relay' || p.kind === 'agent', f);
  }
});

test('the example set is coherent: agents use the relay key, the relay knows every agent', (t) => {
  const relay = loadRelayProfile(join(PROFILES, 'relay.yaml'), {});
  for (const f of ['agent.yaml', 'minecraft.yaml', 'ssh.yaml', 'webapp.yaml', 'games.yaml']) {
    const agent = loadAgentProfile(join(PROFILES, f), {});
    const entry = relay.agents.find((a) => a.name === agent.agent.name);
    t.truthy(entry, `${f}: relay.yaml lists agent ${agent.agent.name}`);
    for (const m of agent.mappings) {
      if (m.remotePort !== 0) t.true(isAllowed(entry!.allow, m.protocol, m.remotePort), `${f}: ${m.name}`);
    }
  }
});

test('minecraft.yaml has a tcp and a udp mapping; ssh.yaml maps 22 to 2222', (t) => {
  const mc = loadAgentProfile(join(PROFILES, 'minecraft.yaml'), {});
  t.deepEqual(
    mc.mappings.map((m) => [m.protocol, m.remotePort]),
    [
      ['tcp', 25565],
      ['udp', 19132],
    ],
  );
  const ssh = loadAgentProfile(join(PROFILES, 'ssh.yaml'), {});
  t.is(ssh.mappings[0]!.remotePort, 2222);
  t.deepEqual(ssh.mappings[0]!.local, { host: '127.0.0.1', port: 22 });
});

test('loadRelayProfile refuses an agent profile and vice versa', (t) => {
  const e1 = t.throws(() => loadRelayProfile(join(PROFILES, 'agent.yaml'), {}));
  t.true(isXnatError(e1, 'XNAT_ERR_CONFIG_INVALID'));
  t.regex(e1!.message, /agent profile/);
  const e2 = t.throws(() => loadAgentProfile(join(PROFILES, 'relay.yaml'), {}));
  t.true(isXnatError(e2, 'XNAT_ERR_CONFIG_INVALID'));
});

test('a minimal relay profile gets every default', (t) => {
  const p = parseRelayProfile(`relay:\n  privateKey: "${KEY}"\n`, 'r.yaml', {});
  t.deepEqual(p.relay.listen, { host: '0.0.0.0', port: 7000 });
  t.deepEqual(p.relay.privateKey, Buffer.alloc(32, 7));
  t.is(p.relay.privateKeySource, 'profile');
  t.is(p.relay.resumeWindowMs, 120_000);
  t.is(p.relay.publicHost, '0.0.0.0');
  t.is(p.relay.handshakeTimeoutMs, 10_000);
  t.is(p.relay.maxPendingHandshakes, 64);
  t.is(p.relay.maxPendingHandshakesPerSource, 8);
  t.is(p.relay.firstMessageTimeoutMs, 3000);
  t.deepEqual(p.relay.cipherSuites, ['aes-256-gcm', 'chacha20-poly1305']);
  t.deepEqual(p.agents, []);
  t.is(p.admin, undefined);
  t.is(p.metrics, undefined);
  t.deepEqual(p.tuning, {
    replayBufferBytes: 8 * 1024 * 1024,
    streamWindowBytes: 256 * 1024,
    sessionWindowBytes: 16 * 1024 * 1024,
    maxStreams: 4096,
    keepaliveIntervalMs: 1000,
    keepaliveTimeoutMs: 2000,
    cipherBackend: 'auto',
    maxFlows: 4096,
    maxFlowsPerMapping: 4096,
    maxFlowsPerSource: 64,
    udpPath: 'auto',
    udpPathKeepaliveMs: 15_000,
  });
  t.deepEqual(p.log, { level: 'info' });
});

test('a minimal agent profile gets every default; udp mappings get the flow idle timeout', (t) => {
  const p = parseAgentProfile(
    [
      'agent:',
      '  name: home',
      `  privateKey: "${KEY}"`,
      'relays:',
      `  - { address: "[2001:db8::1]:7000", publicKey: "${KEY}" }`,
      'mappings:',
      '  - { name: game, protocol: udp, remotePort: 0, local: "10.0.0.2:2456" }',
      '  - { name: web, remotePort: 80, local: "nas.local:8080" }',
      'metrics:',
    ].join('\n'),
    'a.yaml',
    {},
  );
  t.deepEqual(p.relays[0]!.address, { host: '2001:db8::1', port: 7000 });
  t.is(p.relays[0]!.psk, undefined);
  t.deepEqual(p.mappings[0], {
    name: 'game',
    protocol: 'udp',
    remotePort: 0,
    local: { host: '10.0.0.2', port: 2456 },
    idleTimeoutMs: 60_000,
  });
  t.is(p.mappings[1]!.protocol, 'tcp');
  t.is(p.mappings[1]!.idleTimeoutMs, 3_600_000);
  t.deepEqual(p.reconnect, {
    initialDelayMs: 200,
    maxDelayMs: 10_000,
    replacedDelayMs: 30_000,
    authRetryDelayMs: 60_000,
  });
  t.is(p.tuning.cipher, 'auto');
  t.is(p.tuning.cipherBackend, 'auto');
  // An empty block means "on, with defaults".
  t.deepEqual(p.metrics, { listen: { host: '127.0.0.1', port: 9101 } });
});

test('durations and sizes are converted to ms and bytes', (t) => {
  const p = parseRelayProfile(
    [
      'relay:',
      `  privateKey: "${KEY}"`,
      '  listen: "[::]:0"',
      '  resumeWindow: 2m',
      '  handshakeTimeout: 1500ms',
      'tuning:',
      '  replayBuffer: 16MiB',
      '  streamWindow: 65536',
      '  keepaliveInterval: 250ms',
      '  keepaliveTimeout: 2s',
      '  cipherBackend: noble',
      'log: { level: debug }',
    ].join('\n'),
    'r.yaml',
    {},
  );
  t.deepEqual(p.relay.listen, { host: '::', port: 0 });
  t.is(p.relay.resumeWindowMs, 120_000);
  t.is(p.relay.handshakeTimeoutMs, 1500);
  t.is(p.tuning.replayBufferBytes, 16 * 1024 * 1024);
  t.is(p.tuning.streamWindowBytes, 65536);
  t.is(p.tuning.keepaliveIntervalMs, 250);
  t.is(p.tuning.keepaliveTimeoutMs, 2000);
  t.is(p.tuning.cipherBackend, 'noble');
  t.is(p.log.level, 'debug');
});

test('the examples in docs/profiles.md parse', (t) => {
  const doc = readFileSync(resolve(PROFILES, '..', 'docs', 'profiles.md'), 'utf8');
  const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
  // The examples use privateKeyFile; the environment variable takes its place, so no file is read.
  const env = { XNAT_PRIVATE_KEY: KEY };
  const whole = blocks.filter((b) => /^(relay|agent):/m.test(b));
  t.is(whole.length, 2);
  t.is(parseProfile(whole[0]!, 'docs/relay.yaml', env).kind, 'relay');
  t.is(parseProfile(whole[1]!, 'docs/agent.yaml', env).kind, 'agent');
  // A `mappings:` fragment (ranges, presets) parses inside a minimal agent profile.
  const fragments = blocks.filter((b) => b.startsWith('mappings:'));
  t.true(fragments.length >= 2);
  const head = `agent: { name: docs }\nrelays: [{ address: "vps.example.com:7000", publicKey: "${KEY}" }]\n`;
  for (const f of fragments)
    t.true(parseAgentProfile(head + f, 'docs/fragment.yaml', env).mappings.length > 1, f);
});
