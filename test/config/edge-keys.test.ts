// The public-edge keys of profiles: weight, proxyProtocol, bandwidth and compress on agent mappings,
// agents[].bandwidth and the visitors block on the relay; parsed values and the errors of bad ones.
import test from 'ava';
import { parseAgentProfile, parseRelayProfile } from '../../src/config/index.ts';
import { isXnatError } from '../../src/errors.ts';

const KEY = Buffer.alloc(32, 1).toString('base64');

function agent(mapping: string[]): string {
  return [
    'agent: { name: home, privateKey: "' + KEY + '" }',
    `relays: [{ address: "r.example:7000", publicKey: "${KEY}" }]`,
    'mappings:',
    '  - name: web',
    '    remotePort: 0',
    '    local: "127.0.0.1:80"',
    ...mapping.map((l) => `    ${l}`),
  ].join('\n');
}

function relay(lines: string[]): string {
  return [
    `relay: { privateKey: "${KEY}" }`,
    'agents:',
    `  - { name: home, publicKey: "${KEY}", allow: ["80/tcp"] }`,
    ...lines,
  ].join('\n');
}

test('agent mapping keys parse; absent ones stay absent', (t) => {
  const m = parseAgentProfile(
    agent([
      'weight: 3',
      'proxyProtocol: v1',
      'compress: deflate',
      'bandwidth: { up: 1MiB, down: 512KiB, burst: 64KiB }',
    ]),
    'a.yaml',
    {},
  ).mappings[0]!;
  t.like(m, {
    weight: 3,
    proxyProtocol: 'v1',
    compress: 'deflate',
    bandwidth: { upBytesPerSec: 1024 * 1024, downBytesPerSec: 512 * 1024, burstBytes: 64 * 1024 },
  });
  const plain = parseAgentProfile(agent(['compress: none']), 'a.yaml', {}).mappings[0]!;
  t.false('weight' in plain || 'proxyProtocol' in plain || 'compress' in plain || 'bandwidth' in plain);
});

test('bad agent mapping keys are refused with their path', (t) => {
  for (const [lines, path] of [
    [['weight: 0'], 'mappings[0].weight'],
    [['proxyProtocol: v3'], 'mappings[0].proxyProtocol'],
    [['protocol: udp', 'proxyProtocol: v1'], 'mappings[0].proxyProtocol'],
    [['protocol: udp', 'compress: deflate'], 'mappings[0].compress'],
    [['compress: gzip'], 'mappings[0].compress'],
    [['bandwidth: { up: 10 }'], 'mappings[0].bandwidth.up'],
  ] as const) {
    const err = t.throws(() => parseAgentProfile(agent([...lines]), 'a.yaml', {}));
    t.true(isXnatError(err, 'XNAT_ERR_CONFIG_INVALID'), String(err));
    t.true(
      err!.message.includes(path) || String((err as { detail?: string }).detail).includes(path),
      `${lines.join('; ')}: ${err!.message}`,
    );
  }
});

test('the visitors block and agents[].bandwidth parse; CIDR text of both families', (t) => {
  const p = parseRelayProfile(
    relay([
      'visitors:',
      '  allow: ["0.0.0.0/0", "::/0"]',
      '  deny: ["203.0.113.7", "2001:db8::/32"]',
      '  maxConnectionsPerSource: 8',
      '  rate: { connections: 5, per: 10s }',
      '  mappings:',
      '    - { name: web, maxConnections: 100, allow: ["10.0.0.0/8"] }',
    ]),
    'r.yaml',
    {},
  );
  t.deepEqual(
    p.visitors?.deny?.map((b) => [b.address, b.prefix, b.family]),
    [
      ['203.0.113.7', 32, 'ipv4'],
      ['2001:db8::', 32, 'ipv6'],
    ],
  );
  t.deepEqual(p.visitors?.rate, { connections: 5, perMs: 10_000, banMs: 60_000 });
  t.like(p.visitors?.mappings[0], { name: 'web', maxConnections: 100 });
  t.is(parseRelayProfile(relay([]), 'r.yaml', {}).visitors, undefined);
  const withBandwidth = relay([]).replace(
    'allow: ["80/tcp"] }',
    'allow: ["80/tcp"], bandwidth: { down: 10MiB } }',
  );
  t.deepEqual(parseRelayProfile(withBandwidth, 'r.yaml', {}).agents[0]!.bandwidth, {
    downBytesPerSec: 10 * 1024 * 1024,
  });
});

test('bad visitor rules are refused', (t) => {
  for (const lines of [
    ['visitors: { deny: ["10.0.0.0/33"] }'],
    ['visitors: { deny: ["::/129"] }'],
    ['visitors: { allow: ["example.com"] }'],
    ['visitors: { rate: { connections: 0, per: 1s } }'],
    ['visitors: { mappings: [{ name: web }, { name: web }] }'],
    ['visitors: { surprise: 1 }'],
  ]) {
    const err = t.throws(() => parseRelayProfile(relay(lines), 'r.yaml', {}));
    t.true(isXnatError(err, 'XNAT_ERR_CONFIG_INVALID'), `${lines[0]}: ${String(err)}`);
  }
});

test('a tcp+udp range entry carries weight to every mapping, compress and bandwidth to the tcp ones', (t) => {
  const text = agent(['weight: 2', 'compress: deflate', 'bandwidth: { down: 1MiB }', 'proxyProtocol: v2'])
    .replace('remotePort: 0', 'remotePort: 2456-2457')
    .replace('"127.0.0.1:80"', '"127.0.0.1:2456-2457"')
    .replace('  - name: web', '  - name: web\n    protocol: tcp+udp');
  const ms = parseAgentProfile(text, 'a.yaml', {}).mappings;
  t.is(ms.length, 4);
  for (const m of ms) {
    t.like(m, { weight: 2, proxyProtocol: 'v2' });
    t.is(m.compress, m.protocol === 'tcp' ? 'deflate' : undefined, m.name);
    t.is(m.bandwidth === undefined, m.protocol === 'udp', m.name);
  }
  const v1 = text.replace('proxyProtocol: v2', 'proxyProtocol: v1');
  t.regex(t.throws(() => parseAgentProfile(v1, 'a.yaml', {}))!.message, /mappings\[0\]\.proxyProtocol/);
});

test('a handler mapping refuses the LAN-side keys', (t) => {
  for (const key of ['compress: deflate', 'proxyProtocol: v1', 'bandwidth: { up: 1MiB }']) {
    const text = agent([key]).replace('    local: "127.0.0.1:80"', '    handler: web');
    const err = t.throws(() => parseAgentProfile(text, 'a.yaml', {}));
    t.true(isXnatError(err, 'XNAT_ERR_CONFIG_INVALID'), String(err));
    t.regex(err!.message, new RegExp(`mappings\\[0\\]\\.${key.split(':')[0]!}`));
  }
});
