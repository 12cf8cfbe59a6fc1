// Port ranges, tcp+udp and game presets in agent profiles (expanded into one mapping per port and
// protocol), their errors with file:line key.path, and tcp+udp allow entries on the relay.
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { parseAgentProfile, parseRelayProfile, type MappingProfile } from '../../src/config/index.ts';
import { MAX_MAPPINGS, MAX_PORTS_PER_RANGE } from '../../src/config/mapping-expand.ts';
import { PRESETS, PRESET_NAMES, suggestPreset } from '../../src/config/presets.ts';
import { isXnatError, type XnatError } from '../../src/errors.ts';

const KEY_A = Buffer.alloc(32, 1).toString('base64');
const KEY_B = Buffer.alloc(32, 2).toString('base64');

/** An agent profile whose mappings list is `lines` (mapping entries start on line 8). */
function agentYaml(...lines: string[]): string {
  return [
    'agent:', //                                        1
    '  name: home', //                                  2
    `  privateKey: "${KEY_A}"`, //                      3
    'relays:', //                                       4
    `  - address: "relay.example.com:7000"`, //         5
    `    publicKey: "${KEY_B}"`, //                     6
    'mappings:', //                                     7
    ...lines, //                                        8...
  ].join('\n');
}

const parse = (...lines: string[]) => parseAgentProfile(agentYaml(...lines), 'agent.yaml', {}).mappings;

function invalid(t: ExecutionContext, ...lines: string[]): string {
  const err = t.throws(() => parseAgentProfile(agentYaml(...lines), 'agent.yaml', {})) as XnatError;
  t.true(isXnatError(err, 'XNAT_ERR_CONFIG_INVALID'), err?.message);
  return err.detail ?? '';
}

/** [name, protocol, remotePort, local, idle] per mapping, for compact comparisons. */
const rows = (ms: readonly MappingProfile[]) =>
  ms.map((m) => [m.name, m.protocol, m.remotePort, `${m.local!.host}:${m.local!.port}`, m.idleTimeoutMs]);

test('a remotePort range maps port by port onto a local range of the same length', (t) => {
  const ms = parse(
    '  - name: game',
    '    protocol: udp',
    '    remotePort: 3456-3458',
    '    local: "192.168.1.20:2456-2458"',
  );
  t.deepEqual(rows(ms), [
    ['game.3456.udp', 'udp', 3456, '192.168.1.20:2456', 60_000],
    ['game.3457.udp', 'udp', 3457, '192.168.1.20:2457', 60_000],
    ['game.3458.udp', 'udp', 3458, '192.168.1.20:2458', 60_000],
  ]);
  // A bare host takes remotePort's ports; spaces around the dash are fine; A-A is one port, named plainly.
  t.deepEqual(rows(parse('  - { name: g, protocol: udp, remotePort: "2456 - 2457", local: "[::1]" }')), [
    ['g.2456.udp', 'udp', 2456, '::1:2456', 60_000],
    ['g.2457.udp', 'udp', 2457, '::1:2457', 60_000],
  ]);
  t.deepEqual(rows(parse('  - { name: g, remotePort: 80-80, local: "nas" }')), [
    ['g', 'tcp', 80, 'nas:80', 3_600_000],
  ]);
});

test('protocol tcp+udp: one tcp and one udp mapping on the same public and LAN port', (t) => {
  const ms = parse(
    '  - { name: voice, protocol: tcp+udp, remotePort: 9987, local: "10.0.0.5:9987", idleTimeout: 5m }',
  );
  t.deepEqual(rows(ms), [
    ['voice.9987.tcp', 'tcp', 9987, '10.0.0.5:9987', 300_000],
    ['voice.9987.udp', 'udp', 9987, '10.0.0.5:9987', 300_000],
  ]);
  // With a range: each port, both protocols.
  t.deepEqual(
    parse('  - { name: x, protocol: tcp+udp, remotePort: 5000-5001, local: "h:6000-6001" }').map(
      (m) => m.name,
    ),
    ['x.5000.tcp', 'x.5000.udp', 'x.5001.tcp', 'x.5001.udp'],
  );
});

