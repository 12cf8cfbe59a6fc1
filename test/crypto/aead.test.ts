// Both ChaCha20-Poly1305 backends: the RFC 8439 vector, identical bytes, cross-decryption, tamper rejection.
import test from 'ava';
import fc from 'fast-check';
import { getAead } from '../../src/crypto/aead.ts';
import type { AeadBackendName } from '../../src/crypto/aead.ts';
import { nodeOpen, nodeSeal } from '../../src/crypto/aead-node.ts';
import { nobleOpen, nobleSeal } from '../../src/crypto/aead-noble.ts';
import { isXnatError } from '../../src/errors.ts';

const node = getAead('node');
const noble = getAead('noble');

// RFC 8439 section 2.8.2.
const RFC = {
  key: Buffer.from('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f', 'hex'),
  nonce: Buffer.from('070000004041424344454647', 'hex'),
  ad: Buffer.from('50515253c0c1c2c3c4c5c6c7', 'hex'),
  plaintext: Buffer.from(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  ),
  ciphertext:
    'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b' +
    '1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc' +
    '3ff4def08e4b7a9de576d26586cec64b6116',
  tag: '1ae10b594f09e26a7e902ecbd0600691',
};

test('RFC 8439 section 2.8.2 vector, both backends', (t) => {
  for (const [seal, open] of [
    [nodeSeal, nodeOpen],
    [nobleSeal, nobleOpen],
  ] as const) {
    const out = seal(RFC.key, RFC.nonce, RFC.ad, RFC.plaintext);
    t.is(out.toString('hex'), RFC.ciphertext + RFC.tag);
    t.deepEqual(open(RFC.key, RFC.nonce, RFC.ad, out), RFC.plaintext);
  }
});

test('the Noise nonce is 4 zero bytes then the 64-bit counter little-endian', (t) => {
  const n = 0x0102030405060708n;
  const nonce12 = Buffer.from('000000000807060504030201', 'hex');
  for (const a of [node, noble]) {
    t.deepEqual(
      a.encrypt(RFC.key, n, RFC.ad, RFC.plaintext),
      nobleSeal(RFC.key, nonce12, RFC.ad, RFC.plaintext),
    );
  }
});

test('each backend decrypts what the other encrypts, byte-identical, sizes 0..65535', (t) => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_fffen }),
      fc.uint8Array({ maxLength: 64 }),
      fc.integer({ min: 0, max: 65535 }),
      fc.integer(),
      (key, n, ad, size, seed) => {
        const pt = Buffer.alloc(size, seed & 0xff);
        for (let i = 0; i < size; i += 97) pt[i] = (seed >>> (i % 24)) & 0xff;
        const a = node.encrypt(key, n, ad, pt);
        const b = noble.encrypt(key, n, ad, pt);
        t.deepEqual(a, b);
        t.deepEqual(noble.decrypt(key, n, ad, a), pt);
        t.deepEqual(node.decrypt(key, n, ad, b), pt);
        return a.length === size + 16;
      },
    ),
    { numRuns: 60, seed: 8439 },
  );
  // The edges, always: empty, one byte, the largest Noise message's plaintext, and 65535.
  for (const size of [0, 1, 65519, 65535]) {
    const pt = Buffer.alloc(size, 0x5a);
    const a = node.encrypt(RFC.key, 7n, RFC.ad, pt);
    t.deepEqual(a, noble.encrypt(RFC.key, 7n, RFC.ad, pt));
    t.deepEqual(noble.decrypt(RFC.key, 7n, RFC.ad, a), pt);
  }
});

test('any single flipped bit in ciphertext, tag or ad is XNAT_ERR_CRYPTO_DECRYPT, in both backends', (t) => {
  const pt = Buffer.from('a small record with a tag');
  const ad = Buffer.from('associated');
  const ct = node.encrypt(RFC.key, 3n, ad, pt);
  let rejected = 0;
  for (const decryptor of [node, noble]) {
    for (let bit = 0; bit < ct.length * 8; bit++) {
      const bad = Buffer.from(ct);
      bad[bit >> 3]! ^= 1 << (bit & 7);
      t.true(
        isXnatError(
          t.throws(() => decryptor.decrypt(RFC.key, 3n, ad, bad)),
          'XNAT_ERR_CRYPTO_DECRYPT',
        ),
      );
      rejected++;
    }
    for (let bit = 0; bit < ad.length * 8; bit++) {
      const badAd = Buffer.from(ad);
      badAd[bit >> 3]! ^= 1 << (bit & 7);
      t.true(
        isXnatError(
          t.throws(() => decryptor.decrypt(RFC.key, 3n, badAd, ct)),
          'XNAT_ERR_CRYPTO_DECRYPT',
        ),
      );
      rejected++;
    }
    // Wrong nonce, truncated record, empty record.
    for (const [n, c] of [
      [4n, ct],
      [3n, ct.subarray(0, ct.length - 1)],
      [3n, ct.subarray(0, 15)],
      [3n, Buffer.alloc(0)],
    ] as const) {
      t.true(
        isXnatError(
          t.throws(() => decryptor.decrypt(RFC.key, n, ad, c)),
          'XNAT_ERR_CRYPTO_DECRYPT',
        ),
      );
    }
  }
  t.is(rejected, 2 * (ct.length + ad.length) * 8);
});

test('getAead: auto prefers node:crypto here, names are honoured, unknown is XNAT_ERR_CRYPTO_BACKEND', (t) => {
  t.is(getAead().name, 'node');
  t.is(getAead('auto').name, 'node');
  t.is(getAead('node').name, 'node');
  t.is(getAead('noble').name, 'noble');
  const err = t.throws(() => getAead('openssl' as AeadBackendName));
  t.true(isXnatError(err, 'XNAT_ERR_CRYPTO_BACKEND'));
});
