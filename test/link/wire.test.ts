// Link byte codecs: the chunk queue under any chunking, the preface check, CLOSE bodies.
import test from 'ava';
import fc from 'fast-check';
import { isXnatError } from '../../src/errors.ts';
import {
  ByteQueue,
  CLOSE_REASON_MAX_BYTES,
  checkPreface,
  prefaceSuite,
  decodeClose,
  encodeClose,
  encodeHandshakeFrame,
  encodePreface,
} from '../../src/link/wire.ts';

test('ByteQueue parses u16-prefixed frames identically however the bytes are chunked', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 20 }),
      fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 50 }),
      (frames, cuts) => {
        const wire = Buffer.concat(frames.map((f) => encodeHandshakeFrame(7, f)));
        const q = new ByteQueue();
        const out: Buffer[] = [];
        let off = 0;
        let i = 0;
        while (off < wire.length) {
          const n = cuts[i++ % cuts.length]!;
          q.push(wire.subarray(off, off + n));
          off += n;
          while (q.length >= 2 && q.length >= 2 + q.peekU16()) {
            const len = q.peekU16();
            q.take(2);
            out.push(Buffer.from(q.take(len)));
          }
        }
        t.is(q.length, 0);
        t.deepEqual(
          out.map((b) => b.subarray(1)),
          frames.map((f) => Buffer.from(f)),
        );
      },
    ),
  );
});

test('ByteQueue peek does not consume and drain returns the rest', (t) => {
  const q = new ByteQueue();
  q.push(Buffer.from('ab'));
  q.push(Buffer.from('cde'));
  t.is(q.peek(4).toString(), 'abcd');
  t.is(q.take(1).toString(), 'a');
  t.is(q.peekU16(), 0x6263);
  t.deepEqual(Buffer.concat(q.drain()).toString(), 'bcde');
  t.is(q.length, 0);
});

test('checkPreface accepts the preface and refuses garbage as soon as it shows', (t) => {
  const p = encodePreface();
  t.deepEqual([...p], [0x58, 0x4e, 0x41, 0x54, 1, 0, 0, 0]);
  t.false(checkPreface(p.subarray(0, 3)));
  t.true(checkPreface(p));
  const early = t.throws(() => checkPreface(Buffer.from('GE')));
  t.true(isXnatError(early, 'XNAT_ERR_LINK_PREFACE'));
  const version = t.throws(() => checkPreface(encodePreface(9)));
  t.true(isXnatError(version, 'XNAT_ERR_LINK_PREFACE'));
  const reserved = Buffer.from(p);
  reserved[7] = 1;
  t.true(
    isXnatError(
      t.throws(() => checkPreface(reserved)),
      'XNAT_ERR_LINK_PREFACE',
    ),
  );
});

test('byte 5 of the preface is the suite id: 0 ChaCha20-Poly1305 (a version-1 preface), 1 AES-256-GCM, others refused', (t) => {
  t.is(prefaceSuite(encodePreface()), 'chacha20-poly1305');
  const aes = encodePreface(1, 1);
  t.deepEqual([...aes], [0x58, 0x4e, 0x41, 0x54, 1, 1, 0, 0]);
  t.true(checkPreface(aes));
  t.is(prefaceSuite(aes), 'aes-256-gcm');
  for (const id of [2, 0x80, 0xff]) {
    const err = t.throws(() => checkPreface(encodePreface(1, id)));
    t.true(isXnatError(err, 'XNAT_ERR_LINK_PREFACE'));
    t.regex((err as { detail?: string }).detail ?? '', new RegExp(`unknown cipher suite ${id}`));
  }
});

test('CLOSE bodies round-trip; reasons are capped on a character boundary; bad bodies are malformed', (t) => {
  const enc = encodeClose('XNAT_ERR_CLOSED', 'bye');
  t.deepEqual(decodeClose(enc.subarray(1)), { code: 'XNAT_ERR_CLOSED', reason: 'bye' });
  t.deepEqual(decodeClose(encodeClose('', '').subarray(1)), { code: '', reason: '' });
  const long = encodeClose('X', 'é'.repeat(300));
  const back = decodeClose(long.subarray(1));
  t.true(Buffer.byteLength(back.reason) <= CLOSE_REASON_MAX_BYTES);
  t.false(back.reason.includes('\uFFFD'));
  for (const bad of [
    Buffer.from([0]),
    Buffer.from([0, 5, 0x41]),
    Buffer.from([0, 1, 0x61]),
    Buffer.concat([Buffer.from([0, 0]), Buffer.alloc(CLOSE_REASON_MAX_BYTES + 1, 0x61)]),
  ]) {
    t.true(
      isXnatError(
        t.throws(() => decodeClose(bad)),
        'XNAT_ERR_LINK_RECORD_MALFORMED',
      ),
    );
  }
  t.is(decodeClose(Buffer.from([0, 0, 0x61, 0x0a, 0x62])).reason, 'a b');
});
