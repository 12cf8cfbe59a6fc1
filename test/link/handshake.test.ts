// Link handshake over real TCP on 127.0.0.1: success, each authentication failure with its own code on
// both sides, garbage and stalled peers, the pending cap, replayed message 1; the relay keeps serving.
import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { isXnatError, type XnatError } from '../../src/errors.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { LinkAcceptor, connectLink } from '../../src/link/link.ts';
import {
  encodeHandshakeFrame,
  encodePreface,
  HandshakeTag,
  LINK_PROTOCOL_VERSION,
} from '../../src/link/wire.ts';
import { createDuplexPair } from '../../src/transport/memory-pair.ts';
import { FakeClock } from '../../src/util/clock.ts';
import {
  captureLogger,
  collect,
  dataFrame,
  dialAgent,
  dialRaw,
  errorText,
  makeKeys,
  secretForms,
  startRelay,
  waitFor,
  type Keys,
  type TestRelay,
} from './link-helpers.ts';

/** Connects a well-behaved agent and checks data flows: the acceptor still serves others. */
async function assertServes(
  t: ExecutionContext,
  relay: TestRelay,
  keys: Keys,
  psk?: Uint8Array,
): Promise<void> {
  const before = relay.links.length;
  const agent = await dialAgent(relay, keys, psk ? { psk } : {});
  await waitFor(() => relay.links.length > before, 5000, 'relay link');
  const got = collect(relay.links.at(-1)!, 4);
  agent.write(dataFrame(Buffer.from('ping')));
  t.is((await got).toString(), 'ping');
  agent.close();
}

function lastError(relay: TestRelay): XnatError | undefined {
  return relay.errors.at(-1);
}

test('handshake succeeds both ways and both sides agree on keys and hash', async (t) => {
  const keys = makeKeys();
  const relay = await startRelay({ staticKeys: keys.relay, lookupAgent: () => ({}) });
  const agent = await dialAgent(relay, keys);
  await waitFor(() => relay.links.length === 1);
  const r = relay.links[0]!;
  t.is(agent.role, 'initiator');
  t.is(r.role, 'responder');
  t.deepEqual(agent.remoteStaticKey, keys.relay.publicKey);
  t.deepEqual(r.remoteStaticKey, keys.agent.publicKey);
  t.true(agent.handshakeHash.equals(r.handshakeHash));
  t.is(relay.acceptor.pendingHandshakes, 0);
  agent.close();
  await relay.close();
});

test('psk configured on both sides works; memory pair works too', async (t) => {
  const keys = makeKeys();
  const psk = randomBytes(32);
  const acceptor = new LinkAcceptor({ staticKeys: keys.relay, lookupAgent: () => ({ psk }) });
  const [a, b] = createDuplexPair();
  const [agent, relayLink] = await Promise.all([
    connectLink(a, { staticKeys: keys.agent, remoteStaticKey: keys.relay.publicKey, psk }),
    acceptor.accept(b),
  ]);
  const got = collect(agent, 2);
  relayLink.write(dataFrame(Buffer.from('ok')));
  t.is((await got).toString(), 'ok');
  agent.destroy();
  relayLink.destroy();
});

/** Runs one failing case; returns the agent's and the relay's error and the captured text. */
async function failingCase(
  keys: Keys,
  relayLookup: (k: Buffer) => { psk?: Uint8Array } | undefined,
  agentExtra: { remoteStaticKey?: Uint8Array; psk?: Uint8Array },
): Promise<{ agentErr: XnatError; relayErr: XnatError; text: string; relay: TestRelay }> {
  const relayLog = captureLogger();
  const agentLog = captureLogger();
  const relay = await startRelay({
    staticKeys: keys.relay,
    lookupAgent: relayLookup,
    logger: relayLog.logger,
  });
  let agentErr: XnatError | undefined;
  try {
    await dialAgent(relay, keys, { logger: agentLog.logger, ...agentExtra });
  } catch (e) {
    agentErr = e as XnatError;
  }
  await waitFor(() => relay.errors.length === 1, 5000, 'relay error');
  const relayErr = lastError(relay)!;
  const text = [...relayLog.lines, ...agentLog.lines, errorText(agentErr), errorText(relayErr)].join('\n');
  return { agentErr: agentErr!, relayErr, text, relay };
}

