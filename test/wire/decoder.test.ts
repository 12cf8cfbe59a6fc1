// The streaming decoder: any split of any frame sequence decodes to the same frames; zero copy where promised.
import test from 'ava';
import fc from 'fast-check';
import { encodeFrame } from '../../src/wire/codec.ts';
import { FrameDecoder } from '../../src/wire/decoder.ts';
import { FRAME_HEADER_BYTES, FrameType, MAX_FRAME_PAYLOAD, type Frame } from '../../src/wire/frame.ts';
import { cut, frameArb } from './arbitraries.ts';

test('random frame sequences cut into random chunks decode to the same frames', (t) => {
  fc.assert(
    fc.property(
      fc.array(frameArb, { maxLength: 25 }),
      fc.array(fc.nat(), { maxLength: 40 }),
      (frames, points) => {
        const bytes = Buffer.concat(frames.flatMap((f) => encodeFrame(f)));
        const dec = new FrameDecoder();
        const out: Frame[] = [];
        for (const chunk of cut(bytes, points)) dec.push(chunk, (f) => out.push(f));
        t.deepEqual(out, frames);
        t.is(dec.buffered, 0);
      },
    ),
    { numRuns: 300 },
  );
});

test('the encoded parts themselves, pushed one by one, decode (header and zero-copy data as separate chunks)', (t) => {
  fc.assert(
    fc.property(fc.array(frameArb, { maxLength: 25 }), (frames) => {
      const dec = new FrameDecoder();
      const out: Frame[] = [];
      for (const part of frames.flatMap((f) => encodeFrame(f))) dec.push(part, (f) => out.push(f));
      t.deepEqual(out, frames);
    }),
    { numRuns: 200 },
  );
});

test('a data payload inside one chunk is a subarray of it; a straddling one is copied whole', (t) => {
  const data = Buffer.alloc(1000, 7);
  const [head, body] = encodeFrame({ type: FrameType.STREAM_DATA, streamId: 1, data });
  const chunk = Buffer.concat([head!, body!, head!, body!.subarray(0, 10)]);
  const dec = new FrameDecoder();
  const out: Frame[] = [];
  dec.push(chunk, (f) => out.push(f));
  t.is(out.length, 1);
  const first = out[0] as { data: Buffer };
  // Same memory: a write to the chunk shows through the frame's data.
  chunk[FRAME_HEADER_BYTES] = 0x55;
  t.is(first.data[0], 0x55);
  t.is(dec.buffered, FRAME_HEADER_BYTES + 10);
  dec.push(body!.subarray(10), (f) => out.push(f));
  const second = out[1] as { data: Buffer };
  t.deepEqual(second.data, data);
  // Its own memory: a write to the chunk it started in does not show through.
  chunk[chunk.length - 1] = 0x99;
  t.is(second.data[9], 7);
  t.is(dec.buffered, 0);
});

test('a maximum-size frame trickled one byte per chunk decodes, and buffered counts every byte', (t) => {
  const data = Buffer.alloc(MAX_FRAME_PAYLOAD);
  for (let i = 0; i < data.length; i += 997) data[i] = i & 0xff;
  const bytes = Buffer.concat(encodeFrame({ type: FrameType.STREAM_DATA, streamId: 9, data }));
  const dec = new FrameDecoder();
  const out: Frame[] = [];
  for (let i = 0; i < bytes.length; i++) {
    dec.push(bytes.subarray(i, i + 1), (f) => out.push(f));
    if (i === 5000) t.is(dec.buffered, 5001);
  }
  t.is(out.length, 1);
  t.deepEqual((out[0] as { data: Buffer }).data, data);
  t.is(dec.buffered, 0);
});

test('a throw from onFrame propagates and later frames stay buffered for the next push', (t) => {
  const a = Buffer.concat(encodeFrame({ type: FrameType.ACK, received: 1n }));
  const b = Buffer.concat(encodeFrame({ type: FrameType.ACK, received: 2n }));
  const dec = new FrameDecoder();
  t.throws(
    () =>
      dec.push(Buffer.concat([a, b]), () => {
        throw new Error('consumer failed');
      }),
    { message: 'consumer failed' },
  );
  t.is(dec.buffered, b.length);
  const out: Frame[] = [];
  dec.push(Buffer.alloc(0), (f) => out.push(f));
  t.deepEqual(out, [{ type: FrameType.ACK, received: 2n }]);
});
