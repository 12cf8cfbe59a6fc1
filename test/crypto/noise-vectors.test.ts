// Known-answer tests: every Cacophony vector in test/fixtures/noise (ChaChaPoly and AESGCM), both AEAD
// backends, byte for byte.
import test from 'ava';
import { prepareAead } from '../../src/crypto/aead.ts';
import type { ExecutionContext } from 'ava';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { AeadBackendName } from '../../src/crypto/aead.ts';
import type { CipherState } from '../../src/crypto/cipher-state.ts';
import { HandshakeState } from '../../src/crypto/handshake-state.ts';
import type { KeyPair } from '../../src/crypto/keys.ts';
import { publicKeyFromPrivate } from '../../src/crypto/keys.ts';

// The noble backend loads on demand (src/crypto/aead.ts); these tests call it without a link handshake.
test.before(() => prepareAead('noble'));

interface Vector {
  protocol_name: string;
  init_prologue: string;
  init_ephemeral: string;
  init_static?: string;
  init_remote_static?: string;
  init_psks?: string[];
  resp_prologue: string;
  resp_ephemeral: string;
  resp_static?: string;
  resp_remote_static?: string;
  resp_psks?: string[];
  handshake_hash: string;
  messages: { payload: string; ciphertext: string }[];
}

/** Each fixture holds 118 vectors (59 patterns x 2 hashes); fewer means the file or the loader broke. */
const EXPECTED_VECTORS = 118;

const FIXTURES = { ChaChaPoly: 'cacophony-25519-chachapoly.json', AESGCM: 'cacophony-25519-aesgcm.json' };

function load(file: string): Vector[] {
  const path = resolve(import.meta.dirname, '..', 'fixtures', 'noise', file);
  return (JSON.parse(readFileSync(path, 'utf8')) as { vectors: Vector[] }).vectors;
}

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const pair = (priv: string | undefined): KeyPair | undefined =>
  priv === undefined ? undefined : { privateKey: hex(priv), publicKey: publicKeyFromPrivate(hex(priv)) };

type Backend = Exclude<AeadBackendName, 'auto'>;

function sides(v: Vector, backend: Backend): [HandshakeState, HandshakeState] {
  const init = new HandshakeState({
    protocolName: v.protocol_name,
    initiator: true,
    prologue: hex(v.init_prologue),
    s: pair(v.init_static),
    e: pair(v.init_ephemeral),
    rs: v.init_remote_static === undefined ? undefined : hex(v.init_remote_static),
    psks: v.init_psks?.map(hex),
    backend,
  });
  const resp = new HandshakeState({
    protocolName: v.protocol_name,
    initiator: false,
    prologue: hex(v.resp_prologue),
    s: pair(v.resp_static),
    e: pair(v.resp_ephemeral),
    rs: v.resp_remote_static === undefined ? undefined : hex(v.resp_remote_static),
    psks: v.resp_psks?.map(hex),
    backend,
  });
  return [init, resp];
}

/** Runs one vector; returns the number of messages checked. */
function runVector(t: ExecutionContext, v: Vector, backend: Backend): number {
  const [init, resp] = sides(v, backend);
  const hsLen = init.pattern.messages.length;
  let initCs: { send: CipherState; recv: CipherState } | undefined;
  let respCs: { send: CipherState; recv: CipherState } | undefined;
  v.messages.forEach((m, i) => {
    const label = `${v.protocol_name} message ${i}`;
    const payload = hex(m.payload);
    let ct: Buffer;
    let pt: Buffer;
    if (i < hsLen) {
      const [writer, reader] = i % 2 === 0 ? [init, resp] : [resp, init];
      ct = writer.writeMessage(payload);
      t.is(ct.toString('hex'), m.ciphertext, label);
      pt = reader.readMessage(ct);
      if (i === hsLen - 1) {
        t.true(init.isComplete && resp.isComplete, `${label}: complete`);
        t.is(init.getHandshakeHash().toString('hex'), v.handshake_hash, `${v.protocol_name} initiator h`);
        t.is(resp.getHandshakeHash().toString('hex'), v.handshake_hash, `${v.protocol_name} responder h`);
        initCs = init.split();
        respCs = resp.split();
      }
    } else {
      // Transport: one-way patterns keep the initiator sending; others alternate after the handshake.
      const initSends = init.pattern.oneWay || i % 2 === 0;
      const [send, recv] = initSends ? [initCs!.send, respCs!.recv] : [respCs!.send, initCs!.recv];
      ct = send.encryptWithAd(new Uint8Array(0), payload);
      t.is(ct.toString('hex'), m.ciphertext, label);
      pt = recv.decryptWithAd(new Uint8Array(0), ct);
    }
    t.is(pt.toString('hex'), m.payload, `${label}: payload`);
  });
  return v.messages.length;
}

for (const [cipher, file] of Object.entries(FIXTURES)) {
  const vectors = load(file);

  test(`${cipher}: the fixture yields every expected vector, and every pattern in it is supported`, (t) => {
    t.is(vectors.length, EXPECTED_VECTORS);
    for (const v of vectors) {
      t.is(v.protocol_name.split('_')[3], cipher);
      t.notThrows(() => sides(v, 'noble'), v.protocol_name);
    }
    t.true(vectors.some((v) => v.protocol_name === `Noise_IKpsk2_25519_${cipher}_BLAKE2s`));
  });

  for (const backend of ['node', 'noble'] as const) {
    test(`${cipher}: every vector matches byte for byte (${backend})`, (t) => {
      let vectorsRun = 0;
      let messages = 0;
      for (const v of vectors) {
        messages += runVector(t, v, backend);
        vectorsRun++;
      }
      t.is(vectorsRun, EXPECTED_VECTORS);
      t.true(messages >= EXPECTED_VECTORS * 2);
    });
  }
}
