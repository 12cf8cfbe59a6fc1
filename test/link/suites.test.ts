// Cipher suites over real TCP links on 127.0.0.1: each suite both ways on mixed backends (with rekeys),
// a preface rewritten on the path by the fault proxy (tamper, not downgrade), a relay refusing a suite
// (typed error on both sides, relay log line), and `auto` moving on after an authenticated refusal.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { isXnatError, type XnatError } from '../../src/errors.ts';
import { connectLink, type Link } from '../../src/link/link.ts';
import { CIPHER_SUITES, SuiteProposal, type CipherSuite } from '../../src/link/suites.ts';
import { PREFACE_SUITE_OFFSET } from '../../src/link/wire.ts';
import { dialTcp } from '../../src/transport/tcp.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';
import {
  captureLogger,
  collect,
  dialAgent,
  makeKeys,
  startRelay,
  waitFor,
  writeAll,
  type Keys,
  type TestRelay,
} from './link-helpers.ts';

const AES_CPU = { aes: true, source: 'cpuinfo' } as const;

/** Sends `n` random bytes from `a` to `b` and checks they arrive intact. */
async function transfer(a: Link, b: Link, n: number): Promise<boolean> {
  const data = randomBytes(n);
  const got = collect(b, n);
  await writeAll(a, data, 20_000);
  return (await got).equals(data);
}

for (const suite of CIPHER_SUITES) {
  for (const [agentBackend, relayBackend] of [
    ['node', 'noble'],
    ['noble', 'node'],
  ] as const) {
    test(`${suite}: agent on ${agentBackend}, relay on ${relayBackend}, data both ways across rekeys`, async (t) => {
      const keys = makeKeys();
      const relay = await startRelay({
        staticKeys: keys.relay,
        lookupAgent: () => ({}),
        cipherBackend: relayBackend,
        rekeyAfterBytes: 32 * 1024,
      });
      t.teardown(() => relay.close());
      const agent = await dialAgent(relay, keys, {
        cipher: suite,
        cipherBackend: agentBackend,
        rekeyAfterBytes: 32 * 1024,
      });
      await waitFor(() => relay.links.length === 1, 5000, 'relay link');
      const r = relay.links[0]!;
      t.is(agent.suite, suite);
      t.is(r.suite, suite);
      t.true(agent.handshakeHash.equals(r.handshakeHash));
      // noble's AES-GCM is slow: a few hundred KiB is enough to cross several rekeys.
      t.true(await transfer(agent, r, 200_000), 'agent -> relay');
      t.true(await transfer(r, agent, 200_000), 'relay -> agent');
      t.true(agent.stats.rekeys >= 3 && r.stats.rekeys >= 3);
      agent.close();
    });
  }
}

test('the two suites give different handshake hashes for the same keys (the protocol name is hashed in)', async (t) => {
  const keys = makeKeys();
  const relay = await startRelay({ staticKeys: keys.relay, lookupAgent: () => ({}) });
  t.teardown(() => relay.close());
  const hashes = new Set<string>();
  for (const suite of CIPHER_SUITES) {
    const agent = await dialAgent(relay, keys, { cipher: suite });
    hashes.add(agent.handshakeHash.toString('hex'));
    agent.destroy();
  }
  t.is(hashes.size, 2);
});

/** Dials through a fault proxy that rewrites the preface's suite byte; returns both sides' errors. */
async function tampered(
  keys: Keys,
  agentSuite: CipherSuite,
  mask: number,
  relaySuites?: readonly CipherSuite[],
): Promise<{ agentErr: XnatError; relayErr: XnatError; lines: string[]; relay: TestRelay }> {
  const log = captureLogger();
  const relay = await startRelay({
    staticKeys: keys.relay,
    lookupAgent: () => ({}),
    logger: log.logger,
    ...(relaySuites ? { cipherSuites: relaySuites } : {}),
  });
  const proxy = await startFaultProxy(relay.listener.port);
  proxy.flipByteAtNext('up', PREFACE_SUITE_OFFSET, mask);
  const socket = await dialTcp('127.0.0.1', proxy.port, { reuseReads: true });
  const err = await connectLink(socket, {
    staticKeys: keys.agent,
    remoteStaticKey: keys.relay.publicKey,
    cipher: agentSuite,
  }).then(
    (l) => {
      l.destroy();
      return undefined;
    },
    (e: XnatError) => e,
  );
  await waitFor(() => relay.errors.length === 1, 5000, 'relay error');
  await proxy.close();
  return { agentErr: err!, relayErr: relay.errors[0]!, lines: log.lines, relay };
}

