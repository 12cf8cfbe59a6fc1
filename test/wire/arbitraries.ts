// fast-check arbitraries of valid frames for the wire tests; shared by codec and decoder tests.
import fc from 'fast-check';
import {
  FrameType,
  MAX_CODE_BYTES,
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
