// Round trips of every frame type, exact byte layouts, and each malformed case with its error code.
import test from 'ava';
import { isXnatError, type ErrorCode } from '../../src/errors.ts';
import {
  COPY_THRESHOLD_BYTES,
  decodeFrame,
  encodeFrame,
  encodedLength,
  frameTypeName,
} from '../../src/wire/codec.ts';
import { decodeFrames } from '../../src/wire/decoder.ts';
import {
  FRAME_HEADER_BYTES,
  FrameType,
  MAX_FRAME_PAYLOAD,
  MAX_OPEN_META_BYTES,
  type Frame,
} from '../../src/wire/frame.ts';

const b = (n: number, fill = 0xab): Buffer => Buffer.alloc(n, fill);

/** One valid example of every frame type. */
const EXAMPLES: Frame[] = [
  { type: FrameType.STREAM_OPEN, streamId: 7, meta: Buffer.from('{"m":1}'), data: Buffer.from('GET /') },
  { type: FrameType.STREAM_OPEN, streamId: 8, meta: Buffer.alloc(0), data: Buffer.alloc(0) },
  { type: FrameType.STREAM_DATA, streamId: 0xffffffff, data: b(5000) },
  { type: FrameType.STREAM_DATA, streamId: 1, data: Buffer.alloc(0) },
  { type: FrameType.STREAM_WINDOW, streamId: 3, delta: 0xffffffff },
  { type: FrameType.STREAM_FIN, streamId: 3 },
  { type: FrameType.STREAM_RESET, streamId: 3, code: 'XNAT_ERR_FORWARD_CONNECT' },
  { type: FrameType.COMMAND, body: b(3, 1) },
  { type: FrameType.SESSION_OPEN, version: 1 },
  { type: FrameType.SESSION_RESUME, sessionId: b(16, 1), proof: b(32, 2), received: (1n << 64n) - 1n },
  {
    type: FrameType.SESSION_ACCEPT,
    resumed: true,
    sessionId: b(16, 3),
    resumeSecret: b(32, 0),
    received: 42n,
  },
  {
    type: FrameType.SESSION_ACCEPT,
    resumed: false,
    sessionId: b(16, 3),
    resumeSecret: b(32, 9),
    received: 0n,
  },
  { type: FrameType.SESSION_REJECT, code: 'XNAT_ERR_AUTH_UNKNOWN_AGENT' },
  { type: FrameType.ACK, received: 123456789n },
  { type: FrameType.DATAGRAM, flowId: 0, data: b(10) },
  { type: FrameType.PING, id: 0n },
  { type: FrameType.PONG, id: (1n << 64n) - 1n },
  { type: FrameType.CLOSE, code: 'XNAT_ERR_CLOSED', reason: 'agent shutting down' },
  { type: FrameType.CLOSE, code: '', reason: '' },
  { type: FrameType.REKEY },
];

test('every frame type round-trips through encodeFrame and decodeFrame', (t) => {
  const seen = new Set<number>();
  for (const frame of EXAMPLES) {
    const bytes = Buffer.concat(encodeFrame(frame));
    t.is(bytes.length, encodedLength(frame), frameTypeName(frame.type));
    t.deepEqual(decodeFrame(bytes), frame, frameTypeName(frame.type));
    seen.add(frame.type);
  }
  t.is(seen.size, Object.keys(FrameType).length);
});

test('header layout: type, flags, streamId, length, big-endian', (t) => {
  const bytes = Buffer.concat(
    encodeFrame({
      type: FrameType.SESSION_ACCEPT,
      resumed: true,
      sessionId: b(16),
      resumeSecret: b(32),
      received: 1n,
    }),
  );
  t.deepEqual([...bytes.subarray(0, FRAME_HEADER_BYTES)], [0x12, 0x01, 0, 0, 0, 0, 0, 0, 0, 56]);
  t.is(bytes.readBigUInt64BE(FRAME_HEADER_BYTES + 48), 1n);
  const win = Buffer.concat(
    encodeFrame({ type: FrameType.STREAM_WINDOW, streamId: 0x01020304, delta: 0x0a0b0c0d }),
  );
  t.deepEqual([...win], [0x03, 0, 1, 2, 3, 4, 0, 0, 0, 4, 0x0a, 0x0b, 0x0c, 0x0d]);
  const open = Buffer.concat(
    encodeFrame({
      type: FrameType.STREAM_OPEN,
      streamId: 1,
      meta: Buffer.from('ab'),
      data: Buffer.from('c'),
    }),
  );
  t.deepEqual([...open.subarray(FRAME_HEADER_BYTES)], [0, 2, 0x61, 0x62, 0x63]);
});

