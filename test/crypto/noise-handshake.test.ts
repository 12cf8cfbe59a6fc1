// HandshakeState behaviour beyond the vectors: xnat's IKpsk2 shape, tampering, turn order, bad input.
import test from 'ava';
import { prepareAead } from '../../src/crypto/aead.ts';
import type { ExecutionContext } from 'ava';
import { HandshakeState } from '../../src/crypto/handshake-state.ts';
import type { HandshakeOptions } from '../../src/crypto/handshake-state.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { getPattern, parseProtocolName } from '../../src/crypto/patterns.ts';
import { isXnatError } from '../../src/errors.ts';
import type { ErrorCode } from '../../src/errors.ts';

// The noble backend loads on demand (src/crypto/aead.ts); these tests call it without a link handshake.
test.before(() => prepareAead('noble'));

const IK = 'Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s';
const prologue = Buffer.from('xnat/1');
const relay = generateKeyPair();
const agent = generateKeyPair();
const psk = Buffer.alloc(32, 0x42);

const code = (c: ErrorCode) => ({ is: (e: unknown) => isXnatError(e, c) }) as const;
function throwsCode(t: ExecutionContext, fn: () => unknown, c: ErrorCode): void {
  const err = t.throws(fn);
  t.true(code(c).is(err), `expected ${c}, got ${String((err as { code?: string } | undefined)?.code)}`);
}

function ikPair(extra: Partial<HandshakeOptions> = {}): [HandshakeState, HandshakeState] {
  const init = new HandshakeState({
    protocolName: IK,
    initiator: true,
    prologue,
    s: agent,
    rs: relay.publicKey,
    psks: [psk],
    ...extra,
  });
  const resp = new HandshakeState({ protocolName: IK, initiator: false, prologue, s: relay });
  return [init, resp];
}

for (const backend of ['node', 'noble'] as const) {
  test(`IKpsk2: the responder learns rs in message 1, then supplies the psk (${backend})`, (t) => {
    const [init, resp] = ikPair({ backend });
    const m1 = init.writeMessage(Buffer.from('hello'));
    t.deepEqual(resp.readMessage(m1).toString(), 'hello');
    t.deepEqual(resp.remoteStaticKey, agent.publicKey);
    resp.setPsks([psk]);
    const m2 = resp.writeMessage(Buffer.from('welcome'));
    t.is(init.readMessage(m2).toString(), 'welcome');
    t.true(init.isComplete && resp.isComplete);
    t.deepEqual(init.getHandshakeHash(), resp.getHandshakeHash());
    const a = init.split();
    const b = resp.split();
    t.is(
      b.recv
        .decryptWithAd(new Uint8Array(0), a.send.encryptWithAd(new Uint8Array(0), Buffer.from('up')))
        .toString(),
      'up',
    );
    t.is(
      a.recv
        .decryptWithAd(new Uint8Array(0), b.send.encryptWithAd(new Uint8Array(0), Buffer.from('down')))
        .toString(),
      'down',
    );
    t.is(a.send.nonce, 1);
  });
}

test('a psk mismatch fails message 2 with XNAT_ERR_CRYPTO_DECRYPT', (t) => {
  const [init, resp] = ikPair();
  resp.readMessage(init.writeMessage(new Uint8Array(0)));
  resp.setPsks([Buffer.alloc(32, 0x43)]);
  throwsCode(t, () => init.readMessage(resp.writeMessage(new Uint8Array(0))), 'XNAT_ERR_CRYPTO_DECRYPT');
  // A failed step ends the handshake.
  throwsCode(t, () => init.readMessage(Buffer.alloc(48)), 'XNAT_ERR_CRYPTO_HANDSHAKE_STATE');
});

test('the protocol name is hashed in: AESGCM against ChaChaPoly fails message 1, whatever the backend', (t) => {
  for (const backend of ['node', 'noble'] as const) {
    const [init] = ikPair({ protocolName: 'Noise_IKpsk2_25519_AESGCM_BLAKE2s', backend });
    const resp = new HandshakeState({ protocolName: IK, initiator: false, prologue, s: relay, backend });
    throwsCode(t, () => resp.readMessage(init.writeMessage(new Uint8Array(0))), 'XNAT_ERR_CRYPTO_DECRYPT');
  }
});

