// fast-check arbitraries of frames (valid, at their limits, hostile headers), byte mutations and cuts.
// Shared by the wire tests and the fuzz tests (test/fuzz/); it knows no decoder, only shapes and bytes.
import fc from 'fast-check';
import {
  FRAME_HEADER_BYTES,
  FrameType,
  MAX_CODE_BYTES,
  MAX_FRAME_PAYLOAD,
  MAX_OPEN_META_BYTES,
  RESUME_PROOF_BYTES,
  RESUME_SECRET_BYTES,
  SESSION_ID_BYTES,
  type Frame,
} from '../../src/wire/frame.ts';

const bytes = (min: number, max: number): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ minLength: min, maxLength: max }).map((a) => Buffer.from(a));
const fixed = (n: number): fc.Arbitrary<Buffer> => bytes(n, n);
const streamId = fc.integer({ min: 1, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const code = fc.stringMatching(new RegExp(`^[A-Z0-9_]{1,${MAX_CODE_BYTES}}$`));
/** Mostly small data, sometimes above the copy threshold so both encode paths are exercised. */
const data = fc.oneof({ weight: 4, arbitrary: bytes(0, 64) }, { weight: 1, arbitrary: bytes(500, 3000) });

export const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({
    type: fc.constant(FrameType.STREAM_OPEN),
    streamId,
    meta: fc.oneof(bytes(0, 64), bytes(MAX_OPEN_META_BYTES, MAX_OPEN_META_BYTES)),
    data,
  }),
  fc.record({ type: fc.constant(FrameType.STREAM_DATA), streamId, data }),
  fc.record({
    type: fc.constant(FrameType.STREAM_WINDOW),
    streamId,
    delta: fc.integer({ min: 1, max: 0xffffffff }),
  }),
  fc.record({ type: fc.constant(FrameType.STREAM_FIN), streamId }),
  fc.record({ type: fc.constant(FrameType.STREAM_RESET), streamId, code }),
  fc.record({ type: fc.constant(FrameType.COMMAND), body: fc.oneof(bytes(1, 64), bytes(600, 2000)) }),
  fc.record({ type: fc.constant(FrameType.SESSION_OPEN), version: fc.integer({ min: 0, max: 0xffff }) }),
  fc.record({
    type: fc.constant(FrameType.SESSION_RESUME),
    sessionId: fixed(SESSION_ID_BYTES),
    proof: fixed(RESUME_PROOF_BYTES),
    received: u64,
  }),
  fc.record({
    type: fc.constant(FrameType.SESSION_ACCEPT),
    resumed: fc.boolean(),
    sessionId: fixed(SESSION_ID_BYTES),
    resumeSecret: fixed(RESUME_SECRET_BYTES),
    received: u64,
  }),
  fc.record({ type: fc.constant(FrameType.SESSION_REJECT), code }),
  fc.record({ type: fc.constant(FrameType.ACK), received: u64 }),
  fc.record({ type: fc.constant(FrameType.DATAGRAM), flowId: fc.integer({ min: 0, max: 0xffffffff }), data }),
) as fc.Arbitrary<Frame>;

/** The link's own frames (PING, PONG, CLOSE, REKEY), valid; reasons are printable ASCII (no control chars). */
export const linkFrameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({ type: fc.constant(FrameType.PING), id: u64 }),
  fc.record({ type: fc.constant(FrameType.PONG), id: u64 }),
  fc.record({
    type: fc.constant(FrameType.CLOSE),
    code: fc.oneof(fc.constant(''), code),
    reason: fc.stringMatching(/^[ -~]{0,256}$/),
  }),
  fc.record({ type: fc.constant(FrameType.REKEY) }),
) as fc.Arbitrary<Frame>;

/** Any valid frame, session or link. */
export const anyFrameArb: fc.Arbitrary<Frame> = fc.oneof({ weight: 4, arbitrary: frameArb }, linkFrameArb);

// ---- for the fuzz tests (test/fuzz/) and the split tests: limits, hostile headers, mutations, cuts

/** Frames at their size limits: 64 KiB payloads, 4 KiB open meta filling the frame, 64-byte codes. */
export const boundaryFrameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({
    type: fc.constant(FrameType.STREAM_DATA),
    streamId,
    data: fc.constantFrom(MAX_FRAME_PAYLOAD, MAX_FRAME_PAYLOAD - 1, 0).map((n) => Buffer.alloc(n, 0x5a)),
  }),
  fc.record({
    type: fc.constant(FrameType.STREAM_OPEN),
    streamId,
    meta: fixed(MAX_OPEN_META_BYTES),
    data: fc.constant(Buffer.alloc(MAX_FRAME_PAYLOAD - 2 - MAX_OPEN_META_BYTES, 0x33)),
  }),
  fc.record({ type: fc.constant(FrameType.COMMAND), body: fc.constant(Buffer.alloc(MAX_FRAME_PAYLOAD, 1)) }),
  fc.record({
    type: fc.constant(FrameType.DATAGRAM),
    flowId: fc.constantFrom(0, 0xffffffff),
    data: fc.constant(Buffer.alloc(MAX_FRAME_PAYLOAD, 2)),
  }),
  fc.record({
    type: fc.constant(FrameType.STREAM_RESET),
    streamId: fc.constantFrom(1, 0xffffffff),
    code: fc.constant('Z'.repeat(MAX_CODE_BYTES)),
  }),
  fc.record({
    type: fc.constant(FrameType.STREAM_WINDOW),
    streamId,
    delta: fc.constantFrom(1, 0xffffffff),
  }),
  fc.record({ type: fc.constant(FrameType.ACK), received: fc.constantFrom(0n, (1n << 64n) - 1n) }),
) as fc.Arbitrary<Frame>;