test('big payloads are not copied on encode; small ones share the header buffer', (t) => {
  const big = b(COPY_THRESHOLD_BYTES + 1);
  const parts = encodeFrame({ type: FrameType.STREAM_DATA, streamId: 1, data: big });
  t.is(parts.length, 2);
  t.is(parts[1], big);
  t.is(parts[0]!.length, FRAME_HEADER_BYTES);
  const body = b(COPY_THRESHOLD_BYTES + 1);
  const cmd = encodeFrame({ type: FrameType.COMMAND, body });
  t.is(cmd[1], body);
  const open = encodeFrame({ type: FrameType.STREAM_OPEN, streamId: 1, meta: b(3), data: big });
  t.is(open[1], big);
  t.is(open[0]!.length, FRAME_HEADER_BYTES + 2 + 3);
  t.is(encodeFrame({ type: FrameType.STREAM_DATA, streamId: 1, data: b(COPY_THRESHOLD_BYTES) }).length, 1);
  t.is(encodeFrame({ type: FrameType.STREAM_DATA, streamId: 1, data: Buffer.alloc(0) }).length, 1);
});

/** Builds raw frame bytes with any header values, valid or not. */
function raw(
  type: number,
  flags: number,
  streamId: number,
  payload: Buffer | number[],
  length?: number,
): Buffer {
  const p = Buffer.from(payload);
  const h = Buffer.alloc(FRAME_HEADER_BYTES);
  h[0] = type;
  h[1] = flags;
  h.writeUInt32BE(streamId, 2);
  h.writeUInt32BE(length ?? p.length, 6);
  return Buffer.concat([h, p]);
}

const u64 = (n: bigint): Buffer => {
  const x = Buffer.alloc(8);
  x.writeBigUInt64BE(n);
  return x;
};