test('a wrong relay key or a different prologue fails message 1 with XNAT_ERR_CRYPTO_DECRYPT', (t) => {
  const [init] = ikPair({ rs: generateKeyPair().publicKey });
  const resp = new HandshakeState({ protocolName: IK, initiator: false, prologue, s: relay });
  throwsCode(t, () => resp.readMessage(init.writeMessage(new Uint8Array(0))), 'XNAT_ERR_CRYPTO_DECRYPT');
  const [init2] = ikPair({ prologue: Buffer.from('other') });
  const resp2 = new HandshakeState({ protocolName: IK, initiator: false, prologue, s: relay });
  throwsCode(t, () => resp2.readMessage(init2.writeMessage(new Uint8Array(0))), 'XNAT_ERR_CRYPTO_DECRYPT');
});

test('any flipped bit in either handshake message is rejected', (t) => {
  const [i0, r0] = ikPair();
  const m1 = i0.writeMessage(Buffer.from('payload-one'));
  r0.readMessage(m1);
  r0.setPsks([psk]);
  const m2 = r0.writeMessage(Buffer.from('payload-two'));
  for (let bit = 0; bit < m1.length * 8; bit += 7) {
    const bad = Buffer.from(m1);
    bad[bit >> 3]! ^= 1 << (bit & 7);
    const resp = new HandshakeState({ protocolName: IK, initiator: false, prologue, s: relay });
    // A flipped bit in e may also land on a low-order point: then the DH check answers first.
    const err = t.throws(() => resp.readMessage(bad));
    t.true(
      isXnatError(err, 'XNAT_ERR_CRYPTO_DECRYPT') || isXnatError(err, 'XNAT_ERR_CRYPTO_DH'),
      `bit ${bit}`,
    );
  }
  for (let bit = 0; bit < m2.length * 8; bit += 5) {
    const [init, resp] = ikPair();
    resp.readMessage(init.writeMessage(Buffer.from('payload-one')));
    resp.setPsks([psk]);
    const good = resp.writeMessage(Buffer.from('payload-two'));
    const bad = Buffer.from(good);
    bad[bit >> 3]! ^= 1 << (bit & 7);
    const err = t.throws(() => init.readMessage(bad));
    t.true(
      isXnatError(err, 'XNAT_ERR_CRYPTO_DECRYPT') || isXnatError(err, 'XNAT_ERR_CRYPTO_DH'),
      `bit ${bit}`,
    );
  }
});

test('a message too short for its tokens is XNAT_ERR_LINK_HANDSHAKE_MALFORMED', (t) => {
  const [init] = ikPair();
  const m1 = init.writeMessage(new Uint8Array(0));
  for (const len of [0, 31, 32, 79, 95]) {
    const resp = new HandshakeState({ protocolName: IK, initiator: false, prologue, s: relay });
    throwsCode(t, () => resp.readMessage(m1.subarray(0, len)), 'XNAT_ERR_LINK_HANDSHAKE_MALFORMED');
  }
  t.is(m1.length, 32 + 48 + 16);
});

test('steps out of turn, after completion, and split before completion are XNAT_ERR_CRYPTO_HANDSHAKE_STATE', (t) => {
  const [init, resp] = ikPair();
  throwsCode(t, () => init.readMessage(Buffer.alloc(64)), 'XNAT_ERR_CRYPTO_HANDSHAKE_STATE');
  throwsCode(t, () => resp.writeMessage(new Uint8Array(0)), 'XNAT_ERR_CRYPTO_HANDSHAKE_STATE');
  throwsCode(t, () => init.split(), 'XNAT_ERR_CRYPTO_HANDSHAKE_STATE');
  t.true(init.isMyTurn);
  t.false(resp.isMyTurn);
  resp.readMessage(init.writeMessage(new Uint8Array(0)));
  resp.setPsks([psk]);
  init.readMessage(resp.writeMessage(new Uint8Array(0)));
  throwsCode(t, () => init.writeMessage(new Uint8Array(0)), 'XNAT_ERR_CRYPTO_HANDSHAKE_STATE');
  throwsCode(t, () => resp.readMessage(Buffer.alloc(64)), 'XNAT_ERR_CRYPTO_HANDSHAKE_STATE');
  throwsCode(t, () => resp.setPsks([psk]), 'XNAT_ERR_CRYPTO_HANDSHAKE_STATE');
  t.false(init.isMyTurn);
});