test('mismatched ranges, a single local port for a range, and port 0 with tcp+udp are errors', (t) => {
  t.is(
    invalid(t, '  - name: g', '    remotePort: 2456-2458', '    local: "h:2456-2457"'),
    'agent.yaml:10 mappings[0].local: needs a range of 3 ports like remotePort 2456-2458 (host:2456-2458, mapped port by port)',
  );
  t.is(
    invalid(t, '  - name: g', '    remotePort: 2456-2458', '    local: "h:2456"'),
    'agent.yaml:10 mappings[0].local: needs a range of 3 ports like remotePort 2456-2458 (host:2456-2458, mapped port by port)',
  );
  t.is(
    invalid(t, '  - name: g', '    remotePort: 2456', '    local: "h:2456-2458"'),
    'agent.yaml:10 mappings[0].local: has 3 ports; remotePort 2456 has 1 (write a range in both)',
  );
  t.is(
    invalid(t, '  - { name: g, protocol: tcp+udp, remotePort: 0, local: "h:1" }'),
    'agent.yaml:8 mappings[0].remotePort: must be a fixed port with protocol tcp+udp (0 would give each protocol its own port)',
  );
  t.is(
    invalid(t, '  - { name: g, remotePort: 0, local: "h" }'),
    'agent.yaml:8 mappings[0].local: needs a port when remotePort is 0',
  );
  for (const [text, reason] of [
    ['"2458-2456"', 'range start must not exceed its end'],
    ['"0-3"', 'ports must be 1..65535'],
    ['"1-70000"', 'ports must be 1..65535'],
    ['"1-2-3"', 'must be an integer 0..65535 or a range such as 2456-2458'],
    ['2456.5', 'must be an integer 0..65535'],
  ] as const)
    t.is(
      invalid(t, '  - name: g', `    remotePort: ${text}`, '    local: "h:1"'),
      `agent.yaml:9 mappings[0].remotePort: ${reason}`,
      text,
    );
  t.is(
    invalid(t, '  - name: g', '    remotePort: 1', '    local: "h:5-4"'),
    'agent.yaml:10 mappings[0].local: range start must not exceed its end',
  );
});

test(`a range holds at most ${MAX_PORTS_PER_RANGE} ports; an agent at most ${MAX_MAPPINGS} mappings`, (t) => {
  t.is(parse('  - { name: g, protocol: udp, remotePort: 20000-20063, local: "h" }').length, 64);
  t.is(
    invalid(t, '  - { name: g, protocol: udp, remotePort: 20000-20064, local: "h" }'),
    'agent.yaml:8 mappings[0].remotePort: a range of 65 ports; at most 64 per mapping',
  );
  // 2 entries x 64 ports x 2 protocols = 256 fit; one port more does not.
  const fit = [0, 1].map(
    (k) =>
      `  - { name: g${k}, protocol: tcp+udp, remotePort: ${20000 + k * 64}-${20063 + k * 64}, local: "h" }`,
  );
  t.is(parse(...fit).length, 256);
  t.is(
    invalid(t, ...fit, '  - { name: extra, remotePort: 1, local: "h" }'),
    'agent.yaml:7 mappings: expand to 257 mappings (ranges and tcp+udp count each port and protocol); at most 256',
  );
});

