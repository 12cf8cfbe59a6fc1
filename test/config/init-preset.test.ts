// `xnat init --preset NAME` output for every preset: both profiles parse, the relay's allow list covers
// exactly the agent's mappings, and a bad name is a usage error with a did-you-mean.
import test from 'ava';
import { renderInitProfiles } from '../../src/cli/init.ts';
import { applyPreset, presetAllow, presetFromFlag } from '../../src/cli/init-preset.ts';
import { PRESET_NAMES, isAllowed, parseAgentProfile, parseRelayProfile } from '../../src/config/index.ts';
import { isXnatError, type XnatError } from '../../src/errors.ts';

test('every preset writes a relay and agent pair that parses and agrees', (t) => {
  for (const name of PRESET_NAMES) {
    const text = applyPreset(
      renderInitProfiles({ relayAddress: 'vps.example.com:7000', listenPort: 7000 }),
      name,
    );
    const relay = parseRelayProfile(text.relay, 'relay.yaml', {});
    const agent = parseAgentProfile(text.agent, 'agent.yaml', {});
    const allow = relay.agents[0]!.allow;
    t.true(agent.mappings.length >= 1, name);
    for (const m of agent.mappings) {
      t.true(isAllowed(allow, m.protocol, m.remotePort), `${name}: ${m.name}`);
      t.is(m.local!.host, '127.0.0.1', name);
    }
    // Nothing but the preset's ports: a port per mapping, both protocols counted.
    const allowed = allow.reduce((n, r) => n + r.to - r.from + 1, 0);
    t.is(allowed, agent.mappings.length, name);
    t.regex(text.agent, new RegExp(`- preset: ${name}\\n`), name);
    t.regex(text.agent, /see docs\/profiles\.md/, name);
  }
  t.deepEqual(presetAllow('valheim'), ['2456-2458/udp']);
  t.deepEqual(presetAllow('cs2'), ['27015/tcp+udp']);
  t.deepEqual(presetAllow('minecraft'), ['25565/tcp']);
});

test('--preset with an unknown name is a usage error listing the presets', (t) => {
  t.is(presetFromFlag('bedrock'), 'bedrock');
  const err = t.throws(() => presetFromFlag('palword')) as XnatError;
  t.true(isXnatError(err, 'XNAT_ERR_CLI_USAGE'));
  t.is(err.detail, `--preset must be one of ${PRESET_NAMES.join(', ')}; did you mean palworld?`);
});
