// The record frame parser: any frame sequence, as one plaintext or cut into any pieces, decodes to the same
// frames; payloads are views of the plaintext, only a frame straddling pieces is copied.
import test from 'ava';
import fc from 'fast-check';
import { isXnatError } from '../../src/errors.ts';
import { encodeFrame } from '../../src/wire/codec.ts';
import { decodeFrames } from '../../src/wire/decoder.ts';
import { FRAME_HEADER_BYTES, FrameType, MAX_FRAME_PAYLOAD, type Frame } from '../../src/wire/frame.ts';
import { anyFrameArb, cut } from './arbitraries.ts';

const decodeAll = (plaintext: Buffer | Buffer[]): Frame[] => {
  const out: Frame[] = [];
  decodeFrames(plaintext, (f) => out.push(f));
  return out;
};

test('random frame sequences, whole or cut into random pieces, decode to the same frames', (t) => {
  fc.assert(
    fc.property(
      fc.array(anyFrameArb, { maxLength: 25 }),
      fc.array(fc.nat(), { maxLength: 40 }),
      (frames, points) => {
        const bytes = Buffer.concat(frames.flatMap((f) => encodeFrame(f)));
        t.deepEqual(decodeAll(bytes), frames);
        t.deepEqual(decodeAll(cut(bytes, points)), frames);
      },
    ),
    { numRuns: 300 },
  );
});

test('the encoded parts themselves as pieces decode (header and zero-copy data as separate pieces)', (t) => {
  fc.assert(
    fc.property(fc.array(anyFrameArb, { maxLength: 25 }), (frames) => {
      t.deepEqual(decodeAll(frames.flatMap((f) => encodeFrame(f))), frames);
    }),
    { numRuns: 200 },
  );
});

test('a data payload inside one piece is a subarray of it; a straddling one is copied', (t) => {
  const data = Buffer.alloc(1000, 7);
  const [head, body] = encodeFrame({ type: FrameType.STREAM_DATA, streamId: 1, data });
  const first = Buffer.concat([head!, body!, head!, body!.subarray(0, 10)]);
  const second = Buffer.from(body!.subarray(10));
  const out = decodeAll([first, second]);
  t.is(out.length, 2);
  const a = out[0] as { data: Buffer };
  // Same memory: a write to the plaintext shows through the frame's data.
  first[FRAME_HEADER_BYTES] = 0x55;
  t.is(a.data[0], 0x55);
  const b = out[1] as { data: Buffer };
  t.deepEqual(b.data, data);
  // Its own memory: a write to the piece it started in does not show through.
  first[first.length - 1] = 0x99;
  t.is(b.data[9], 7);
});

test('a maximum-size frame in one-byte pieces decodes', (t) => {
  const data = Buffer.alloc(MAX_FRAME_PAYLOAD);
  for (let i = 0; i < data.length; i += 997) data[i] = i & 0xff;
  const bytes = Buffer.concat(encodeFrame({ type: FrameType.STREAM_DATA, streamId: 9, data }));
  const out = decodeAll(
    cut(
      bytes,
      Array.from({ length: bytes.length }, (_, i) => i),
    ),
  );
  t.is(out.length, 1);
  t.deepEqual((out[0] as { data: Buffer }).data, data);
});

test('a throw from onFrame propagates and later frames of the record are not decoded', (t) => {
  const a = Buffer.concat(encodeFrame({ type: FrameType.ACK, received: 1n }));
  const b = Buffer.concat(encodeFrame({ type: FrameType.ACK, received: 2n }));
  let calls = 0;
  t.throws(
    () =>
      decodeFrames(Buffer.concat([a, b]), () => {
        calls++;
        throw new Error('consumer failed');
      }),
    { message: 'consumer failed' },
  );
  t.is(calls, 1);
});

test('an empty plaintext holds no frame; trailing bytes short of a header are TRUNCATED', (t) => {
  t.is(
    decodeFrames(Buffer.alloc(0), () => t.fail()),
    0,
  );
  const ack = Buffer.concat(encodeFrame({ type: FrameType.ACK, received: 1n }));
  const err = t.throws(() => decodeFrames([ack, Buffer.of(0x14, 0)], () => {}));
  t.true(isXnatError(err, 'XNAT_ERR_WIRE_TRUNCATED'));
});
