// Fuzzing the frame codec and the incremental decoder: any bytes, cut anyhow, give whole frames or a WIRE_*
// error, the same however cut, decided as soon as the header (or payload) is in; the encoder never emits
// what the decoder refuses. Budget: XNAT_FUZZ_SECONDS / XNAT_FUZZ_RUNS (see fuzz-kit.ts); cases kept in
// test/fixtures/fuzz/wire/.
import test from 'ava';
import fc from 'fast-check';
import type { ErrorCode, XnatError } from '../../src/errors.ts';
import { decodeFrame, encodeFrame } from '../../src/wire/codec.ts';
import { decodeFrames } from '../../src/wire/decoder.ts';
import {
  FRAME_HEADER_BYTES,
  FrameType,
  MAX_FRAME_PAYLOAD,
  MAX_OPEN_META_BYTES,
  type Frame,
} from '../../src/wire/frame.ts';
import {
  boundaryFrameArb,
  cut,
  cutPointsArb,
  frameArb,
  headerArb,
  mutatedArb,
  rawFrameArb,
} from '../wire/arbitraries.ts';
import { expectTyped, fixtureBytes, fuzzParams, fuzzTimeoutMs, loadFixtures, outcome } from './fuzz-kit.ts';

const WIRE_CODES: readonly ErrorCode[] = [
  'XNAT_ERR_WIRE_BAD_TYPE',
  'XNAT_ERR_WIRE_OVERSIZE',
  'XNAT_ERR_WIRE_TRUNCATED',
  'XNAT_ERR_WIRE_BAD_FIELD',
];

const encoded = (frames: readonly Frame[]): Buffer => Buffer.concat(frames.flatMap((f) => encodeFrame(f)));

/** Bytes that are sometimes frames: random, raw frames, hostile headers, mutated valid encodings. */
const bytesArb: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 128 }).map((a) => Buffer.from(a)),
  rawFrameArb,
  fc.tuple(headerArb, fc.uint8Array({ maxLength: 64 })).map(([h, p]) => Buffer.concat([h, p])),
  mutatedArb(frameArb.map((f) => encoded([f]))),
);

/** A stream of frames: valid ones, then maybe mutated, maybe followed by garbage. */
const streamArb: fc.Arbitrary<Buffer> = fc.oneof(
  fc.array(frameArb, { maxLength: 8 }).map(encoded),
  mutatedArb(fc.array(frameArb, { minLength: 1, maxLength: 8 }).map(encoded), 3),
  fc
    .tuple(fc.array(frameArb, { maxLength: 4 }).map(encoded), fc.array(bytesArb, { maxLength: 3 }))
    .map(([good, bad]) => Buffer.concat([good, ...bad])),
);

/** What the parser made of one record's plaintext given in pieces: the frames and the error (if any). */
interface Run {
  frames: Frame[];
  err: XnatError | undefined;
}

function run(pieces: readonly Buffer[], maxPayload: number): Run {
  const r: Run = { frames: [], err: undefined };
  try {
    decodeFrames(pieces, (f) => r.frames.push(f), maxPayload);
  } catch (err) {
    r.err = expectTyped(err, WIRE_CODES);
  }
  return r;
}

const maxPayloadArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant(MAX_FRAME_PAYLOAD) },
  fc.integer({ min: 0, max: 200 }),
);

test('decodeFrame on any bytes: a frame that re-encodes to exactly those bytes, or a WIRE_* error', (t) => {
  t.timeout(fuzzTimeoutMs(1.5));
  fc.assert(
    fc.property(bytesArb, (bytes) => {
      const r = outcome(() => decodeFrame(bytes), WIRE_CODES, 'decodeFrame');
      if (r.ok && !encoded([r.ok]).equals(bytes))
        throw new Error(`decoded frame re-encodes differently: ${bytes.toString('hex')}`);
    }),
    fuzzParams(1.5),
  );
  t.pass();
});

test('decodeFrames on any record plaintext, in any pieces: the same frames and error as whole, its own bytes', (t) => {
  t.timeout(fuzzTimeoutMs(2));
  fc.assert(
    fc.property(streamArb, cutPointsArb, maxPayloadArb, (bytes, points, maxPayload) => {
      const whole = run([bytes], maxPayload);
      const split = run(cut(bytes, points), maxPayload);
      // However the plaintext is pieced (piecewise decryption): the same frames, then the same error (or none).
      if (encoded(split.frames).compare(encoded(whole.frames)) !== 0) throw new Error('frames differ by cut');
      if (split.err?.code !== whole.err?.code)
        throw new Error(`error differs by cut: ${split.err?.code} vs ${whole.err?.code}`);
      // The frames are the input's own bytes, in order; without an error they are all of it.
      const consumed = encoded(split.frames);
      if (!bytes.subarray(0, consumed.length).equals(consumed)) throw new Error('frames are not the input');
      if (!split.err && consumed.length !== bytes.length) throw new Error('bytes left over without an error');
    }),
    fuzzParams(2),
  );
  t.pass();
});

