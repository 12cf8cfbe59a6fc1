// CipherState and SymmetricState on both ciphers: the nonce (a number with its bytes kept in step) and its
// limit, Rekey per the spec, and HMAC/HKDF against node:crypto.
import test from 'ava';
import { createHmac } from 'node:crypto';
import { AEAD_CIPHERS, NONCE_ORDER, getAead, type AeadCipher, prepareAead } from '../../src/crypto/aead.ts';
import { CipherState, NONCE_MAX, NOISE_MAX_PLAINTEXT_BYTES } from '../../src/crypto/cipher-state.ts';
import { Nonce, REKEY_NONCE, writeNonce } from '../../src/crypto/nonce.ts';
import { BLAKE2s, SHA256 } from '../../src/crypto/hash.ts';
import { HandshakeState } from '../../src/crypto/handshake-state.ts';
import { isXnatError } from '../../src/errors.ts';

// The noble backend loads on demand (src/crypto/aead.ts); these tests call it without a link handshake.
test.before(() => prepareAead('noble'));

const AD = new Uint8Array(0);
const key = Buffer.alloc(32, 9);

function pair(
  backendA: 'node' | 'noble',
  backendB: 'node' | 'noble',
  cipher: AeadCipher = 'ChaChaPoly',
): [CipherState, CipherState] {
  const a = new CipherState(getAead(backendA, cipher));
  const b = new CipherState(getAead(backendB, cipher));
  a.initializeKey(key);
  b.initializeKey(key);
  return [a, b];
}

test('without a key, EncryptWithAd and DecryptWithAd pass bytes through', (t) => {
  const cs = new CipherState(getAead('noble'));
  cs.initializeKey(null);
  t.false(cs.hasKey());
  t.is(cs.encryptWithAd(AD, Buffer.from('clear')).toString(), 'clear');
  t.is(cs.nonce, 0);
});

test('the nonce stops at 2^53-1: encrypt and decrypt there are XNAT_ERR_CRYPTO_NONCE_EXHAUSTED', (t) => {
  for (const cipher of AEAD_CIPHERS) {
    const [a, b] = pair('node', 'noble', cipher);
    a.setNonce(NONCE_MAX - 1);
    b.setNonce(NONCE_MAX - 1);
    const last = a.encryptWithAd(AD, Buffer.from('last'));
    t.is(b.decryptWithAd(AD, last).toString(), 'last');
    t.is(a.nonce, NONCE_MAX);
    const e1 = t.throws(() => a.encryptWithAd(AD, Buffer.from('one more')));
    t.true(isXnatError(e1, 'XNAT_ERR_CRYPTO_NONCE_EXHAUSTED'));
    const e2 = t.throws(() => b.decryptWithAd(AD, last));
    t.true(isXnatError(e2, 'XNAT_ERR_CRYPTO_NONCE_EXHAUSTED'));
    t.is(a.nonce, NONCE_MAX);
  }
  const cs = new CipherState(getAead('node'));
  for (const bad of [-1, 0.5, NONCE_MAX + 1, Number.NaN]) {
    t.true(
      isXnatError(
        t.throws(() => cs.setNonce(bad)),
        'XNAT_ERR_INTERNAL',
      ),
    );
  }
});

test('Nonce.increment keeps the bytes equal to a fresh encoding, across the 2^32 carry, in both orders', (t) => {
  for (const order of ['le', 'be'] as const) {
    const n = new Nonce(order);
    const fresh = Buffer.alloc(12);
    for (const start of [0, 2 ** 32 - 3, 2 ** 40 - 2, NONCE_MAX - 3]) {
      n.set(start);
      for (let i = 0; i < 3; i++) {
        n.increment();
        writeNonce(fresh, start + i + 1, order);
        t.deepEqual(n.bytes, fresh, `${order} ${start + i + 1}`);
        t.is(n.value, start + i + 1);
      }
    }
  }
  // The Rekey nonce 2^64-1 reads the same in both orders.
  t.is(REKEY_NONCE.toString('hex'), '00000000ffffffffffffffff');
});

test("a CipherState encrypts with its cipher's nonce layout at n > 2^32", (t) => {
  for (const cipher of AEAD_CIPHERS) {
    const aead = getAead('noble', cipher);
    const cs = new CipherState(getAead('node', cipher));
    cs.initializeKey(key);
    const n = 2 ** 32 + 5;
    cs.setNonce(n);
    const nonce = Buffer.alloc(12);
    writeNonce(nonce, n, NONCE_ORDER[cipher]);
    t.deepEqual(cs.encryptWithAd(AD, Buffer.from('far')), aead.seal(key, nonce, AD, Buffer.from('far')));
  }
});

test('a failed decryption does not advance the nonce', (t) => {
  const [a, b] = pair('node', 'node');
  const ct = a.encryptWithAd(AD, Buffer.from('x'));
  const bad = Buffer.from(ct);
  bad[0]! ^= 1;
  t.true(
    isXnatError(
      t.throws(() => b.decryptWithAd(AD, bad)),
      'XNAT_ERR_CRYPTO_DECRYPT',
    ),
  );
  t.is(b.nonce, 0);
  t.is(b.decryptWithAd(AD, ct).toString(), 'x');
});

test('transport plaintext above 65519 bytes is XNAT_ERR_CRYPTO_MESSAGE_SIZE', (t) => {
  const [a, b] = pair('node', 'noble');
  const ct = a.encryptWithAd(AD, Buffer.alloc(NOISE_MAX_PLAINTEXT_BYTES));
  t.is(ct.length, 65535);
  t.is(b.decryptWithAd(AD, ct).length, NOISE_MAX_PLAINTEXT_BYTES);
  t.true(
    isXnatError(
      t.throws(() => a.encryptWithAd(AD, Buffer.alloc(NOISE_MAX_PLAINTEXT_BYTES + 1))),
      'XNAT_ERR_CRYPTO_MESSAGE_SIZE',
    ),
  );
  t.true(
    isXnatError(
      t.throws(() => b.decryptWithAd(AD, Buffer.alloc(65536))),
      'XNAT_ERR_CRYPTO_MESSAGE_SIZE',
    ),
  );
});

