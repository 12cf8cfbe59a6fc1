// Key pairs, key text and fingerprints: round trips, and parse errors that never echo the text.
import test from 'ava';
import { diffieHellman, createPrivateKey, createPublicKey } from 'node:crypto';
import { dh } from '../../src/crypto/dh.ts';
import {
  encodeKey,
  generateKeyPair,
  keyFingerprint,
  parsePrivateKey,
  parsePsk,
  parsePublicKey,
  publicKeyFromPrivate,
} from '../../src/crypto/keys.ts';
import { isXnatError } from '../../src/errors.ts';

test('generated key pairs are raw 32 bytes, fresh, and consistent with publicKeyFromPrivate', (t) => {
  const a = generateKeyPair();
  const b = generateKeyPair();
  t.is(a.privateKey.length, 32);
  t.is(a.publicKey.length, 32);
  t.notDeepEqual(a.privateKey, b.privateKey);
  t.deepEqual(publicKeyFromPrivate(a.privateKey), a.publicKey);
  t.deepEqual(dh(a, b.publicKey), dh(b, a.publicKey));
});

test('RFC 7748 section 6.1 X25519 vector', (t) => {
  const alicePriv = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex');
  const bobPub = Buffer.from('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f', 'hex');
  t.is(
    publicKeyFromPrivate(alicePriv).toString('hex'),
    '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
  );
  const shared = dh({ privateKey: alicePriv, publicKey: publicKeyFromPrivate(alicePriv) }, bobPub);
  t.is(shared.toString('hex'), '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
  // Cross-check the DER wrapping against node:crypto's own JWK import.
  const jwk = (raw: Buffer, d?: Buffer) => ({
    kty: 'OKP',
    crv: 'X25519',
    x: raw.toString('base64url'),
    ...(d ? { d: d.toString('base64url') } : {}),
  });
  const viaJwk = diffieHellman({
    privateKey: createPrivateKey({ key: jwk(publicKeyFromPrivate(alicePriv), alicePriv), format: 'jwk' }),
    publicKey: createPublicKey({ key: jwk(bobPub), format: 'jwk' }),
  });
  t.deepEqual(viaJwk, shared);
});

test('key text round-trips through standard base64, url-safe accepted', (t) => {
  const { publicKey, privateKey } = generateKeyPair();
  const text = encodeKey(publicKey);
  t.regex(text, /^[A-Za-z0-9+/]{43}=$/);
  t.deepEqual(parsePublicKey(text, 'relays[0].publicKey'), publicKey);
  t.deepEqual(parsePrivateKey(encodeKey(privateKey), 'privateKey'), privateKey);
  t.deepEqual(parsePsk(` ${encodeKey(Buffer.alloc(32, 1))}\n`, 'agents[0].psk'), Buffer.alloc(32, 1));
  t.deepEqual(parsePublicKey(publicKey.toString('base64url'), 'x'), publicKey);
});

test('bad key text is XNAT_ERR_CONFIG_KEY_TEXT naming the key, never echoing the text', (t) => {
  const secretish = encodeKey(Buffer.alloc(31, 0x77)); // a 31-byte "key": the wrong length
  const bad = [secretish, '', 'not base64 at all!', encodeKey(Buffer.alloc(33, 1)), `${secretish}AAAA`];
  for (const parse of [parsePublicKey, parsePrivateKey, parsePsk]) {
    for (const text of bad) {
      const err = t.throws(() => parse(text, 'agents[3].psk'));
      t.true(isXnatError(err, 'XNAT_ERR_CONFIG_KEY_TEXT'));
      t.true(err!.message.includes('agents[3].psk'));
      if (text.length > 0) t.false(err!.message.includes(text), 'the text is not echoed');
      t.false(JSON.stringify(err).includes(secretish));
    }
  }
});

test('fingerprints are short, stable and distinct', (t) => {
  const a = generateKeyPair().publicKey;
  const b = generateKeyPair().publicKey;
  t.is(keyFingerprint(a).length, 8);
  t.is(keyFingerprint(a), encodeKey(a).slice(0, 8));
  t.not(keyFingerprint(a), keyFingerprint(b));
});
