// changedKeys: which keys differ between two parsed profiles, named as the profile writes them, for the
// reload's "needs a restart" line; the keys a reload applies live are skipped.
import test from 'ava';
import { changedKeys, parseAgentProfile, parseRelayProfile } from '../../src/config/index.ts';

const KEY_A = Buffer.alloc(32, 1).toString('base64');
const KEY_B = Buffer.alloc(32, 2).toString('base64');
const KEY_C = Buffer.alloc(32, 3).toString('base64');

const relay = (extra = '', key = KEY_A) =>
  parseRelayProfile(
    `relay:\n  privateKey: "${key}"\n  listen: "0.0.0.0:7000"\n${extra}agents:\n  - { name: home, publicKey: "${KEY_B}", allow: ["2222/tcp"] }\n`,
    'relay.yaml',
    {},
  );

test('relay: listen, key, tuning and admin changes are named; agents are skipped', (t) => {
  const base = relay();
  t.deepEqual(changedKeys(base, relay(), new Set(['agents'])), []);
  t.deepEqual(changedKeys(base, relay('  resumeWindow: 30s\n'), new Set(['agents'])), ['relay.resumeWindow']);
  t.deepEqual(changedKeys(base, relay('', KEY_C), new Set(['agents'])), ['relay.privateKey']);
  const more = parseRelayProfile(
    `relay:\n  privateKey: "${KEY_A}"\n  listen: "0.0.0.0:7100"\ntuning:\n  replayBuffer: 1MiB\nadmin:\n  token: "0123456789abcdef0123"\nagents: []\n`,
    'relay.yaml',
    {},
  );
  t.deepEqual(changedKeys(base, more, new Set(['agents'])), ['relay.listen', 'admin', 'tuning.replayBuffer']);
});

test('agent: mappings skipped, reconnect and relays named', (t) => {
  const agent = (extra: string, port = 8080) =>
    parseAgentProfile(
      `agent:\n  name: home\n  privateKey: "${KEY_A}"\nrelays:\n  - { address: "r.example.com:7000", publicKey: "${KEY_B}" }\n` +
        `mappings:\n  - { name: web, remotePort: ${port}, local: "127.0.0.1:80" }\n${extra}`,
      'agent.yaml',
      {},
    );
  const skip = new Set(['mappings']);
  t.deepEqual(changedKeys(agent(''), agent('', 9090), skip), []);
  t.deepEqual(changedKeys(agent(''), agent('reconnect:\n  maxDelay: 30s\n'), skip), ['reconnect.maxDelay']);
  t.deepEqual(changedKeys(agent(''), agent('log:\n  level: debug\n'), skip), ['log.level']);
});
