// Flow control: a slow reader stops the sender, reading refills the window, the receive buffer stays
// within the window, windows grow only while the reader keeps up, and overrunning a window is a violation.
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { isXnatError } from '../../src/errors.ts';
import { Mux, type MuxOptions } from '../../src/mux/mux.ts';
import type { MuxDuplex as MuxStream } from '../../src/mux/mux-duplex.ts';
import { STREAM_INITIAL_WINDOW_BYTES } from '../../src/mux/mux-transport.ts';
import { FakeClock } from '../../src/util/clock.ts';
import { FrameType } from '../../src/wire/frame.ts';
import { closed, memoryTransportPair, quiet, readAll, until } from './memory-transport.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function pair(opts: Partial<MuxOptions> = {}) {
  const clock = new FakeClock();
  const [ta, tb] = memoryTransportPair();
  const relay = new Mux(ta, { role: 'relay', clock, ...opts });
  const agent = new Mux(tb, { role: 'agent', clock, ...opts });
  return { ta, tb, relay, agent, clock };
}

test('a reader that does not read stops the writer at the window; reading resumes it', async (t) => {
  const { ta, tb, relay, agent } = pair({ maxWindow: STREAM_INITIAL_WINDOW_BYTES });
  const data = randomBytes(MiB);
  const incoming = once(agent, 'stream') as Promise<[MuxStream]>;
  const s = relay.openStream(Buffer.from('m'));
  let writeDone = false;
  s.end(data, () => (writeDone = true));
  const [remote] = await incoming;
  await quiet(ta, tb);
  t.is(s.stats.bytesOut, STREAM_INITIAL_WINDOW_BYTES, 'sender stopped exactly at the window');
  t.is(s.stats.sendWindow, 0);
  t.is(remote.stats.recvBuffered, STREAM_INITIAL_WINDOW_BYTES);
  t.false(writeDone);
  const got = await readAll(remote);
  t.is(sha(got), sha(data));
  await until(() => writeDone, 5000, 'write callback');
  t.true(remote.stats.recvHighWater <= STREAM_INITIAL_WINDOW_BYTES);
});

test('a slow reader reading random amounts never holds more than the window', async (t) => {
  const { relay, agent } = pair({ maxWindow: STREAM_INITIAL_WINDOW_BYTES });
  const data = randomBytes(2 * MiB);
  const incoming = once(agent, 'stream') as Promise<[MuxStream]>;
  const s = relay.openStream(Buffer.from('m'));
  Readable.from([data]).pipe(s);
  const [remote] = await incoming;
  const parts: Buffer[] = [];
  let ended = false;
  remote.on('end', () => (ended = true));
  await until(
    () => {
      const want = 1 + Math.floor(Math.random() * 40 * KiB);
      const chunk = (remote.read(want) ?? remote.read()) as Buffer | null;
      if (chunk) parts.push(chunk);
      t.true(remote.stats.recvBuffered <= remote.stats.recvWindow);
      return ended;
    },
    20_000,
    'slow reader to finish',
  );
  t.is(sha(Buffer.concat(parts)), sha(data));
  t.true(
    remote.stats.recvHighWater <= STREAM_INITIAL_WINDOW_BYTES,
    `high water ${remote.stats.recvHighWater}`,
  );
  t.is(remote.stats.recvWindow, STREAM_INITIAL_WINDOW_BYTES);
});

test('a larger initial window is granted right after the open', async (t) => {
  const { ta, tb, relay, agent } = pair({ initialWindow: MiB, maxWindow: MiB });
  const incoming = once(agent, 'stream') as Promise<[MuxStream]>;
  const s = relay.openStream(Buffer.from('m'));
  s.write(randomBytes(3 * MiB));
  const [remote] = await incoming;
  await quiet(ta, tb);
  t.is(s.stats.bytesOut, MiB);
  t.is(remote.stats.recvBuffered, MiB);
  s.destroy();
});

test('the window grows while the reader keeps up, never beyond maxWindow', async (t) => {
  const { relay, agent } = pair({ maxWindow: 2 * MiB });
  const data = randomBytes(16 * MiB);
  const incoming = once(agent, 'stream') as Promise<[MuxStream]>;
  const s = relay.openStream(Buffer.from('m'));
  Readable.from([data]).pipe(s);
  const [remote] = await incoming;
  t.is(sha(await readAll(remote)), sha(data));
  t.is(remote.stats.recvWindow, 2 * MiB);
  t.true(remote.stats.recvHighWater <= 2 * MiB);
});

test('all streams of a session grow within one window budget; a finished stream gives its growth back', async (t) => {
  // Budget 768 KiB over the 256 KiB initial windows: one stream may reach 1 MiB, the next finds none left.
  const { relay, agent } = pair({ maxWindow: 4 * MiB, windowBudget: 768 * KiB });
  const streams: MuxStream[] = [];
  agent.on('stream', (s: MuxStream) => streams.push(s));
  const send = async (): Promise<MuxStream> => {
    const data = randomBytes(8 * MiB);
    const before = streams.length;
    Readable.from([data]).pipe(relay.openStream(Buffer.from('m')));
    await until(() => streams.length > before);
    const remote = streams[before]!;
    const got = readAll(remote);
    t.is(sha(await got), sha(data));
    return remote;
  };
  // Held open: its grown window is not released while it lives.
  const first = relay.openStream(Buffer.from('m'));
  const firstData = randomBytes(8 * MiB);
  first.write(firstData);
  await until(() => streams.length === 1);
  const firstRemote = streams[0]!;
  const firstGot: Buffer[] = [];
  firstRemote.on('data', (d: Buffer) => firstGot.push(d));
  await until(() => firstGot.reduce((n, b) => n + b.length, 0) === firstData.length);
  t.is(firstRemote.stats.recvWindow, MiB, 'the first stream took the whole budget');
  const second = await send();
  t.is(second.stats.recvWindow, STREAM_INITIAL_WINDOW_BYTES, 'nothing left for the second');
  first.end();
  await until(() => firstRemote.readableEnded || firstRemote.destroyed);
  firstRemote.end();
  await until(() => firstRemote.destroyed || agent.stats.streamsOpen <= 1);
  const third = await send();
  t.true(third.stats.recvWindow > STREAM_INITIAL_WINDOW_BYTES, 'the budget came back when the first ended');
});