for (const [x, y, cipher] of [
  ['node', 'noble', 'ChaChaPoly'],
  ['noble', 'node', 'ChaChaPoly'],
  ['node', 'noble', 'AESGCM'],
  ['noble', 'node', 'AESGCM'],
] as const) {
  test(`Rekey follows the spec and both sides interoperate after it (${cipher} ${x} -> ${y})`, (t) => {
    const [a, b] = pair(x, y, cipher);
    for (let i = 0; i < 3; i++) b.decryptWithAd(AD, a.encryptWithAd(AD, Buffer.from(`m${i}`)));
    a.rekey();
    b.rekey();
    // The nonce is untouched by Rekey (spec section 11.3).
    t.is(a.nonce, 3);
    // Rekey() = first 32 bytes of ENCRYPT(k, 2^64-1, zerolen, zeros[32]); check with a raw AEAD.
    const expectedKey = getAead('noble', cipher)
      .seal(key, Buffer.from('00000000ffffffffffffffff', 'hex'), AD, new Uint8Array(32))
      .subarray(0, 32);
    const probe = new CipherState(getAead('noble', cipher));
    probe.initializeKey(expectedKey);
    probe.setNonce(3);
    const ct = a.encryptWithAd(AD, Buffer.from('after rekey'));
    t.deepEqual(ct, probe.encryptWithAd(AD, Buffer.from('after rekey')));
    t.is(b.decryptWithAd(AD, ct).toString(), 'after rekey');
    // A side that did not rekey cannot read the other.
    const [c, d] = pair(x, y, cipher);
    c.rekey();
    t.true(
      isXnatError(
        t.throws(() => d.decryptWithAd(AD, c.encryptWithAd(AD, Buffer.from('z')))),
        'XNAT_ERR_CRYPTO_DECRYPT',
      ),
    );
  });
}

for (const cipher of AEAD_CIPHERS) {
  test(`split CipherStates of a real handshake rekey in step (${cipher})`, (t) => {
    const init = new HandshakeState({
      protocolName: `Noise_NN_25519_${cipher}_SHA256`,
      initiator: true,
      backend: 'node',
    });
    const resp = new HandshakeState({
      protocolName: `Noise_NN_25519_${cipher}_SHA256`,
      initiator: false,
      backend: 'noble',
    });
    resp.readMessage(init.writeMessage(new Uint8Array(0)));
    init.readMessage(resp.writeMessage(new Uint8Array(0)));
    const a = init.split();
    const b = resp.split();
    a.send.rekey();
    b.recv.rekey();
    t.is(a.send.aead.cipher, cipher);
    t.is(b.recv.decryptWithAd(AD, a.send.encryptWithAd(AD, Buffer.from('ok'))).toString(), 'ok');
  });
}

test('HMAC built from the hash matches node:crypto HMAC, and HKDF chains as section 4.3 says', (t) => {
  for (const [h, nodeName] of [
    [BLAKE2s, 'blake2s256'],
    [SHA256, 'sha256'],
  ] as const) {
    for (const keyLen of [0, 32, 64, 65, 100]) {
      const k = Buffer.alloc(keyLen, 0xab);
      const data = Buffer.from('some data');
      t.deepEqual(h.hmac(k, data), createHmac(nodeName, k).update(data).digest(), `${h.name} key ${keyLen}`);
    }
    const ck = Buffer.alloc(32, 1);
    const ikm = Buffer.alloc(32, 2);
    const [o1, o2, o3] = h.hkdf(ck, ikm, 3);
    const temp = createHmac(nodeName, ck).update(ikm).digest();
    t.deepEqual(o1, createHmac(nodeName, temp).update(Buffer.of(1)).digest());
    t.deepEqual(
      o2,
      createHmac(nodeName, temp)
        .update(Buffer.concat([o1!, Buffer.of(2)]))
        .digest(),
    );
    t.deepEqual(
      o3,
      createHmac(nodeName, temp)
        .update(Buffer.concat([o2!, Buffer.of(3)]))
        .digest(),
    );
  }
});

test('encryptWithAdParts gives the bytes of encryptWithAd on each backend, steps the nonce, keeps no reference', (t) => {
  for (const [backend, cipher] of [
    ['node', 'ChaChaPoly'],
    ['noble', 'ChaChaPoly'],
    ['node', 'AESGCM'],
    ['noble', 'AESGCM'],
  ] as const) {
    const [a, b] = pair(backend, backend, cipher);
    const pt = Buffer.from('a record plaintext, reused by the caller');
    for (let i = 0; i < 3; i++) {
      const parts = a.encryptWithAdParts(AD, pt);
      const whole = b.encryptWithAd(AD, pt);
      t.true(Buffer.concat(parts).equals(whole), `${backend} record ${i}`);
      if (backend === 'node') t.is(parts.length, 2, 'ciphertext and tag apart');
      pt.fill(i); // the caller may reuse its buffer at once
      t.true(Buffer.concat(parts).equals(whole), `${backend} record ${i} after reuse`);
    }
    t.is(a.nonce, 3);
    const err = t.throws(() => a.encryptWithAdParts(AD, Buffer.alloc(NOISE_MAX_PLAINTEXT_BYTES + 1)));
    t.true(isXnatError(err) && err.code === 'XNAT_ERR_CRYPTO_MESSAGE_SIZE');
  }
});