for (const [agentSuite, relaySuites] of [
  ['aes-256-gcm', undefined],
  ['chacha20-poly1305', undefined],
  // The real downgrade: the relay would accept ChaCha20, and the path tries to force it.
  ['aes-256-gcm', ['chacha20-poly1305']],
] as const) {
  const rewritten = agentSuite === 'aes-256-gcm' ? 'chacha20-poly1305' : 'aes-256-gcm';
  test(`a preface rewritten on the path (${agentSuite} -> ${rewritten}${relaySuites ? ', relay accepts only the rewritten one' : ''}) fails with XNAT_ERR_LINK_SUITE_TAMPERED on both sides`, async (t) => {
    const keys = makeKeys();
    const { agentErr, relayErr, lines, relay } = await tampered(keys, agentSuite, 0x01, relaySuites);
    t.teardown(() => relay.close());
    t.true(isXnatError(agentErr, 'XNAT_ERR_LINK_SUITE_TAMPERED'), String(agentErr?.code));
    t.true(isXnatError(relayErr, 'XNAT_ERR_LINK_SUITE_TAMPERED'), String(relayErr?.code));
    t.regex(relayErr.detail ?? '', new RegExp(`preface says ${rewritten}.*proposed ${agentSuite}`));
    t.is(relay.links.length, 0, 'no link was established');
    const line = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'link rejected');
    t.is(line?.code, 'XNAT_ERR_LINK_SUITE_TAMPERED');
    t.is(line?.level, 40, 'logged at warn');
    // The relay keeps serving untampered links.
    const agent = await dialAgent(relay, keys, { cipher: relaySuites ? relaySuites[0] : agentSuite });
    await waitFor(() => relay.links.length === 1, 5000, 'relay link');
    t.true(await transfer(agent, relay.links[0]!, 1000));
    agent.destroy();
  });
}

test('a suite byte rewritten to an unknown id fails with a code on both sides', async (t) => {
  const keys = makeKeys();
  const { agentErr, relayErr, relay } = await tampered(keys, 'aes-256-gcm', 0x80);
  t.teardown(() => relay.close());
  t.true(isXnatError(relayErr, 'XNAT_ERR_LINK_PREFACE'), String(relayErr?.code));
  t.regex(relayErr.detail ?? '', /unknown cipher suite 129/);
  // The relay cannot authenticate anything to an agent it cannot read: it closes without a word.
  t.true(isXnatError(agentErr, 'XNAT_ERR_AUTH_RELAY_KEY'), String(agentErr?.code));
});

test('a relay that refuses the suite the agent insists on: XNAT_ERR_LINK_SUITE_REFUSED on both sides, logged', async (t) => {
  const keys = makeKeys();
  const log = captureLogger();
  const relay = await startRelay({
    staticKeys: keys.relay,
    lookupAgent: () => ({}),
    logger: log.logger,
    cipherSuites: ['chacha20-poly1305'],
  });
  t.teardown(() => relay.close());
  const insist = new SuiteProposal('aes-256-gcm', AES_CPU);
  for (let attempt = 0; attempt < 2; attempt++) {
    const err = await dialAgent(relay, keys, { cipher: insist }).then(
      () => undefined,
      (e: XnatError) => e,
    );
    t.true(isXnatError(err, 'XNAT_ERR_LINK_SUITE_REFUSED'), String(err?.code));
    t.regex(err!.detail ?? '', /refused aes-256-gcm/);
    t.regex(err!.hint, /tuning\.cipher/);
    t.is(insist.current, 'aes-256-gcm', 'an explicit choice is never changed');
  }
  await waitFor(() => relay.errors.length === 2, 5000, 'relay errors');
  t.true(isXnatError(relay.errors[0], 'XNAT_ERR_LINK_SUITE_REFUSED'));
  t.regex(relay.errors[0]!.detail ?? '', /proposed aes-256-gcm; accepted: chacha20-poly1305/);
  const lines = log.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const line = lines.find((l) => l.msg === 'link rejected');
  t.is(line?.code, 'XNAT_ERR_LINK_SUITE_REFUSED');
  t.is(line?.level, 40, 'logged at warn');
  t.is(relay.links.length, 0);
});

test('auto moves on to the next suite after an authenticated refusal, and keeps it', async (t) => {
  const keys = makeKeys();
  const relay = await startRelay({
    staticKeys: keys.relay,
    lookupAgent: () => ({}),
    cipherSuites: ['chacha20-poly1305'],
  });
  t.teardown(() => relay.close());
  const auto = new SuiteProposal('auto', AES_CPU);
  t.is(auto.current, 'aes-256-gcm');
  const first = await dialAgent(relay, keys, { cipher: auto }).then(
    () => undefined,
    (e: XnatError) => e,
  );
  t.true(isXnatError(first, 'XNAT_ERR_LINK_SUITE_REFUSED'));
  t.is(auto.current, 'chacha20-poly1305');
  for (let i = 0; i < 2; i++) {
    const agent = await dialAgent(relay, keys, { cipher: auto });
    t.is(agent.suite, 'chacha20-poly1305');
    agent.destroy();
  }
});
