// Reverse mode's keys: relays[].mode and relays[].listen on the agent, agents[].dial and reconnect on the
// relay; what they parse to, and the error of each combination that means nothing.
import test, { type ExecutionContext } from 'ava';
import { parseAgentProfile, parseRelayProfile } from '../../src/config/index.ts';
import { isXnatError } from '../../src/errors.ts';

const KEY = Buffer.alloc(32, 1).toString('base64');
const KEY2 = Buffer.alloc(32, 2).toString('base64');

function agent(relays: string[], extra: string[] = []): string {
  return [
    `agent: { name: home, privateKey: "${KEY}" }`,
    'relays:',
    ...relays.map((r) => `  - { publicKey: "${KEY}", ${r} }`),
    'mappings: [{ name: web, remotePort: 0, local: "127.0.0.1:80" }]',
    ...extra,
  ].join('\n');
}

function relay(agents: string[], extra: string[] = []): string {
  return [`relay: { privateKey: "${KEY}" }`, 'agents:', ...agents, ...extra].join('\n');
}

/** The detail of the CONFIG_INVALID error `text` raises. */
function problem(t: ExecutionContext, parse: () => unknown): string {
  const err = t.throws(parse);
  t.true(isXnatError(err, 'XNAT_ERR_CONFIG_INVALID'), String(err));
  return String((err as { detail?: string }).detail ?? err?.message);
}

test('an agent relay in reverse mode listens, needs no address, and says so in its entry', (t) => {
  const p = parseAgentProfile(agent(['mode: reverse, listen: "0.0.0.0:7100"']), 'a.yaml', {});
  t.like(p.relays[0], { mode: 'reverse', listen: { host: '0.0.0.0', port: 7100 }, address: undefined });
  const d = parseAgentProfile(agent(['address: "r.example:7000"']), 'a.yaml', {});
  t.like(d.relays[0], { mode: 'dial', address: { host: 'r.example', port: 7000 } });
  t.false('listen' in d.relays[0]!);
  // An address beside reverse mode is kept (the UDP path and shown public addresses use it).
  const both = parseAgentProfile(
    agent(['mode: reverse, listen: "127.0.0.1:0", address: "r.example:7000"']),
    'a.yaml',
    {},
  );
  t.like(both.relays[0], { mode: 'reverse', address: { port: 7000 }, listen: { port: 0 } });
});

test('nonsense combinations of mode, listen and address are refused with the key to fix', (t) => {
  const cases: Array<[string[], string[], RegExp]> = [
    [['mode: reverse'], [], /relays\[0\]\.listen.*required with mode: reverse/],
    [
      ['address: "r.example:7000", listen: "0.0.0.0:7100"'],
      [],
      /relays\[0\]\.listen.*only with mode: reverse/,
    ],
    [['psk: "' + KEY2 + '"'], [], /relays\[0\]\.address.*required.*unless mode: reverse/],
    [['mode: sideways, listen: "0.0.0.0:7100"'], [], /relays\[0\]\.mode.*dial or reverse/],
    [
      ['mode: reverse, listen: "0.0.0.0:7100"', 'mode: reverse, listen: "127.0.0.1:7100"'],
      [],
      /relays\[1\]\.listen.*port 7100 is also used by relays\[0\]\.listen/,
    ],
    [
      ['mode: reverse, listen: "127.0.0.1:7002"'],
      ['admin: { listen: "127.0.0.1:7002", token: "0123456789abcdef0123" }'],
      /port 7002 is also used by relays\[0\]\.listen/,
    ],
  ];
  for (const [relays, extra, want] of cases) {
    const detail = problem(t, () => parseAgentProfile(agent(relays, extra), 'a.yaml', {}));
    t.regex(detail, want, relays.join(' | '));
  }
});

test('a relay agent entry with dial parses; reconnect has the agent defaults', (t) => {
  const p = parseRelayProfile(
    relay([`  - { name: home, publicKey: "${KEY}", allow: ["80/tcp"], dial: "home.example:7100" }`]),
    'r.yaml',
    {},
  );
  t.deepEqual(p.agents[0]!.dial, { host: 'home.example', port: 7100 });
  t.deepEqual(p.reconnect, { initialDelayMs: 200, maxDelayMs: 10_000, authRetryDelayMs: 60_000 });
  const q = parseRelayProfile(
    relay(
      [`  - { name: home, publicKey: "${KEY}", allow: ["80/tcp"] }`],
      ['reconnect: { initialDelay: 50ms, maxDelay: 2s }'],
    ),
    'r.yaml',
    {},
  );
  t.is(q.agents[0]!.dial, undefined);
  t.like(q.reconnect, { initialDelayMs: 50, maxDelayMs: 2000 });
});

test('relay dial entries: port 0, two agents at one address and a backwards reconnect are refused', (t) => {
  const cases: Array<[string[], string[], RegExp]> = [
    [
      [`  - { name: home, publicKey: "${KEY}", allow: ["80/tcp"], dial: "h.example:0" }`],
      [],
      /agents\[0\]\.dial.*1\.\.65535/,
    ],
    [
      [
        `  - { name: a, publicKey: "${KEY}", allow: ["80/tcp"], dial: "h.example:7100" }`,
        `  - { name: b, publicKey: "${KEY2}", allow: ["81/tcp"], dial: "H.example:7100" }`,
      ],
      [],
      /agents\[1\]\.dial.*same dial address as entry \[0\]/,
    ],
    [
      [`  - { name: home, publicKey: "${KEY}", allow: ["80/tcp"] }`],
      ['reconnect: { initialDelay: 5s, maxDelay: 1s }'],
      /reconnect\.maxDelay.*must not be shorter/,
    ],
    [
      [`  - { name: home, publicKey: "${KEY}", allow: ["80/tcp"] }`],
      ['reconnect: { replacedDelay: 5s }'],
      /reconnect.*replacedDelay/,
    ],
  ];
  for (const [agents, extra, want] of cases) {
    const detail = problem(t, () => parseRelayProfile(relay(agents, extra), 'r.yaml', {}));
    t.regex(detail, want, agents.join(' | '));
  }
});
