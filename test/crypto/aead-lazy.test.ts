// The noble backend loads on demand: a fresh process has not evaluated @noble/ciphers; getAead('noble')
// before prepareAead is a typed error; 'auto' never needs it where node:crypto has both ciphers.
import test from 'ava';
import { getAead, needsNoble, prepareAead } from '../../src/crypto/aead.ts';
import { isXnatError } from '../../src/errors.ts';

test.serial(
  'noble is refused with XNAT_ERR_CRYPTO_BACKEND until prepareAead loads it; auto does not load it',
  async (t) => {
    t.false(needsNoble('auto'));
    t.false(needsNoble('node'));
    t.true(needsNoble('noble'));
    await prepareAead('auto');
    const err = t.throws(() => getAead('noble', 'AESGCM'));
    t.true(isXnatError(err) && err.code === 'XNAT_ERR_CRYPTO_BACKEND');
    t.is(getAead('auto', 'AESGCM').name, 'node');
    await prepareAead('noble');
    t.is(getAead('noble', 'AESGCM').name, 'noble');
    t.is(getAead('noble', 'ChaChaPoly').cipher, 'ChaChaPoly');
  },
);
