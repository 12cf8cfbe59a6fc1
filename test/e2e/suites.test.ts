// End to end, cipher suites: a relay that accepts only ChaCha20-Poly1305 refuses an agent insisting on
// AES-256-GCM (typed error in both processes' logs), while an `auto` agent moves on and serves visitors.
import ava from 'ava';
import { TestEnv, WAIT_MS } from './lib/env.ts';
import { mappingReady, startAgent, startRelay, waitForNth } from './lib/cluster.ts';
import { makeKeys } from './lib/profiles.ts';
import { startHttpServer, visitorWorks } from './lib/targets.ts';

// Serial: each test starts several node processes.
const test = ava.serial;

test('a relay restricted to chacha20-poly1305: an agent insisting on aes-256-gcm is refused on both sides, an auto agent connects', async (t) => {
  const env = new TestEnv(t);
  const body = 'over chacha20\n';
  const httpPort = await startHttpServer(env, body);
  const relayKeys = makeKeys();
  const insist = makeKeys();
  const auto = makeKeys();
  const relay = await startRelay(env, {
    keys: relayKeys,
    agents: [
      { name: 'insist', publicKey: insist.publicKey },
      { name: 'auto', publicKey: auto.publicKey },
    ],
    cipherSuites: ['chacha20-poly1305'],
  });
  const common = { relayPort: relay.port, relayPublicKey: relayKeys.publicKey };
  const insistAgent = startAgent(
    env,
    {
      ...common,
      name: 'insist',
      keys: insist,
      mappings: [{ name: 'web1', localPort: httpPort }],
      tuning: { cipher: 'aes-256-gcm' },
    },
    'insist.yaml',
  );
  const failed = await insistAgent.proc.waitForLog({ msg: 'link failed' }, WAIT_MS);
  t.is(failed.code, 'XNAT_ERR_LINK_SUITE_REFUSED');
  t.regex(String(failed.detail), /refused aes-256-gcm/);
  const rejected = await relay.proc.waitForLog(
    { msg: 'link rejected', code: 'XNAT_ERR_LINK_SUITE_REFUSED' },
    WAIT_MS,
  );
  t.regex(String(rejected.detail), /proposed aes-256-gcm; accepted: chacha20-poly1305/);
  // It insists: refused again on the next dial, never a session.
  await waitForNth(insistAgent.proc, { msg: 'link failed', code: 'XNAT_ERR_LINK_SUITE_REFUSED' }, 2);
  t.false(insistAgent.proc.logs.some((l) => l.msg === 'session established'));

  // `auto` on this machine proposes whatever the CPU favours; refused or not, it ends on chacha20.
  const autoAgent = startAgent(
    env,
    { ...common, name: 'auto', keys: auto, mappings: [{ name: 'web2', localPort: httpPort }] },
    'auto.yaml',
  );
  const port = await mappingReady(autoAgent.proc, 'web2');
  t.true(await visitorWorks(env, port, body));
  const established = relay.proc.logs.find(
    (l) => l.msg === 'link established' && l.suite === 'chacha20-poly1305',
  );
  t.truthy(established, 'the relay logged a chacha20-poly1305 link');
});