test('eight bulk streams never hold more receive window together than the session budget allows', async (t) => {
  // Fake clock never advanced: every grant is "fast", so each stream asks for growth at every grant and
  // only the budget stops them. Checked at every delivered chunk, not just at the end.
  const budget = MiB;
  const n = 8;
  const { relay, agent } = pair({ maxWindow: 4 * MiB, windowBudget: budget });
  const bound = n * STREAM_INITIAL_WINDOW_BYTES + budget;
  const remotes: MuxStream[] = [];
  let worstWindow = 0;
  let worstBuffered = 0;
  const check = () => {
    let windows = 0;
    let buffered = 0;
    for (const r of remotes) {
      windows += r.stats.recvWindow;
      buffered += r.stats.recvBuffered;
    }
    worstWindow = Math.max(worstWindow, windows);
    worstBuffered = Math.max(worstBuffered, buffered);
  };
  const done: Promise<string>[] = [];
  agent.on('stream', (r: MuxStream) => {
    remotes.push(r);
    done.push(
      new Promise((resolve) => {
        const parts: Buffer[] = [];
        r.on('data', (d: Buffer) => {
          parts.push(d);
          check();
        });
        r.on('end', () => resolve(sha(Buffer.concat(parts))));
      }),
    );
  });
  const sent = Array.from({ length: n }, () => randomBytes(4 * MiB));
  for (const data of sent) Readable.from([data]).pipe(relay.openStream(Buffer.from('m')));
  await until(() => done.length === n);
  t.deepEqual(await Promise.all(done), sent.map(sha));
  t.true(worstWindow > n * STREAM_INITIAL_WINDOW_BYTES, 'the windows did grow');
  t.true(worstWindow <= bound, `windows ${worstWindow} within ${bound}`);
  t.true(worstBuffered <= bound, `buffered ${worstBuffered} within ${bound}`);
});

test('the window does not grow when grants are far apart (slow path, fake clock)', async (t) => {
  const { relay, agent, clock } = pair({ maxWindow: 4 * MiB });
  const data = randomBytes(2 * MiB);
  const incoming = once(agent, 'stream') as Promise<[MuxStream]>;
  const s = relay.openStream(Buffer.from('m'));
  Readable.from([data]).pipe(s);
  const [remote] = await incoming;
  const parts: Buffer[] = [];
  let ended = false;
  remote.on('end', () => (ended = true));
  await until(() => {
    clock.advance(1000); // every grant comes a second after the previous one
    const chunk = remote.read() as Buffer | null;
    if (chunk) parts.push(chunk);
    return ended;
  });
  t.is(sha(Buffer.concat(parts)), sha(data));
  t.is(remote.stats.recvWindow, STREAM_INITIAL_WINDOW_BYTES);
});

test('a peer that sends beyond the window is reset with XNAT_ERR_MUX_WINDOW_EXCEEDED', async (t) => {
  const [raw, tb] = memoryTransportPair();
  const agent = new Mux(tb, { role: 'agent' });
  const incoming = once(agent, 'stream') as Promise<[MuxStream]>;
  raw.sendReliable({
    type: FrameType.STREAM_OPEN,
    streamId: 1,
    meta: Buffer.from('m'),
    data: Buffer.alloc(STREAM_INITIAL_WINDOW_BYTES - 10),
  });
  const [remote] = await incoming;
  const err = new Promise<Error>((r) => remote.once('error', r));
  raw.sendReliable({ type: FrameType.STREAM_DATA, streamId: 1, data: Buffer.alloc(11) });
  t.true(isXnatError(await err, 'XNAT_ERR_MUX_WINDOW_EXCEEDED'));
  await closed(remote);
  await until(() => tb.sent.some((f) => f.type === FrameType.STREAM_RESET));
  const reset = tb.sent.find((f) => f.type === FrameType.STREAM_RESET);
  t.deepEqual(reset, { type: FrameType.STREAM_RESET, streamId: 1, code: 'XNAT_ERR_MUX_WINDOW_EXCEEDED' });
});

test('first data beyond the initial window in an OPEN is a violation too', async (t) => {
  const [raw, tb] = memoryTransportPair();
  const agent = new Mux(tb, { role: 'agent' });
  let streams = 0;
  agent.on('stream', () => streams++);
  raw.sendReliable({
    type: FrameType.STREAM_OPEN,
    streamId: 1,
    meta: Buffer.alloc(0),
    data: Buffer.alloc(STREAM_INITIAL_WINDOW_BYTES + 1),
  });
  await until(() => tb.sent.length > 0);
  t.deepEqual(tb.sent[0], {
    type: FrameType.STREAM_RESET,
    streamId: 1,
    code: 'XNAT_ERR_MUX_WINDOW_EXCEEDED',
  });
  t.is(streams, 0);
});