test('unknown agent: XNAT_ERR_AUTH_UNKNOWN_AGENT on both sides, no secret leaked', async (t) => {
  const keys = makeKeys();
  const known = generateKeyPair();
  const { agentErr, relayErr, text, relay } = await failingCase(
    keys,
    (k) => (k.equals(known.publicKey) ? {} : undefined),
    {},
  );
  t.true(isXnatError(agentErr, 'XNAT_ERR_AUTH_UNKNOWN_AGENT'), String(agentErr?.code));
  t.true(isXnatError(relayErr, 'XNAT_ERR_AUTH_UNKNOWN_AGENT'));
  for (const s of secretForms(keys.agent.privateKey, keys.relay.privateKey)) t.false(text.includes(s));
  await assertServes(t, relay, { relay: keys.relay, agent: known });
  await relay.close();
});

test('wrong relay key: XNAT_ERR_AUTH_RELAY_KEY on both sides, relay sends nothing', async (t) => {
  const keys = makeKeys();
  const impostor = generateKeyPair();
  const { agentErr, relayErr, text, relay } = await failingCase(keys, () => ({}), {
    remoteStaticKey: impostor.publicKey,
  });
  t.true(isXnatError(agentErr, 'XNAT_ERR_AUTH_RELAY_KEY'), String(agentErr?.code));
  t.true(isXnatError(relayErr, 'XNAT_ERR_AUTH_RELAY_KEY'));
  for (const s of secretForms(keys.agent.privateKey, keys.relay.privateKey, impostor.privateKey))
    t.false(text.includes(s));
  await assertServes(t, relay, keys);
  await relay.close();
});

test('psks differ: XNAT_ERR_AUTH_PSK on both sides, no psk in logs or errors', async (t) => {
  const keys = makeKeys();
  const relayPsk = randomBytes(32);
  const agentPsk = randomBytes(32);
  const { agentErr, relayErr, text, relay } = await failingCase(keys, () => ({ psk: relayPsk }), {
    psk: agentPsk,
  });
  t.true(isXnatError(agentErr, 'XNAT_ERR_AUTH_PSK'), String(agentErr?.code));
  t.true(isXnatError(relayErr, 'XNAT_ERR_AUTH_PSK'), String(relayErr?.code));
  for (const s of secretForms(keys.agent.privateKey, keys.relay.privateKey, relayPsk, agentPsk))
    t.false(text.includes(s));
  await assertServes(t, relay, keys, relayPsk);
  await relay.close();
});

test('agent with a psk against a relay without one: XNAT_ERR_AUTH_PSK', async (t) => {
  const keys = makeKeys();
  const { agentErr, relayErr, relay } = await failingCase(keys, () => ({}), { psk: randomBytes(32) });
  t.true(isXnatError(agentErr, 'XNAT_ERR_AUTH_PSK'));
  t.true(isXnatError(relayErr, 'XNAT_ERR_AUTH_PSK'));
  await relay.close();
});

test('garbage instead of a preface: XNAT_ERR_LINK_PREFACE and close', async (t) => {
  const keys = makeKeys();
  const relay = await startRelay({ staticKeys: keys.relay, lookupAgent: () => ({}) });
  const s = await dialRaw(relay);
  const ended = new Promise<void>((r) => s.once('close', () => r()));
  s.on('error', () => {});
  s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await ended;
  await waitFor(() => relay.errors.length === 1);
  t.is(lastError(relay)?.code, 'XNAT_ERR_LINK_PREFACE');

  await assertServes(t, relay, keys);
  t.is(relay.acceptor.pendingHandshakes, 0);
  await relay.close();
});

test('an agent of link version 1 gets a VERSION hint naming version 2; the relay logs XNAT_ERR_LINK_VERSION', async (t) => {
  const keys = makeKeys();
  const relay = await startRelay({ staticKeys: keys.relay, lookupAgent: () => ({}) });
  const v = await dialRaw(relay);
  v.on('error', () => {});
  const got: Buffer[] = [];
  v.on('data', (c: Buffer) => got.push(c));
  const ended = new Promise<void>((r) => v.once('close', () => r()));
  v.write(encodePreface(1));
  await waitFor(() => relay.errors.length === 1);
  t.is(lastError(relay)?.code, 'XNAT_ERR_LINK_VERSION');
  t.regex(lastError(relay)?.detail ?? '', /version 1, this side 2/);
  await ended;
  // u16 length 2, tag VERSION, the relay's version: a v1 agent reports a malformed handshake (tag 5).
  t.deepEqual([...Buffer.concat(got)], [0, 2, HandshakeTag.VERSION, LINK_PROTOCOL_VERSION]);
  await assertServes(t, relay, keys);
  t.is(relay.acceptor.pendingHandshakes, 0);
  await relay.close();
});

