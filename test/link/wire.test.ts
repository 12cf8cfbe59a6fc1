// Link byte codecs: the chunk queue under any chunking, the preface check and version, record sizes.
import test from 'ava';
import fc from 'fast-check';
import { isXnatError } from '../../src/errors.ts';
import {
  ByteQueue,
  LINK_PROTOCOL_VERSION,
  RECORD_MAX_PLAINTEXT_BYTES,
  RECORD_MIN_BYTES,
  checkPreface,
  prefaceSuite,
  encodeHandshakeFrame,
  encodePreface,
} from '../../src/link/wire.ts';
import { FRAME_HEADER_BYTES, MAX_FRAME_PAYLOAD } from '../../src/wire/frame.ts';

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
  t.is(LINK_PROTOCOL_VERSION, 2);
  t.deepEqual([...p], [0x58, 0x4e, 0x41, 0x54, 2, 0, 0, 0]);
  t.false(checkPreface(p.subarray(0, 3)));
  t.true(checkPreface(p));
  const early = t.throws(() => checkPreface(Buffer.from('GE')));
  t.true(isXnatError(early, 'XNAT_ERR_LINK_PREFACE'));
  for (const v of [1, 9]) {
    const version = t.throws(() => checkPreface(encodePreface(v)));
    t.true(isXnatError(version, 'XNAT_ERR_LINK_VERSION'));
  }
  const reserved = Buffer.from(p);
  reserved[7] = 1;
  t.true(
    isXnatError(
      t.throws(() => checkPreface(reserved)),
      'XNAT_ERR_LINK_PREFACE',
    ),
  );
});

test('byte 5 of the preface is the suite id: 0 ChaCha20-Poly1305, 1 AES-256-GCM, others refused', (t) => {
  t.is(prefaceSuite(encodePreface()), 'chacha20-poly1305');
  const aes = encodePreface(2, 1);
  t.deepEqual([...aes], [0x58, 0x4e, 0x41, 0x54, 2, 1, 0, 0]);
  t.true(checkPreface(aes));
  t.is(prefaceSuite(aes), 'aes-256-gcm');
  for (const id of [2, 0x80, 0xff]) {
    const err = t.throws(() => checkPreface(encodePreface(2, id)));
    t.true(isXnatError(err, 'XNAT_ERR_LINK_PREFACE'));
    t.regex((err as { detail?: string }).detail ?? '', new RegExp(`unknown cipher suite ${id}`));
  }
});

test('records and frames fit: the largest frame fills a record; the smallest record holds one header', (t) => {
  t.is(RECORD_MAX_PLAINTEXT_BYTES, FRAME_HEADER_BYTES + MAX_FRAME_PAYLOAD);
  t.is(RECORD_MIN_BYTES, FRAME_HEADER_BYTES + 16);
});
