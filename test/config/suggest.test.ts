// "Did you mean": unknown profile keys get the closest key the schema allows at their place, by edit
// distance; far-off keys and key-shaped secrets get none; the kind mismatch reads "a relay / an agent".
import test from 'ava';
import { parseAgentProfile, parseRelayProfile } from '../../src/config/index.ts';
import { closestKey, editDistance, schemaKeysAt } from '../../src/config/suggest.ts';
import { agentSchema, relaySchema } from '../../src/config/schema.ts';
import { isXnatError, type XnatError } from '../../src/errors.ts';

const KEY_A = Buffer.alloc(32, 1).toString('base64');
const KEY_B = Buffer.alloc(32, 2).toString('base64');

function agentYaml(lines: Record<number, string> = {}): string {
  const base = [
    'agent:',
    '  name: home',
    `  privateKey: "${KEY_A}"`,
    'relays:',
    `  - address: "relay.example.com:7000"`,
    `    publicKey: "${KEY_B}"`,
    'mappings:',
    '  - name: web',
    '    remotePort: 8080',
    '    local: "127.0.0.1:80"',
  ];
  for (const [i, text] of Object.entries(lines)) base[Number(i)] = text;
  return base.join('\n');
}

function detailOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isXnatError(err)) return (err as XnatError).detail ?? '';
    throw err;
  }
  throw new Error('did not throw');
}

test('edit distance: insertions, deletions, substitutions and adjacent swaps, case-insensitive', (t) => {
  t.is(editDistance('remotePort', 'remotePort'), 0);
  t.is(editDistance('remotePrt', 'remotePort'), 1);
  t.is(editDistance('remtoePort', 'remotePort'), 1);
  t.is(editDistance('RemotePort', 'remoteport'), 0);
  t.is(editDistance('listen', 'lsten'), 1);
  t.is(editDistance('', 'abc'), 3);
  t.is(closestKey('tunning', ['tuning', 'log']), 'tuning');
  t.is(closestKey('colour', ['name', 'local', 'protocol']), undefined);
  t.is(closestKey('x'.repeat(40), ['x'.repeat(39)]), undefined);
});

test('schema keys at a path: through blocks, lists, defaults and optionals', (t) => {
  t.true(schemaKeysAt(agentSchema(), ['mappings', 0]).includes('remotePort'));
  t.true(schemaKeysAt(agentSchema(), ['relays', 3]).includes('publicKey'));
  t.true(schemaKeysAt(agentSchema(), ['reconnect']).includes('authRetryDelay'));
  t.true(schemaKeysAt(agentSchema(), []).includes('mappings'));
  t.true(schemaKeysAt(relaySchema(), ['relay']).includes('resumeWindow'));
  t.true(schemaKeysAt(relaySchema(), ['admin']).includes('token'));
  t.true(schemaKeysAt(relaySchema(), ['tuning']).includes('replayBuffer'));
  t.deepEqual(schemaKeysAt(relaySchema(), ['relay', 'listen']), []);
});

test('unknown keys get "did you mean" with the key allowed at that place', (t) => {
  t.is(
    detailOf(() => parseAgentProfile(agentYaml({ 8: '    remotePrt: 8080' }), 'agent.yaml', {})),
    // A missing remotePort is only reported by the second pass (a preset may supply it), after this one.
    'agent.yaml:9 mappings[0].remotePrt: unknown key (did you mean "remotePort"?)',
  );
  const top = detailOf(() => parseAgentProfile(`${agentYaml()}\ntunning: {}\nreconect: {}`, 'a.yaml', {}));
  t.regex(top, /tunning: unknown key \(did you mean "tuning"\?\)/);
  t.regex(top, /reconect: unknown key \(did you mean "reconnect"\?\)/);
  const relay = detailOf(() =>
    parseRelayProfile(`relay:\n  privateKey: "${KEY_A}"\n  lisen: "0.0.0.0:7000"\n`, 'relay.yaml', {}),
  );
  t.is(relay, 'relay.yaml:3 relay.lisen: unknown key (did you mean "listen"?)');
});

test('no suggestion for far-off keys, nor for a key that is really a secret pasted in the wrong place', (t) => {
  const far = detailOf(() => parseAgentProfile(`${agentYaml()}\ncolour: red`, 'a.yaml', {}));
  t.is(far, 'a.yaml:11 colour: unknown key');
  // A base64 key written where a key goes: shown by its length only, and never matched to anything.
  const secret = detailOf(() => parseAgentProfile(`${agentYaml()}\n"${KEY_B}": 1`, 'a.yaml', {}));
  t.false(secret.includes(KEY_B));
  t.false(secret.includes('did you mean'));
});

test('the kind mismatch reads "a relay" / "an agent"', (t) => {
  t.regex(
    detailOf(() => parseRelayProfile(agentYaml(), 'agent.yaml', {})),
    /this is an agent profile; a relay profile is needed/,
  );
  t.regex(
    detailOf(() => parseAgentProfile(`relay:\n  privateKey: "${KEY_A}"\n`, 'relay.yaml', {})),
    /this is a relay profile; an agent profile is needed/,
  );
});