test('overlapping ranges are refused once per pair; another protocol or port 0 does not clash', (t) => {
  t.is(
    invalid(
      t,
      '  - { name: a, protocol: udp, remotePort: 2456-2458, local: "h" }',
      '  - { name: b, protocol: udp, remotePort: 2458-2460, local: "h" }',
    ),
    'agent.yaml:9 mappings[1].remotePort: 2458/udp is also claimed by entry [0]',
  );
  t.is(
    invalid(
      t,
      '  - { name: a, protocol: tcp+udp, remotePort: 27015, local: "h" }',
      '  - { name: b, protocol: tcp, remotePort: 27015, local: "h" }',
    ),
    'agent.yaml:9 mappings[1].remotePort: 27015/tcp is also claimed by entry [0]',
  );
  t.is(
    invalid(t, '  - { preset: valheim }', '  - { name: mine, protocol: udp, remotePort: 2457, local: "h" }'),
    'agent.yaml:9 mappings[1].remotePort: 2457/udp is also claimed by entry [0]',
  );
  t.notThrows(() =>
    parse(
      '  - { name: a, protocol: udp, remotePort: 2456-2458, local: "h" }',
      '  - { name: b, protocol: tcp, remotePort: 2456-2458, local: "h" }',
      '  - { name: c, remotePort: 0, local: "h:1" }',
      '  - { name: d, remotePort: 0, local: "h:2" }',
    ),
  );
});

test('every preset sets its ports, protocol and idle timeouts; local defaults to 127.0.0.1', (t) => {
  const expect: Record<string, unknown[][]> = {
    valheim: [
      ['valheim.2456.udp', 'udp', 2456, '127.0.0.1:2456', 120_000],
      ['valheim.2457.udp', 'udp', 2457, '127.0.0.1:2457', 120_000],
      ['valheim.2458.udp', 'udp', 2458, '127.0.0.1:2458', 120_000],
    ],
    palworld: [['palworld', 'udp', 8211, '127.0.0.1:8211', 120_000]],
    bedrock: [['bedrock', 'udp', 19132, '127.0.0.1:19132', 60_000]],
    minecraft: [['minecraft', 'tcp', 25565, '127.0.0.1:25565', 300_000]],
    factorio: [['factorio', 'udp', 34197, '127.0.0.1:34197', 60_000]],
    cs2: [
      ['cs2.27015.tcp', 'tcp', 27015, '127.0.0.1:27015', 3_600_000],
      ['cs2.27015.udp', 'udp', 27015, '127.0.0.1:27015', 120_000],
    ],
    terraria: [['terraria', 'tcp', 7777, '127.0.0.1:7777', 3_600_000]],
    wireguard: [['wireguard', 'udp', 51820, '127.0.0.1:51820', 180_000]],
  };
  for (const [name, want] of Object.entries(expect))
    t.deepEqual(rows(parse(`  - preset: ${name}`)), want, name);
  t.deepEqual(Object.keys(expect).concat('generic'), PRESET_NAMES);
  t.deepEqual(rows(parse('  - { preset: generic, remotePort: 7000, local: "10.0.0.9" }')), [
    ['generic.7000.tcp', 'tcp', 7000, '10.0.0.9:7000', 3_600_000],
    ['generic.7000.udp', 'udp', 7000, '10.0.0.9:7000', 120_000],
  ]);
  t.is(
    invalid(t, '  - preset: generic'),
    'agent.yaml:8 mappings[0].remotePort: required: preset generic has no default port',
  );
  t.is(PRESETS.valheim.ports.to - PRESETS.valheim.ports.from, 2);
});

