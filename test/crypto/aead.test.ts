// Both AEAD ciphers on both backends: published vectors, the Noise nonce layouts, identical bytes and
// cross-decryption (each backend opens what the other seals), tamper rejection, backend selection.
import test from 'ava';
import fc from 'fast-check';
import { AEAD_CIPHERS, NONCE_ORDER, getAead, prepareAead } from '../../src/crypto/aead.ts';
import type { AeadBackendName, AeadCipher } from '../../src/crypto/aead.ts';
import { writeNonce } from '../../src/crypto/nonce.ts';
import { isXnatError } from '../../src/errors.ts';

// The noble backend loads on demand (src/crypto/aead.ts); these tests call it without a link handshake.
test.before(() => prepareAead('noble'));

const BACKENDS = ['node', 'noble'] as const;

/** A fresh 12-byte Noise nonce for counter n in the cipher's byte order. */
function nonceFor(cipher: AeadCipher, n: number): Buffer {
  const b = Buffer.alloc(12);
  writeNonce(b, n, NONCE_ORDER[cipher]);
  return b;
}

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

/** RFC 8439 section 2.8.2 (ChaCha20-Poly1305) and the GCM spec's test case 16 (AES-256, 96-bit IV, AAD). */
const VECTORS: Record<AeadCipher, { key: Buffer; nonce: Buffer; ad: Buffer; pt: Buffer; ct: string }> = {
  ChaChaPoly: {
    key: hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f'),
    nonce: hex('070000004041424344454647'),
    ad: hex('50515253c0c1c2c3c4c5c6c7'),
    pt: Buffer.from(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
    ),
    ct:
      'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b' +
      '1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc' +
      '3ff4def08e4b7a9de576d26586cec64b6116' +
      '1ae10b594f09e26a7e902ecbd0600691',
  },
  AESGCM: {
    key: hex('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308'),
    nonce: hex('cafebabefacedbaddecaf888'),
    ad: hex('feedfacedeadbeeffeedfacedeadbeefabaddad2'),
    pt: hex(
      'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
    ),
    ct:
      '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662' +
      '76fc6ece0f4e1768cddf8853bb2d551b',
  },
};