/** Each malformed frame with the code it must raise, via the streaming decoder (whole chunk). */
const MALFORMED: Array<[string, Buffer, ErrorCode]> = [
  ['unknown type 0x00', raw(0x00, 0, 0, []), 'XNAT_ERR_WIRE_BAD_TYPE'],
  ['unknown type 0x07', raw(0x07, 0, 0, []), 'XNAT_ERR_WIRE_BAD_TYPE'],
  ['unknown type 0xff', raw(0xff, 0, 0, []), 'XNAT_ERR_WIRE_BAD_TYPE'],
  ['length above max', raw(FrameType.STREAM_DATA, 0, 1, [], MAX_FRAME_PAYLOAD + 1), 'XNAT_ERR_WIRE_OVERSIZE'],
  ['length 0xffffffff', raw(FrameType.COMMAND, 0, 0, [], 0xffffffff), 'XNAT_ERR_WIRE_OVERSIZE'],
  ['flags on STREAM_DATA', raw(FrameType.STREAM_DATA, 0x01, 1, [1]), 'XNAT_ERR_WIRE_BAD_FIELD'],
  ['flag bit 1 on SESSION_ACCEPT', raw(FrameType.SESSION_ACCEPT, 0x02, 0, b(56)), 'XNAT_ERR_WIRE_BAD_FIELD'],
  ['streamId 0 on STREAM_DATA', raw(FrameType.STREAM_DATA, 0, 0, [1]), 'XNAT_ERR_WIRE_BAD_FIELD'],
  ['streamId 0 on STREAM_FIN', raw(FrameType.STREAM_FIN, 0, 0, []), 'XNAT_ERR_WIRE_BAD_FIELD'],
  ['streamId on COMMAND', raw(FrameType.COMMAND, 0, 5, [1]), 'XNAT_ERR_WIRE_BAD_FIELD'],
  ['streamId on ACK', raw(FrameType.ACK, 0, 5, u64(1n)), 'XNAT_ERR_WIRE_BAD_FIELD'],
  ['window delta 0', raw(FrameType.STREAM_WINDOW, 0, 1, [0, 0, 0, 0]), 'XNAT_ERR_WIRE_BAD_FIELD'],
  ['window length 5', raw(FrameType.STREAM_WINDOW, 0, 1, [0, 0, 0, 1, 0]), 'XNAT_ERR_WIRE_BAD_FIELD'],
  ['window length 3', raw(FrameType.STREAM_WINDOW, 0, 1, [0, 0, 1]), 'XNAT_ERR_WIRE_TRUNCATED'],
  ['fin with payload', raw(FrameType.STREAM_FIN, 0, 1, [0]), 'XNAT_ERR_WIRE_BAD_FIELD'],
  ['reset code lowercase', raw(FrameType.STREAM_RESET, 0, 1, Buffer.from('xnat')), 'XNAT_ERR_WIRE_BAD_FIELD'],
  ['reset code non-ascii', raw(FrameType.STREAM_RESET, 0, 1, [0x41, 0xc1]), 'XNAT_ERR_WIRE_BAD_FIELD'],
  ['reset code empty', raw(FrameType.STREAM_RESET, 0, 1, []), 'XNAT_ERR_WIRE_BAD_FIELD'],
  ['reset code 65 bytes', raw(FrameType.STREAM_RESET, 0, 1, b(65, 0x41)), 'XNAT_ERR_WIRE_BAD_FIELD'],
  [
    'reject code with space',
    raw(FrameType.SESSION_REJECT, 0, 0, Buffer.from('A B')),
    'XNAT_ERR_WIRE_BAD_FIELD',
  ],
  ['command empty body', raw(FrameType.COMMAND, 0, 0, []), 'XNAT_ERR_WIRE_BAD_FIELD'],
  ['open without meta length', raw(FrameType.STREAM_OPEN, 0, 1, [0]), 'XNAT_ERR_WIRE_TRUNCATED'],
  ['open meta beyond payload', raw(FrameType.STREAM_OPEN, 0, 1, [0, 5, 1, 2]), 'XNAT_ERR_WIRE_TRUNCATED'],
  [
    'open meta above max',
    raw(FrameType.STREAM_OPEN, 0, 1, Buffer.concat([Buffer.from([0x10, 0x01]), b(MAX_OPEN_META_BYTES + 1)])),
    'XNAT_ERR_WIRE_BAD_FIELD',
  ],
  ['session open length 1', raw(FrameType.SESSION_OPEN, 0, 0, [1]), 'XNAT_ERR_WIRE_TRUNCATED'],
  ['session open length 3', raw(FrameType.SESSION_OPEN, 0, 0, [0, 1, 0]), 'XNAT_ERR_WIRE_BAD_FIELD'],
  ['resume length 55', raw(FrameType.SESSION_RESUME, 0, 0, b(55)), 'XNAT_ERR_WIRE_TRUNCATED'],
  ['resume length 57', raw(FrameType.SESSION_RESUME, 0, 0, b(57)), 'XNAT_ERR_WIRE_BAD_FIELD'],
  ['accept length 0', raw(FrameType.SESSION_ACCEPT, 0, 0, []), 'XNAT_ERR_WIRE_TRUNCATED'],
  ['ack length 7', raw(FrameType.ACK, 0, 0, b(7)), 'XNAT_ERR_WIRE_TRUNCATED'],
  ['ack length 9', raw(FrameType.ACK, 0, 0, b(9)), 'XNAT_ERR_WIRE_BAD_FIELD'],
  ['ping length 7', raw(FrameType.PING, 0, 0, b(7)), 'XNAT_ERR_WIRE_TRUNCATED'],
  ['ping length 9', raw(FrameType.PING, 0, 0, b(9)), 'XNAT_ERR_WIRE_BAD_FIELD'],
  ['pong with a streamId', raw(FrameType.PONG, 0, 5, b(8)), 'XNAT_ERR_WIRE_BAD_FIELD'],
  ['ping with flags', raw(FrameType.PING, 1, 0, b(8)), 'XNAT_ERR_WIRE_BAD_FIELD'],
  ['rekey with a payload', raw(FrameType.REKEY, 0, 0, b(1)), 'XNAT_ERR_WIRE_BAD_FIELD'],
  ['close length 1', raw(FrameType.CLOSE, 0, 0, [0]), 'XNAT_ERR_WIRE_TRUNCATED'],
  ['close code beyond payload', raw(FrameType.CLOSE, 0, 0, [0, 9, 0x41]), 'XNAT_ERR_WIRE_TRUNCATED'],
  ['close code length 65', raw(FrameType.CLOSE, 0, 0, [0, 65, ...b(65, 0x41)]), 'XNAT_ERR_WIRE_BAD_FIELD'],
  ['close code lower case', raw(FrameType.CLOSE, 0, 0, [0, 2, 0x61, 0x62]), 'XNAT_ERR_WIRE_BAD_FIELD'],
  ['close reason 257 bytes', raw(FrameType.CLOSE, 0, 0, [0, 0, ...b(257, 0x41)]), 'XNAT_ERR_WIRE_BAD_FIELD'],
  ['close longer than its fields allow', raw(FrameType.CLOSE, 0, 0, b(400)), 'XNAT_ERR_WIRE_BAD_FIELD'],
];