test('explicit keys override a preset', (t) => {
  // Another public range: the LAN side keeps the server's default ports.
  t.deepEqual(
    rows(parse('  - { preset: valheim, name: viking, remotePort: 3456-3458, local: "192.168.1.20" }')),
    [
      ['viking.3456.udp', 'udp', 3456, '192.168.1.20:2456', 120_000],
      ['viking.3457.udp', 'udp', 3457, '192.168.1.20:2457', 120_000],
      ['viking.3458.udp', 'udp', 3458, '192.168.1.20:2458', 120_000],
    ],
  );
  // A server started on other ports, a longer timeout, one protocol of two.
  t.deepEqual(
    rows(parse('  - { preset: cs2, local: "h:27115", remotePort: 27115, protocol: udp, idleTimeout: 10m }')),
    [['cs2', 'udp', 27115, 'h:27115', 600_000]],
  );
  // Port 0: the relay picks the public port, the LAN side keeps the preset's.
  t.deepEqual(rows(parse('  - { preset: minecraft, remotePort: 0 }')), [
    ['minecraft', 'tcp', 0, '127.0.0.1:25565', 300_000],
  ]);
  // A preset's range cut to one port needs the local side cut too.
  t.is(
    invalid(t, '  - { preset: valheim, remotePort: 2456 }'),
    'agent.yaml:8 mappings[0].local: has 3 ports; remotePort 2456 has 1 (write a range in both)',
  );
  t.deepEqual(rows(parse('  - { preset: valheim, remotePort: 2456, local: "h:2456" }')), [
    ['valheim', 'udp', 2456, 'h:2456', 120_000],
  ]);
  // Two entries of one preset need names of their own.
  t.is(
    invalid(t, '  - { preset: terraria }', '  - { preset: terraria, remotePort: 7778, local: "h:7777" }'),
    'agent.yaml:9 mappings[1].name: same name as entry [0]',
  );
});

test('unknown presets get the list and a did-you-mean; missing keys without a preset are required', (t) => {
  t.is(
    invalid(t, '  - preset: valhiem'),
    `agent.yaml:8 mappings[0].preset: must be one of ${PRESET_NAMES.join(', ')}; did you mean valheim?`,
  );
  t.is(
    invalid(t, '  - preset: quake'),
    `agent.yaml:8 mappings[0].preset: must be one of ${PRESET_NAMES.join(', ')}`,
  );
  t.is(suggestPreset('Minecraf'), 'minecraft');
  t.is(suggestPreset('wire'), 'wireguard');
  t.is(suggestPreset('cs'), 'cs2');
  t.is(suggestPreset(''), undefined);
  t.is(
    invalid(t, '  - protocol: udp'),
    'agent.yaml:8 mappings[0].name: required; agent.yaml:8 mappings[0].remotePort: required; agent.yaml:8 mappings[0].local: required',
  );
});

test('relay allow entries: ranges and tcp+udp (one entry, two ranges)', (t) => {
  const relay = (allow: string) =>
    parseRelayProfile(
      `relay:\n  privateKey: "${KEY_A}"\nagents:\n  - name: a\n    publicKey: "${KEY_B}"\n    allow: ${allow}\n`,
      'relay.yaml',
      {},
    );
  t.deepEqual(relay('["2456-2458/udp", "27015/tcp+udp", "8000-8001/TCP + UDP"]').agents[0]!.allow, [
    { protocol: 'udp', from: 2456, to: 2458 },
    { protocol: 'tcp', from: 27015, to: 27015 },
    { protocol: 'udp', from: 27015, to: 27015 },
    { protocol: 'tcp', from: 8000, to: 8001 },
    { protocol: 'udp', from: 8000, to: 8001 },
  ]);
  for (const [bad, reason] of [
    ['"5-4/tcp+udp"', 'range start must not exceed its end'],
    ['"80/udp+tcp"', 'must be "PORT/tcp", "PORT/udp" or "FROM-TO/proto"'],
    ['"70000/tcp+udp"', 'ports must be 1..65535'],
  ] as const) {
    const err = t.throws(() => relay(`[${bad}]`)) as XnatError;
    t.is(err.detail, `relay.yaml:6 agents[0].allow[0]: ${reason}`, bad);
  }
  // A tcp+udp entry covering the relay's own tcp port is refused like a tcp one.
  const err = t.throws(() => relay('["6999-7001/tcp+udp"]')) as XnatError;
  t.regex(err.detail!, /^relay\.yaml:6 agents\[0\]\.allow\[0\]: covers relay\.listen/);
});