test('missing keys are XNAT_ERR_CRYPTO_HANDSHAKE_KEYS', (t) => {
  throwsCode(
    t,
    () => new HandshakeState({ protocolName: IK, initiator: true, s: agent, psks: [psk] }),
    'XNAT_ERR_CRYPTO_HANDSHAKE_KEYS',
  );
  throwsCode(
    t,
    () => new HandshakeState({ protocolName: IK, initiator: true, rs: relay.publicKey }),
    'XNAT_ERR_CRYPTO_HANDSHAKE_KEYS',
  );
  throwsCode(
    t,
    () =>
      new HandshakeState({
        protocolName: IK,
        initiator: true,
        s: agent,
        rs: relay.publicKey,
        psks: [psk, psk],
      }),
    'XNAT_ERR_CRYPTO_HANDSHAKE_KEYS',
  );
  throwsCode(
    t,
    () =>
      new HandshakeState({
        protocolName: IK,
        initiator: true,
        s: agent,
        rs: relay.publicKey,
        psks: [psk.subarray(1)],
      }),
    'XNAT_ERR_CRYPTO_HANDSHAKE_KEYS',
  );
  // The responder never got its psk: message 2 cannot be written.
  const [init, resp] = ikPair();
  resp.readMessage(init.writeMessage(new Uint8Array(0)));
  throwsCode(t, () => resp.writeMessage(new Uint8Array(0)), 'XNAT_ERR_CRYPTO_HANDSHAKE_KEYS');
});

test('a low-order ephemeral key from the peer is XNAT_ERR_CRYPTO_DH', (t) => {
  const lowOrder = [
    Buffer.alloc(32),
    Buffer.concat([Buffer.of(1), Buffer.alloc(31)]),
    Buffer.from('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'hex'),
  ];
  for (const e of lowOrder) {
    const resp = new HandshakeState({ protocolName: 'Noise_NN_25519_ChaChaPoly_BLAKE2s', initiator: false });
    resp.readMessage(e); // NN message 1 is just e: the DH comes in message 2
    throwsCode(t, () => resp.writeMessage(new Uint8Array(0)), 'XNAT_ERR_CRYPTO_DH');
  }
});

test('messages over 65535 bytes are XNAT_ERR_CRYPTO_MESSAGE_SIZE, checked before any state change', (t) => {
  const [init, resp] = ikPair();
  // IKpsk2 message 1 carries e (32) + encrypted s (48) + payload + tag (16).
  const maxPayload = 65535 - 96;
  throwsCode(t, () => init.writeMessage(Buffer.alloc(maxPayload + 1)), 'XNAT_ERR_CRYPTO_MESSAGE_SIZE');
  const m1 = init.writeMessage(Buffer.alloc(maxPayload));
  t.is(m1.length, 65535);
  t.is(resp.readMessage(m1).length, maxPayload);
  const resp2 = new HandshakeState({ protocolName: IK, initiator: false, prologue, s: relay });
  throwsCode(t, () => resp2.readMessage(Buffer.alloc(65536)), 'XNAT_ERR_CRYPTO_MESSAGE_SIZE');
});

test('protocol names: pattern modifiers parse, anything unsupported is XNAT_ERR_CRYPTO_PROTOCOL_NAME', (t) => {
  t.deepEqual(getPattern('IKpsk2')?.messages, [
    ['e', 'es', 's', 'ss'],
    ['e', 'ee', 'se', 'psk'],
  ]);
  t.deepEqual(getPattern('NNpsk0+psk2')?.messages, [
    ['psk', 'e'],
    ['e', 'ee', 'psk'],
  ]);
  t.is(getPattern('XXpsk3')?.messages[2]?.at(-1), 'psk');
  t.is(getPattern('NNpsk3'), undefined);
  t.is(getPattern('XXfallback'), undefined);
  t.is(parseProtocolName('Noise_XX_25519_ChaChaPoly_SHA256').hash, 'SHA256');
  t.is(parseProtocolName('Noise_IKpsk2_25519_AESGCM_BLAKE2s').cipher, 'AESGCM');
  for (const bad of [
    'Noise_IK_448_ChaChaPoly_BLAKE2s',
    'Noise_IK_25519_AESGCM128_BLAKE2s',
    'Noise_IK_25519_aesgcm_BLAKE2s',
    'Noise_IK_25519_ChaChaPoly_SHA512',
    'Noise_QQ_25519_ChaChaPoly_BLAKE2s',
    'NoisePSK_IK_25519_ChaChaPoly_BLAKE2s',
    'Noise_IK_25519_ChaChaPoly',
  ]) {
    throwsCode(t, () => parseProtocolName(bad), 'XNAT_ERR_CRYPTO_PROTOCOL_NAME');
  }
});

test('fresh ephemeral keys: two handshakes with the same statics give different hashes and keys', (t) => {
  const run = () => {
    const [init, resp] = ikPair();
    resp.readMessage(init.writeMessage(new Uint8Array(0)));
    resp.setPsks([psk]);
    init.readMessage(resp.writeMessage(new Uint8Array(0)));
    return init.getHandshakeHash().toString('hex');
  };
  t.not(run(), run());
});
