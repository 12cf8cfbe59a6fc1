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
import { FrameDecoder } from '../../src/wire/decoder.ts';
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
];

for (const [name, bytes, code] of MALFORMED) {
  test(`malformed: ${name} -> ${code}`, (t) => {
    const dec = new FrameDecoder();
    const frames: Frame[] = [];
    const err = t.throws(() => dec.push(bytes, (f) => frames.push(f)));
    t.true(isXnatError(err, code), `${err?.message}`);
    t.truthy((err as { detail?: string }).detail);
    t.deepEqual(frames, []);
    // The decoder is unusable afterwards: a valid frame is refused with the same error.
    const again = t.throws(() =>
      dec.push(Buffer.concat(encodeFrame({ type: FrameType.ACK, received: 1n })), () => {}),
    );
    t.is(again, err);
    t.is(dec.buffered, 0);
    // decodeFrame agrees on the code.
    t.true(
      isXnatError(
        t.throws(() => decodeFrame(bytes)),
        code,
      ),
    );
  });
}

test('a 4 GiB length is refused from the 10-byte header alone, before any payload is buffered', (t) => {
  const dec = new FrameDecoder();
  const header = raw(FrameType.STREAM_DATA, 0, 1, [], 0xffffffff);
  // Push the header one byte at a time: nothing is thrown until the header is whole.
  for (let i = 0; i < FRAME_HEADER_BYTES - 1; i++) dec.push(header.subarray(i, i + 1), () => t.fail());
  t.is(dec.buffered, FRAME_HEADER_BYTES - 1);
  const err = t.throws(() => dec.push(header.subarray(FRAME_HEADER_BYTES - 1), () => t.fail()));
  t.true(isXnatError(err, 'XNAT_ERR_WIRE_OVERSIZE'));
  t.true(err!.message.includes('4294967295'));
  t.is(dec.buffered, 0);
});

test('maxPayload option lowers the limit', (t) => {
  const dec = new FrameDecoder({ maxPayload: 100 });
  const ok = Buffer.concat(encodeFrame({ type: FrameType.STREAM_DATA, streamId: 1, data: b(100) }));
  const frames: Frame[] = [];
  dec.push(ok, (f) => frames.push(f));
  t.is(frames.length, 1);
  const tooBig = Buffer.concat(encodeFrame({ type: FrameType.STREAM_DATA, streamId: 1, data: b(101) }));
  t.true(
    isXnatError(
      t.throws(() => dec.push(tooBig, () => {})),
      'XNAT_ERR_WIRE_OVERSIZE',
    ),
  );
});

test('truncated fixed-size payloads wait for more bytes, then decode; decodeFrame calls them TRUNCATED', (t) => {
  for (const frame of EXAMPLES) {
    const bytes = Buffer.concat(encodeFrame(frame));
    const dec = new FrameDecoder();
    const frames: Frame[] = [];
    dec.push(bytes.subarray(0, bytes.length - 1), (f) => frames.push(f));
    t.deepEqual(frames, [], frameTypeName(frame.type));
    t.is(dec.buffered, bytes.length - 1);
    t.true(
      isXnatError(
        t.throws(() => decodeFrame(bytes.subarray(0, bytes.length - 1))),
        'XNAT_ERR_WIRE_TRUNCATED',
      ),
    );
    dec.push(bytes.subarray(bytes.length - 1), (f) => frames.push(f));
    t.deepEqual(frames, [frame]);
    t.is(dec.buffered, 0);
  }
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