/**
 * A 10-byte frame header that is often almost right: a known type (sometimes any byte), flags mostly 0,
 * ids around 0, and a length near the type's fixed size, near the limit, or anything up to 2^32 - 1.
 */
export const headerArb: fc.Arbitrary<Buffer> = fc
  .record({
    type: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...Object.values(FrameType)) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xff }) },
    ),
    flags: fc.oneof(
      { weight: 4, arbitrary: fc.constant(0) },
      fc.constant(1),
      fc.integer({ min: 0, max: 0xff }),
    ),
    streamId: fc.oneof(fc.constant(0), fc.constant(1), fc.integer({ min: 0, max: 0xffffffff })),
    length: fc.oneof(
      { weight: 3, arbitrary: fc.integer({ min: 0, max: 80 }) },
      fc.integer({ min: MAX_FRAME_PAYLOAD - 2, max: MAX_FRAME_PAYLOAD + 2 }),
      fc.integer({ min: 0, max: 0xffffffff }),
    ),
  })
  .map(({ type, flags, streamId, length }) => {
    const h = Buffer.alloc(FRAME_HEADER_BYTES);
    h[0] = type;
    h[1] = flags;
    h.writeUInt32BE(streamId, 2);
    h.writeUInt32BE(length, 6);
    return h;
  });

/** One edit of a byte string: flip bits, overwrite, insert, delete, truncate, or repeat a slice. */
export type ByteEdit =
  | { op: 'flip'; at: number; mask: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; count: number }
  | { op: 'truncate'; at: number }
  | { op: 'repeat'; at: number; count: number };

export const byteEditArb: fc.Arbitrary<ByteEdit> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 0xff }) }),
  fc.record({
    op: fc.constant('set' as const),
    at: fc.nat(),
    value: fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0xff),
  }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 16 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('repeat' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 32 }) }),
);

/** Applies `edits` in order (positions taken modulo the current length). */
export function applyEdits(input: Buffer, edits: readonly ByteEdit[]): Buffer {
  let b = input;
  for (const e of edits) {
    const n = b.length;
    const at = n === 0 ? 0 : e.at % (n + 1);
    switch (e.op) {
      case 'flip':
      case 'set':
        if (n === 0) break;
        b = Buffer.from(b);
        b[at % n] = e.op === 'flip' ? b[at % n]! ^ e.mask : e.value;
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), e.bytes, b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + e.count)]);
        break;
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'repeat':
        b = Buffer.concat([b.subarray(0, at + e.count), b.subarray(at)]);
        break;
    }
  }
  return b;
}

/** `input` with 1 to `max` random edits. */
export function mutatedArb(input: fc.Arbitrary<Buffer>, max = 4): fc.Arbitrary<Buffer> {
  return fc
    .tuple(input, fc.array(byteEditArb, { minLength: 1, maxLength: max }))
    .map(([b, edits]) => applyEdits(b, edits));
}

/** Cut points for `cut`, from none to many. */
export const cutPointsArb: fc.Arbitrary<number[]> = fc.array(fc.nat(), { maxLength: 40 });

/** Cuts `bytes` at the given points (taken modulo its length) into chunks, some of them empty. */
export function cut(bytes: Buffer, points: readonly number[]): Buffer[] {
  const at = [...new Set(points.map((p) => (bytes.length === 0 ? 0 : p % (bytes.length + 1))))].sort(
    (a, b) => a - b,
  );
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of at) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

/**
 * Raw frame bytes whose length field matches the payload: a known type (sometimes any byte), flags and ids
 * mostly right, and a short payload of random bytes (so payload parsing, not just the header, is reached).
 */
export const rawFrameArb: fc.Arbitrary<Buffer> = fc
  .record({
    type: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...Object.values(FrameType)) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xff }) },
    ),
    flags: fc.oneof(
      { weight: 6, arbitrary: fc.constant(0) },
      fc.constant(1),
      fc.integer({ min: 0, max: 0xff }),
    ),
    streamId: fc.oneof(
      { weight: 3, arbitrary: fc.constant(1) },
      fc.constant(0),
      fc.integer({ min: 0, max: 0xffffffff }),
    ),
    payload: fc.oneof(
      fc.uint8Array({ maxLength: 72 }),
      // The sizes of the fixed-size types, so their fields get parsed.
      fc.constantFrom(2, 4, 8, 56).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
      // An ASCII code for RESET/REJECT, sometimes with a bad character.
      fc.stringMatching(/^[A-Z0-9_]{1,64}[a-z ]?$/).map((s) => Buffer.from(s, 'latin1')),
    ),
  })
  .map(({ type, flags, streamId, payload }) => {
    const h = Buffer.alloc(FRAME_HEADER_BYTES);
    h[0] = type;
    h[1] = flags;
    h.writeUInt32BE(streamId, 2);
    h.writeUInt32BE(payload.length, 6);
    return Buffer.concat([h, payload]);
  });
