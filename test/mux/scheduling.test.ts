// The scheduler: round-robin fairness measured in frames (not wall time), transport backpressure, and
// commands jumping ahead of stream data.
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { Mux } from '../../src/mux/mux.ts';
import type { MuxDuplex as MuxStream } from '../../src/mux/mux-duplex.ts';
import { FrameType, MAX_FRAME_PAYLOAD } from '../../src/wire/frame.ts';
import { frameBytes, memoryTransportPair, readAll, until } from './memory-transport.ts';

const KiB = 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Waits `n` event-loop turns: lets everything that is going to move, move. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

function endless(chunk: Buffer): Readable {
  return new Readable({
    read() {
      this.push(chunk);
    },
  });
}

test('an interactive stream is served within one scheduler round while bulk streams saturate', async (t) => {
  const BULK = 3;
  const [ta, tb] = memoryTransportPair({ capBytes: 64 * KiB });
  const relay = new Mux(ta, { role: 'relay' });
  const agent = new Mux(tb, { role: 'agent' });
  agent.on('stream', (s: MuxStream, meta: Buffer) => {
    s.on('error', () => undefined);
    if (meta.toString() === 'ping') s.pipe(s);
    else s.resume(); // a fast sink: bulk streams are limited by the transport, not by windows
  });
  const bulk: MuxStream[] = [];
  const sources: Readable[] = [];
  for (let i = 0; i < BULK; i++) {
    const s = relay.openStream(Buffer.from('bulk'));
    s.on('error', () => undefined);
    const src = endless(randomBytes(64 * KiB));
    src.pipe(s);
    bulk.push(s);
    sources.push(src);
  }
  const bulkIds = new Set(bulk.map((s) => s.id));
  const bulkFrames = () =>
    ta.sent.filter((f) => f.type === FrameType.STREAM_DATA && bulkIds.has(f.streamId)).length;
  await until(() => bulkFrames() > 200, 10_000, 'bulk streams to saturate');

  const ping = relay.openStream(Buffer.from('ping'));
  let worst = 0;
  for (let round = 0; round < 30; round++) {
    const mark = ta.sent.length;
    const echoed = new Promise((r) => ping.once('data', r));
    ping.write(Buffer.from([round]));
    let at = -1;
    await until(() => {
      at = ta.sent.findIndex(
        (f, i) => i >= mark && f.type === FrameType.STREAM_DATA && f.streamId === ping.id,
      );
      return at >= 0;
    });
    const ahead = ta.sent.slice(mark, at).filter((f) => f.type === FrameType.STREAM_DATA).length;
    worst = Math.max(worst, ahead);
    await echoed;
  }
  t.true(worst <= BULK, `at most one chunk per other stream ahead of the ping; worst ${worst}`);
  t.true(bulkFrames() > 300, 'bulk kept flowing during the pings');
  for (const src of sources) src.destroy();
  relay.destroy();
});

test('no stream data is sent while the transport is not writable; it resumes on drain', async (t) => {
  const CAP = 64 * KiB;
  const [ta, tb] = memoryTransportPair({ capBytes: CAP });
  const relay = new Mux(ta, { role: 'relay' });
  const agent = new Mux(tb, { role: 'agent' });
  let got: Promise<Buffer> | undefined;
  agent.on('stream', (s: MuxStream) => (got = readAll(s)));
  ta.hold();
  const data = randomBytes(1024 * KiB);
  const s = relay.openStream(Buffer.from('m'));
  s.end(data);
  await turns(20);
  const inFlight = () => ta.sent.reduce((n, f) => n + frameBytes(f), 0);
  const sentWhileHeld = ta.sent.length;
  t.false(ta.writable);
  // A stream sending alone gets full frames (MAX_FRAME_PAYLOAD): at most one of them past the cap.
  t.true(inFlight() <= CAP + MAX_FRAME_PAYLOAD + 64, `in flight ${inFlight()}`);
  await turns(20);
  t.is(ta.sent.length, sentWhileHeld, 'nothing more sent before drain');
  ta.step(2); // the peer takes two frames: under the cap again, 'drain'
  t.true(ta.sent.length > sentWhileHeld, 'sending resumed on drain');
  ta.release();
  await until(() => got !== undefined);
  t.is(sha(await got!), sha(data));
});

test('a command jumps ahead of queued stream data', async (t) => {
  const [ta, tb] = memoryTransportPair({ capBytes: 64 * KiB });
  const relay = new Mux(ta, { role: 'relay' });
  const agent = new Mux(tb, { role: 'agent' });
  let remote: MuxStream | undefined;
  agent.on('stream', (s: MuxStream) => {
    remote = s;
    s.resume();
  });
  ta.hold();
  const total = 512 * KiB;
  const s = relay.openStream(Buffer.from('m'));
  s.end(randomBytes(total));
  await turns(10);
  t.false(ta.writable);
  t.false(relay.sendCommand(Buffer.from('urgent')), 'accepted, but asks to back off');
  t.is(ta.sent.at(-1)?.type, FrameType.COMMAND, 'sent at once, not behind the stream data');
  let bytesAtCommand = -1;
  agent.on('command', () => (bytesAtCommand = remote?.stats.bytesIn ?? 0));
  ta.release();
  await until(() => remote !== undefined && remote.readableEnded);
  t.true(
    bytesAtCommand >= 0 && bytesAtCommand < total,
    `command arrived after ${bytesAtCommand} of ${total} bytes`,
  );
});