for (const [name, bytes, code] of MALFORMED) {
  test(`malformed: ${name} -> ${code}`, (t) => {
    const frames: Frame[] = [];
    // After a valid frame in the same record: the valid one is delivered, then the code.
    const ack = Buffer.concat(encodeFrame({ type: FrameType.ACK, received: 1n }));
    const err = t.throws(() => decodeFrames(Buffer.concat([ack, bytes]), (f) => frames.push(f)));
    t.true(isXnatError(err, code), `${err?.message}`);
    t.truthy((err as { detail?: string }).detail);
    t.deepEqual(frames, [{ type: FrameType.ACK, received: 1n }]);
    // decodeFrame agrees on the code.
    t.true(
      isXnatError(
        t.throws(() => decodeFrame(bytes)),
        code,
      ),
    );
  });
}

test('a 4 GiB length is refused from the 10-byte header alone, even split across plaintext pieces', (t) => {
  const header = raw(FrameType.STREAM_DATA, 0, 1, [], 0xffffffff);
  const pieces = [...header].map((x) => Buffer.of(x));
  const err = t.throws(() => decodeFrames(pieces, () => t.fail()));
  t.true(isXnatError(err, 'XNAT_ERR_WIRE_OVERSIZE'));
  t.true(err!.message.includes('4294967295'));
});

test('maxPayload option lowers the limit', (t) => {
  const ok = Buffer.concat(encodeFrame({ type: FrameType.STREAM_DATA, streamId: 1, data: b(100) }));
  const frames: Frame[] = [];
  decodeFrames(ok, (f) => frames.push(f), 100);
  t.is(frames.length, 1);
  const tooBig = Buffer.concat(encodeFrame({ type: FrameType.STREAM_DATA, streamId: 1, data: b(101) }));
  t.true(
    isXnatError(
      t.throws(() => decodeFrames(tooBig, () => {}, 100)),
      'XNAT_ERR_WIRE_OVERSIZE',
    ),
  );
});

test('a frame cut short at the end of its record is TRUNCATED: frames never straddle records', (t) => {
  for (const frame of EXAMPLES) {
    const bytes = Buffer.concat(encodeFrame(frame));
    const frames: Frame[] = [];
    for (const cutAt of [bytes.length - 1, FRAME_HEADER_BYTES - 1]) {
      t.true(
        isXnatError(
          t.throws(() => decodeFrames(bytes.subarray(0, cutAt), (f) => frames.push(f))),
          'XNAT_ERR_WIRE_TRUNCATED',
        ),
        frameTypeName(frame.type),
      );
      t.true(
        isXnatError(
          t.throws(() => decodeFrame(bytes.subarray(0, cutAt))),
          'XNAT_ERR_WIRE_TRUNCATED',
        ),
      );
    }
    t.deepEqual(frames, []);
  }
});