test('an agent told VERSION by the relay fails with XNAT_ERR_LINK_VERSION naming both versions', async (t) => {
  const keys = makeKeys();
  const [agentEnd, relayEnd] = createDuplexPair();
  relayEnd.once('data', () => relayEnd.end(encodeHandshakeFrame(HandshakeTag.VERSION, Buffer.of(3))));
  relayEnd.on('error', () => {});
  const err = await t.throwsAsync(
    connectLink(agentEnd, { staticKeys: keys.agent, remoteStaticKey: keys.relay.publicKey }),
  );
  t.true(isXnatError(err, 'XNAT_ERR_LINK_VERSION'), String((err as { code?: string }).code));
  t.regex((err as { detail?: string }).detail ?? '', /relay speaks link version 3, this agent 2/);
});

test('length prefix 0xFFFF in the handshake: XNAT_ERR_LINK_HANDSHAKE_MALFORMED at once', async (t) => {
  const keys = makeKeys();
  const relay = await startRelay({ staticKeys: keys.relay, lookupAgent: () => ({}) });
  const s = await dialRaw(relay);
  s.on('error', () => {});
  s.write(Buffer.concat([encodePreface(), Buffer.from([0xff, 0xff, HandshakeTag.NOISE]), randomBytes(300)]));
  await waitFor(() => relay.errors.length === 1);
  t.is(lastError(relay)?.code, 'XNAT_ERR_LINK_HANDSHAKE_MALFORMED');
  await assertServes(t, relay, keys);
  await relay.close();
});

test('stalled handshake hits the deadline while another agent connects meanwhile', async (t) => {
  const keys = makeKeys();
  const clock = new FakeClock();
  const relay = await startRelay({
    staticKeys: keys.relay,
    lookupAgent: () => ({}),
    clock,
    handshakeTimeoutMs: 2000,
  });
  const stalled = await dialRaw(relay);
  stalled.on('error', () => {});
  stalled.write(encodePreface()); // then nothing: slowloris
  await waitFor(() => relay.acceptor.pendingHandshakes === 1);
  await assertServes(t, relay, keys);
  t.is(relay.errors.length, 0);
  const gone = new Promise<void>((r) => stalled.once('close', () => r()));
  clock.advance(2000);
  await waitFor(() => relay.errors.length === 1);
  t.is(lastError(relay)?.code, 'XNAT_ERR_LINK_HANDSHAKE_TIMEOUT');
  await gone;
  t.is(relay.acceptor.pendingHandshakes, 0);
  await relay.close();
});

test('agent handshake deadline: a relay that never answers', async (t) => {
  const keys = makeKeys();
  const clock = new FakeClock();
  const [a, b] = createDuplexPair();
  b.resume(); // swallow everything, answer nothing
  const p = connectLink(a, {
    staticKeys: keys.agent,
    remoteStaticKey: keys.relay.publicKey,
    clock,
    handshakeTimeoutMs: 500,
  });
  clock.advance(500);
  const err = await t.throwsAsync(p);
  t.true(isXnatError(err, 'XNAT_ERR_LINK_HANDSHAKE_TIMEOUT'));
  await waitFor(() => a.destroyed);
});

test('pending-handshake cap: a new agent makes room by dropping the oldest silent stranger (busy hint)', async (t) => {
  const keys = makeKeys();
  const relay = await startRelay({
    staticKeys: keys.relay,
    lookupAgent: () => ({}),
    maxPendingHandshakes: 2,
  });
  const stalled = [await dialRaw(relay), await dialRaw(relay)];
  const heard: Buffer[][] = [[], []];
  for (const [i, s] of stalled.entries()) {
    s.on('error', () => {});
    s.on('data', (c: Buffer) => heard[i]!.push(c));
    s.write(encodePreface());
  }
  await waitFor(() => relay.acceptor.pendingHandshakes === 2);
  const oldestGone = new Promise<void>((r) => stalled[0]!.once('close', () => r()));
  await assertServes(t, relay, keys);
  await oldestGone;
  t.is(Buffer.concat(heard[0]!)[2], HandshakeTag.BUSY, 'the dropped stranger was told busy');
  t.false(stalled[1]!.destroyed);
  t.is(relay.errors.length, 1);
  t.is(lastError(relay)?.code, 'XNAT_ERR_LINK_HANDSHAKE_BUSY');
  t.is(relay.acceptor.stats().evictedTotal, 1);
  stalled[1]!.destroy();
  await waitFor(() => relay.acceptor.pendingHandshakes === 0);
  await relay.close();
});