test('round trip at the limits: frames of 64 KiB and full open meta, cut anyhow, decode to themselves', (t) => {
  t.timeout(fuzzTimeoutMs(0.5));
  fc.assert(
    fc.property(
      fc.array(fc.oneof(frameArb, boundaryFrameArb), { minLength: 1, maxLength: 6 }),
      cutPointsArb,
      (frames, points) => {
        const r = run(cut(encoded(frames), points), MAX_FRAME_PAYLOAD);
        if (r.err) throw r.err;
        t.deepEqual(r.frames, frames);
        return true;
      },
    ),
    fuzzParams(0.5),
  );
});

/** A valid frame with one field pushed out of range, or left alone. */
const skewedFrameArb: fc.Arbitrary<Frame> = fc
  .tuple(
    frameArb,
    fc.constantFrom(
      'streamId',
      'flowId',
      'delta',
      'code',
      'meta',
      'version',
      'received',
      'data',
      'body',
      'none',
    ),
    fc.oneof(
      fc.constantFrom(0, -1, 1.5, 2 ** 32, Number.NaN, 0xffffffff),
      fc.constantFrom(-1n, 1n << 64n, 0n),
      fc.string({ maxLength: 70, unit: 'binary' }),
      fc.constantFrom(
        Buffer.alloc(0),
        Buffer.alloc(MAX_OPEN_META_BYTES + 1),
        Buffer.alloc(MAX_FRAME_PAYLOAD - 1),
        Buffer.alloc(MAX_FRAME_PAYLOAD + 1),
      ),
    ),
  )
  .map(([frame, field, value]) => {
    if (field === 'none' || !(field in frame)) return frame;
    const f = { ...frame } as Record<string, unknown>;
    const old = f[field];
    // Keep the field's JS type (the type system rules out the rest); only its value is hostile.
    if (typeof old === typeof value || (Buffer.isBuffer(old) && Buffer.isBuffer(value))) f[field] = value;
    return f as unknown as Frame;
  });

test('encodeFrame: a typed WIRE_* refusal, or bytes that decode back to the same frame', (t) => {
  t.timeout(fuzzTimeoutMs(1));
  fc.assert(
    fc.property(skewedFrameArb, (frame) => {
      const r = outcome(() => encoded([frame]), WIRE_CODES, 'encodeFrame');
      if (r.err) return;
      t.deepEqual(decodeFrame(r.ok), frame);
    }),
    fuzzParams(1),
  );
});

test('a declared length above the limit is refused by the 10-byte header alone', (t) => {
  t.timeout(fuzzTimeoutMs(0.25));
  fc.assert(
    fc.property(
      fc.constantFrom(...Object.values(FrameType)),
      fc.integer({ min: MAX_FRAME_PAYLOAD + 1, max: 0xffffffff }),
      (type, length) => {
        const h = Buffer.alloc(FRAME_HEADER_BYTES);
        h[0] = type;
        h.writeUInt32BE(type >= FrameType.STREAM_OPEN && type <= FrameType.STREAM_RESET ? 1 : 0, 2);
        h.writeUInt32BE(length, 6);
        const r = run([h], MAX_FRAME_PAYLOAD);
        return r.err?.code === 'XNAT_ERR_WIRE_OVERSIZE';
      },
    ),
    fuzzParams(0.25),
  );
  t.pass();
});

for (const fx of loadFixtures('wire')) {
  test(`kept case ${fx.file}: ${fx.note}`, (t) => {
    const bytes = fixtureBytes(fx.hex ?? '');
    const whole = run([bytes], MAX_FRAME_PAYLOAD);
    const bytewise = run(
      [...bytes].map((_, i) => bytes.subarray(i, i + 1)),
      MAX_FRAME_PAYLOAD,
    );
    t.is(whole.err?.code ?? 'ok', fx.expect);
    t.is(bytewise.err?.code ?? 'ok', fx.expect);
    t.deepEqual(bytewise.frames, whole.frames);
  });
}