test('the largest frame (MAX_FRAME_PAYLOAD) plus its header fills one record plaintext (65 535 - 16 bytes)', (t) => {
  t.is(FRAME_HEADER_BYTES + MAX_FRAME_PAYLOAD, 65535 - 16);
  const data = b(MAX_FRAME_PAYLOAD);
  t.is(encodedLength({ type: FrameType.STREAM_DATA, streamId: 1, data }), 65535 - 16);
});

test('a CLOSE reason over 256 bytes is cut on a character boundary when encoded', (t) => {
  const reason = 'é'.repeat(200); // 400 bytes of UTF-8
  const bytes = Buffer.concat(encodeFrame({ type: FrameType.CLOSE, code: 'XNAT_ERR_CLOSED', reason }));
  const back = decodeFrame(bytes);
  t.is(back.type === FrameType.CLOSE && back.reason, 'é'.repeat(128));
  const ctl = decodeFrame(
    Buffer.concat(encodeFrame({ type: FrameType.CLOSE, code: '', reason: 'a\nb\u0000c' })),
  );
  t.is(ctl.type === FrameType.CLOSE && ctl.reason, 'a b c', 'control characters never reach a log line');
});

test('encodeFrame refuses frames the peer would refuse', (t) => {
  const bad: Array<[unknown, ErrorCode]> = [
    [{ type: 0x7f }, 'XNAT_ERR_WIRE_BAD_TYPE'],
    [{ type: FrameType.STREAM_DATA, streamId: 1, data: b(MAX_FRAME_PAYLOAD + 1) }, 'XNAT_ERR_WIRE_OVERSIZE'],
    [{ type: FrameType.STREAM_DATA, streamId: 0, data: b(1) }, 'XNAT_ERR_WIRE_BAD_FIELD'],
    [{ type: FrameType.STREAM_DATA, streamId: 2 ** 32, data: b(1) }, 'XNAT_ERR_WIRE_BAD_FIELD'],
    [{ type: FrameType.STREAM_WINDOW, streamId: 1, delta: 0 }, 'XNAT_ERR_WIRE_BAD_FIELD'],
    [{ type: FrameType.STREAM_RESET, streamId: 1, code: 'bad code' }, 'XNAT_ERR_WIRE_BAD_FIELD'],
    [{ type: FrameType.STREAM_RESET, streamId: 1, code: 'A'.repeat(65) }, 'XNAT_ERR_WIRE_BAD_FIELD'],
    [{ type: FrameType.COMMAND, body: Buffer.alloc(0) }, 'XNAT_ERR_WIRE_BAD_FIELD'],
    [
      { type: FrameType.STREAM_OPEN, streamId: 1, meta: b(MAX_OPEN_META_BYTES + 1), data: b(0) },
      'XNAT_ERR_WIRE_BAD_FIELD',
    ],
    [{ type: FrameType.SESSION_OPEN, version: 0x10000 }, 'XNAT_ERR_WIRE_BAD_FIELD'],
    [
      { type: FrameType.SESSION_RESUME, sessionId: b(15), proof: b(32), received: 0n },
      'XNAT_ERR_WIRE_BAD_FIELD',
    ],
    [{ type: FrameType.ACK, received: -1n }, 'XNAT_ERR_WIRE_BAD_FIELD'],
    [{ type: FrameType.ACK, received: 1n << 64n }, 'XNAT_ERR_WIRE_BAD_FIELD'],
    [{ type: FrameType.PING, id: -1n }, 'XNAT_ERR_WIRE_BAD_FIELD'],
    [{ type: FrameType.CLOSE, code: 'not a code', reason: '' }, 'XNAT_ERR_WIRE_BAD_FIELD'],
    [{ type: FrameType.CLOSE, code: 'A'.repeat(65), reason: '' }, 'XNAT_ERR_WIRE_BAD_FIELD'],
  ];
  for (const [frame, code] of bad) {
    t.true(
      isXnatError(
        t.throws(() => encodeFrame(frame as Frame)),
        code,
      ),
      JSON.stringify(frame, (_k, v) => (typeof v === 'bigint' ? String(v) : v)).slice(0, 80),
    );
  }
});
