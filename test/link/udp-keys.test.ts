// The UDP path's keys: both ends of a real IKpsk2 handshake derive the same pair, oriented opposite, and
// neither key is a record key (a record sealed by split()'s state differs from one sealed by a UDP key).
import test from 'ava';
import { HandshakeState } from '../../src/crypto/handshake-state.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { deriveUdpPathKeys } from '../../src/link/udp-keys.ts';
import { isXnatError } from '../../src/errors.ts';

const EMPTY = Buffer.alloc(0);
const NONCE_0 = Buffer.alloc(12);

function handshake(protocolName: string): [HandshakeState, HandshakeState] {
  const relay = generateKeyPair();
  const agent = generateKeyPair();
  const psk = Buffer.alloc(32, 7);
  const init = new HandshakeState({
    protocolName,
    initiator: true,
    prologue: EMPTY,
    s: agent,
    rs: relay.publicKey,
    psks: [psk],
  });
  const resp = new HandshakeState({ protocolName, initiator: false, prologue: EMPTY, s: relay });
  resp.readMessage(init.writeMessage(EMPTY));
  resp.setPsks([psk]);
  init.readMessage(resp.writeMessage(EMPTY));
  return [init, resp];
}

for (const [name, cipher] of [
  ['Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s', 'ChaChaPoly'],
  ['Noise_IKpsk2_25519_AESGCM_BLAKE2s', 'AESGCM'],
] as const) {
  test(`both ends derive one UDP key pair, apart from the record keys (${cipher})`, (t) => {
    const [init, resp] = handshake(name);
    const a = deriveUdpPathKeys(init, true, cipher, 'auto');
    const r = deriveUdpPathKeys(resp, false, cipher, 'auto');
    t.true(a.send.equals(r.recv));
    t.true(a.recv.equals(r.send));
    t.false(a.send.equals(a.recv));
    t.is(a.send.length, 32);
    t.is(a.aead.cipher, cipher);
    const pt = Buffer.from('same plaintext, same nonce');
    const record = init.split().send.encryptWithAd(EMPTY, pt);
    t.false(a.aead.seal(a.send, NONCE_0, EMPTY, pt).equals(record), 'not the initiator record key');
    const back = resp.split().send.encryptWithAd(EMPTY, pt);
    t.false(r.aead.seal(r.send, NONCE_0, EMPTY, pt).equals(back), 'not the responder record key');
    // A fresh handshake gives fresh keys.
    const [init2] = handshake(name);
    t.false(deriveUdpPathKeys(init2, true, cipher, 'auto').send.equals(a.send));
  });
}

test('keys cannot be derived before the handshake completes', (t) => {
  const hs = new HandshakeState({
    protocolName: 'Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s',
    initiator: false,
    prologue: EMPTY,
    s: generateKeyPair(),
  });
  const err = t.throws(() => deriveUdpPathKeys(hs, false, 'ChaChaPoly', 'auto'));
  t.true(isXnatError(err, 'XNAT_ERR_CRYPTO_HANDSHAKE_STATE'));
});
