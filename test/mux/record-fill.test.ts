// Full records for a lone stream: its DATA frames, packed into link records the way the link packs them
// (whole frames, greedily, 65 519 plaintext bytes each), fill the records; several streams keep their
// per-turn chunk, and the record estimate realigns after frames it did not see.
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { Mux } from '../../src/mux/mux.ts';
import type { MuxDuplex as MuxStream } from '../../src/mux/mux-duplex.ts';
import { STREAM_CHUNK_BYTES } from '../../src/mux/mux-transport.ts';
import { MIN_TOP_OFF_BYTES, RecordFill } from '../../src/mux/record-fill.ts';
import { encodedLength } from '../../src/wire/codec.ts';
import { FRAME_HEADER_BYTES, FrameType, MAX_FRAME_PAYLOAD, type Frame } from '../../src/wire/frame.ts';
import { memoryTransportPair, readAll, until } from './memory-transport.ts';

const RECORD = FRAME_HEADER_BYTES + MAX_FRAME_PAYLOAD;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Plaintext sizes of the records a link would seal for these frames, sent back to back. */
function pack(frames: readonly Frame[]): number[] {
  const records: number[] = [];
  let fill = 0;
  for (const f of frames) {
    const n = encodedLength(f);
    if (fill + n > RECORD) {
      records.push(fill);
      fill = 0;
    }
    fill += n;
  }
  if (fill > 0) records.push(fill);
  return records;
}

test('a lone stream writing 64 KiB chunks fills full records (two frames each), data intact', async (t) => {
  const [ta, tb] = memoryTransportPair();
  const relay = new Mux(ta, { role: 'relay' });
  const agent = new Mux(tb, { role: 'agent' });
  let got: Promise<Buffer> | undefined;
  agent.on('stream', (s: MuxStream) => (got = readAll(s)));
  const data = randomBytes(40 * 65_536);
  const s = relay.openStream(Buffer.from('bulk'));
  for (let off = 0; off < data.length; off += 65_536) s.write(data.subarray(off, off + 65_536));
  s.end();
  await until(() => got !== undefined);
  t.is(sha(await got!), sha(data));
  const frames = ta.sent.filter((f) => f.type === FrameType.STREAM_DATA);
  t.true(frames.every((f) => f.type === FrameType.STREAM_DATA && f.data.length <= MAX_FRAME_PAYLOAD));
  const records = pack(ta.sent);
  const full = records.slice(0, -1).filter((n) => n === RECORD).length;
  // 40 chunks of 64 KiB = 40.02 full records' worth: all but the edges are exactly full.
  t.true(records.length <= 42, `records ${records.length}`);
  t.true(full >= records.length - 3, `full ${full} of ${records.length}: ${records.join(',')}`);
});

test('several streams sending keep at most one chunk per turn, and still top off records', async (t) => {
  // A capped transport: the streams are all open and waiting before the first drain.
  const [ta, tb] = memoryTransportPair({ capBytes: 64 * 1024 });
  const relay = new Mux(ta, { role: 'relay' });
  const agent = new Mux(tb, { role: 'agent' });
  const reads: Promise<Buffer>[] = [];
  agent.on('stream', (s: MuxStream) => reads.push(readAll(s)));
  const inputs = [0, 1, 2].map(() => randomBytes(12 * 65_536));
  for (const input of inputs) relay.openStream(Buffer.from('bulk')).end(input);
  await until(() => reads.length === 3);
  const outs = await Promise.all(reads);
  t.deepEqual(outs.map(sha).sort(), inputs.map(sha).sort());
  // Past the first two frames (sent while the first stream was still alone, up to the cap), the three
  // take turns.
  const data = ta.sent.filter((f) => f.type === FrameType.STREAM_DATA);
  const interleaved = data.slice(2, data.length / 2);
  t.true(
    interleaved.every((f) => f.type === FrameType.STREAM_DATA && f.data.length <= STREAM_CHUNK_BYTES),
    'while others wait, a turn is one chunk at most',
  );
  const records = pack(
    ta.sent.slice(ta.sent.indexOf(interleaved[0]!), ta.sent.indexOf(interleaved.at(-1)!) + 1),
  );
  const full = records.filter((n) => n === RECORD).length;
  t.true(full >= records.length - 3, `full ${full} of ${records.length}: ${records.join(',')}`);
});

test('RecordFill: tops off, starts a new record below the minimum room, realigns after an unseen frame', (t) => {
  const fill = new RecordFill();
  t.is(fill.room, MAX_FRAME_PAYLOAD);
  fill.sent(RECORD); // a full frame: the next one starts a record
  t.is(fill.room, MAX_FRAME_PAYLOAD);
  fill.sent(37);
  t.is(fill.room, RECORD - 37 - FRAME_HEADER_BYTES);
  fill.sent(RECORD - 37 - MIN_TOP_OFF_BYTES); // room left below the minimum: not topped off
  t.is(fill.room, MAX_FRAME_PAYLOAD);
  fill.sent(100);
  fill.sent(RECORD); // does not fit after 100 bytes: a record of its own on both counts
  t.is(fill.room, MAX_FRAME_PAYLOAD);
});