test('a table full of known agents mid-handshake refuses a stranger with busy on both sides', async (t) => {
  const keys = makeKeys();
  const relay = await startRelay({
    staticKeys: keys.relay,
    lookupAgent: () => ({}),
    maxPendingHandshakes: 2,
  });
  // Two genuine first flights that never confirm: known agents waiting for key confirmation.
  const parked: Array<Awaited<ReturnType<typeof dialRaw>>> = [];
  for (let i = 0; i < 2; i++) {
    const [a, b] = createDuplexPair();
    const flight = new Promise<Buffer>((r) => b.once('data', (c: Buffer) => r(Buffer.from(c))));
    connectLink(a, { staticKeys: keys.agent, remoteStaticKey: keys.relay.publicKey }).catch(() => {});
    const bytes = await flight;
    a.destroy();
    const s = await dialRaw(relay);
    s.on('error', () => {});
    const reply = new Promise<void>((r) => s.once('data', () => r()));
    s.write(bytes);
    await reply; // message 2: the relay identified the agent
    parked.push(s);
  }
  t.is(relay.acceptor.stats().pendingKnown, 2);
  const err = await t.throwsAsync(dialAgent(relay, keys));
  t.true(isXnatError(err, 'XNAT_ERR_LINK_HANDSHAKE_BUSY'), String((err as XnatError).code));
  await waitFor(() => relay.errors.length === 1);
  t.is(lastError(relay)?.code, 'XNAT_ERR_LINK_HANDSHAKE_BUSY');
  t.is(relay.acceptor.stats().refused, 1);
  t.false(
    parked.some((s) => s.destroyed),
    'the known agents kept their slots',
  );
  for (const s of parked) s.destroy();
  await waitFor(() => relay.acceptor.pendingHandshakes === 0);
  await assertServes(t, relay, keys);
  await relay.close();
});

test('a silent connection is dropped at the first-message deadline, before the whole one', async (t) => {
  const keys = makeKeys();
  const clock = new FakeClock();
  const relay = await startRelay({
    staticKeys: keys.relay,
    lookupAgent: () => ({}),
    clock,
    firstMessageTimeoutMs: 2000,
    handshakeTimeoutMs: 10_000,
  });
  const silent = await dialRaw(relay);
  silent.on('error', () => {});
  await waitFor(() => relay.acceptor.pendingHandshakes === 1);
  const gone = new Promise<void>((r) => silent.once('close', () => r()));
  clock.advance(1999);
  t.is(relay.errors.length, 0);
  clock.advance(1);
  await waitFor(() => relay.errors.length === 1);
  t.is(lastError(relay)?.code, 'XNAT_ERR_LINK_HANDSHAKE_TIMEOUT');
  await gone;
  t.is(relay.acceptor.stats().firstMessageTimeouts, 1);
  await relay.close();
});

test('a replayed message 1 never establishes a link', async (t) => {
  const keys = makeKeys();
  const clock = new FakeClock();
  const relay = await startRelay({
    staticKeys: keys.relay,
    lookupAgent: () => ({}),
    clock,
    handshakeTimeoutMs: 3000,
  });
  // Record a genuine agent's first flight (preface + message 1) off a memory pair.
  const [a, b] = createDuplexPair();
  const firstFlight = new Promise<Buffer>((r) => b.once('data', (c: Buffer) => r(Buffer.from(c))));
  connectLink(a, { staticKeys: keys.agent, remoteStaticKey: keys.relay.publicKey, clock }).catch(() => {});
  const recorded = await firstFlight;
  a.destroy();

  // Replay 1: send it and wait; the relay answers message 2 but never counts the link established.
  const r1 = await dialRaw(relay);
  r1.on('error', () => {});
  const reply = new Promise<Buffer>((r) => r1.once('data', (c: Buffer) => r(c)));
  r1.write(recorded);
  t.is((await reply)[2], HandshakeTag.NOISE);
  // Replay 2: followed by a forged record.
  const r2 = await dialRaw(relay);
  r2.on('error', () => {});
  const forged = Buffer.alloc(2 + 40);
  forged.writeUInt16BE(40, 0);
  randomBytes(40).copy(forged, 2);
  r2.write(Buffer.concat([recorded, forged]));
  await waitFor(() => relay.errors.length === 1);
  t.is(lastError(relay)?.code, 'XNAT_ERR_CRYPTO_DECRYPT');
  clock.advance(3000);
  await waitFor(() => relay.errors.length === 2);
  t.is(lastError(relay)?.code, 'XNAT_ERR_LINK_HANDSHAKE_TIMEOUT');
  t.is(relay.links.length, 0);
  await assertServes(t, relay, keys);
  await relay.close();
});