for (const cipher of AEAD_CIPHERS) {
  test(`${cipher}: the published vector, both backends, seal, sealParts and open`, (t) => {
    const v = VECTORS[cipher];
    for (const backend of BACKENDS) {
      const aead = getAead(backend, cipher);
      t.is(aead.cipher, cipher);
      const out = aead.seal(v.key, v.nonce, v.ad, v.pt);
      t.is(out.toString('hex'), v.ct, backend);
      t.is(Buffer.concat(aead.sealParts(v.key, v.nonce, v.ad, v.pt)).toString('hex'), v.ct, backend);
      t.deepEqual(aead.open(v.key, v.nonce, v.ad, out), v.pt);
    }
  });

  test(`${cipher}: each backend decrypts what the other encrypts, byte-identical, sizes 0..65535`, (t) => {
    const node = getAead('node', cipher);
    const noble = getAead('noble', cipher);
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.uint8Array({ maxLength: 64 }),
        fc.integer({ min: 0, max: 65535 }),
        fc.integer(),
        (key, n, ad, size, seed) => {
          const pt = Buffer.alloc(size, seed & 0xff);
          for (let i = 0; i < size; i += 97) pt[i] = (seed >>> (i % 24)) & 0xff;
          const nonce = nonceFor(cipher, n);
          const a = node.seal(key, nonce, ad, pt);
          const b = noble.seal(key, nonce, ad, pt);
          t.deepEqual(a, b);
          t.deepEqual(noble.open(key, nonce, ad, a), pt);
          t.deepEqual(node.open(key, nonce, ad, b), pt);
          return a.length === size + 16;
        },
      ),
      // noble's AES is slow at 64 KiB; fewer runs keep the test in seconds.
      { numRuns: cipher === 'AESGCM' ? 25 : 60, seed: 8439 },
    );
    // The edges, always: empty, one byte, the largest Noise message's plaintext, and 65535.
    const v = VECTORS[cipher];
    for (const size of [0, 1, 65519, 65535]) {
      const pt = Buffer.alloc(size, 0x5a);
      const nonce = nonceFor(cipher, 7);
      const a = node.seal(v.key, nonce, v.ad, pt);
      t.deepEqual(a, noble.seal(v.key, nonce, v.ad, pt));
      t.deepEqual(noble.open(v.key, nonce, v.ad, a), pt);
    }
  });

  test(`${cipher}: any single flipped bit in ciphertext, tag or ad is XNAT_ERR_CRYPTO_DECRYPT, both backends`, (t) => {
    const v = VECTORS[cipher];
    const pt = Buffer.from('a small record with a tag');
    const ad = Buffer.from('associated');
    const nonce = nonceFor(cipher, 3);
    const ct = getAead('node', cipher).seal(v.key, nonce, ad, pt);
    let rejected = 0;
    const rejects = (fn: () => unknown): boolean => isXnatError(t.throws(fn), 'XNAT_ERR_CRYPTO_DECRYPT');
    for (const backend of BACKENDS) {
      const aead = getAead(backend, cipher);
      for (let bit = 0; bit < ct.length * 8; bit++) {
        const bad = Buffer.from(ct);
        bad[bit >> 3]! ^= 1 << (bit & 7);
        t.true(rejects(() => aead.open(v.key, nonce, ad, bad)));
        rejected++;
      }
      for (let bit = 0; bit < ad.length * 8; bit++) {
        const badAd = Buffer.from(ad);
        badAd[bit >> 3]! ^= 1 << (bit & 7);
        t.true(rejects(() => aead.open(v.key, nonce, badAd, ct)));
        rejected++;
      }
      // Wrong nonce, truncated record, tag only minus one, empty record.
      t.true(rejects(() => aead.open(v.key, nonceFor(cipher, 4), ad, ct)));
      for (const c of [ct.subarray(0, ct.length - 1), ct.subarray(0, 15), Buffer.alloc(0)]) {
        t.true(rejects(() => aead.open(v.key, nonce, ad, c)));
      }
    }
    t.is(rejected, 2 * (ct.length + ad.length) * 8);
  });
}

test('the Noise nonce: 4 zero bytes, then n little-endian for ChaChaPoly and big-endian for AESGCM', (t) => {
  const n = 0x0102_0304_0506; // above 2^32: both halves matter
  t.is(nonceFor('ChaChaPoly', n).toString('hex'), '00000000' + '0605040302010000');
  t.is(nonceFor('AESGCM', n).toString('hex'), '00000000' + '0000010203040506');
  t.is(nonceFor('AESGCM', Number.MAX_SAFE_INTEGER).toString('hex'), '00000000001fffffffffffff');
  t.is(nonceFor('ChaChaPoly', Number.MAX_SAFE_INTEGER).toString('hex'), '00000000ffffffffffff1f00');
});

test('getAead: auto prefers node:crypto here for both ciphers, names are honoured, unknown is XNAT_ERR_CRYPTO_BACKEND', (t) => {
  t.is(getAead().name, 'node');
  t.is(getAead().cipher, 'ChaChaPoly');
  for (const cipher of AEAD_CIPHERS) {
    t.is(getAead('auto', cipher).name, 'node');
    t.is(getAead('node', cipher).name, 'node');
    t.is(getAead('noble', cipher).name, 'noble');
    t.is(getAead('noble', cipher).cipher, cipher);
  }
  t.true(
    isXnatError(
      t.throws(() => getAead('openssl' as AeadBackendName)),
      'XNAT_ERR_CRYPTO_BACKEND',
    ),
  );
  t.true(
    isXnatError(
      t.throws(() => getAead('node', 'AESCCM' as AeadCipher)),
      'XNAT_ERR_CRYPTO_BACKEND',
    ),
  );
});
