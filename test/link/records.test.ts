// The record layer of established links: frames both ways, RTT, tampering, malformed records and malformed
// link frames (each with its code), rekey by bytes and by time, keepalive on a blackholed path (fake
// clock), backpressure and close with a reason.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { isXnatError, type ErrorCode } from '../../src/errors.ts';
import { LinkAcceptor, type Link } from '../../src/link/link.ts';
import { HandshakeReader, runInitiator } from '../../src/link/handshake.ts';
import { createDuplexPair } from '../../src/transport/memory-pair.ts';
import { encodeFrame } from '../../src/wire/codec.ts';
import { FakeClock } from '../../src/util/clock.ts';
import { RECORD_MIN_BYTES } from '../../src/link/wire.ts';
import { loopTurn } from '../../src/link/batcher.ts';
import { FrameType, type Frame } from '../../src/wire/frame.ts';
import {
  closed,
  collect,
  dataFrame,
  dialAgent,
  makeKeys,
  startRelay,
  tapLinks,
  waitFor,
  writeAll,
  writeFrames,
} from './link-helpers.ts';

test('data both ways over TCP, random sizes, several MiB, in order; RTT reported', async (t) => {
  const keys = makeKeys();
  const relay = await startRelay({ staticKeys: keys.relay, lookupAgent: () => ({}) });
  const agent = await dialAgent(relay, keys);
  await waitFor(() => relay.links.length === 1);
  const r = relay.links[0]!;
  const up = randomBytes(6 * 1024 * 1024);
  const down = randomBytes(5 * 1024 * 1024 + 17);
  const gotUp = collect(r, up.length);
  const gotDown = collect(agent, down.length);
  await Promise.all([writeAll(agent, up), writeAll(r, down)]);
  t.true((await gotUp).equals(up));
  t.true((await gotDown).equals(down));
  await waitFor(() => agent.rttMs !== undefined && r.rttMs !== undefined, 5000, 'rtt');
  t.true(agent.rttMs! >= 0);
  t.true(agent.stats.bytesOut > up.length, 'bytesOut counts wire bytes');
  t.true(r.stats.bytesIn > up.length, 'bytesIn counts wire bytes');
  t.true(agent.stats.recordsOut >= Math.ceil(up.length / 65519));
  agent.close();
  await relay.close();
});

/**
 * Lets the link settle: keepalive answers flushed (the memory pair delivers in the check phase, so those
 * flushes run in a check phase too), then a check phase of a later iteration, where no record went out yet.
 */
async function quietTurn(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 5));
  await new Promise((resolve) => setImmediate(resolve));
}

test('many small writes in one tick are batched into few records', async (t) => {
  const { agent, relay } = await tapLinks(makeKeys());
  const before = agent.stats.recordsOut;
  const got = collect(relay, 1000 * 10);
  for (let i = 0; i < 1000; i++) agent.write(dataFrame(Buffer.alloc(10, i & 0xff)));
  const data = await got;
  t.is(data.length, 10_000);
  t.is(data[9_999], 999 & 0xff);
  // 1000 frames of 20 bytes fit in one record; allow a keepalive or two in between.
  t.true(agent.stats.recordsOut - before <= 3, String(agent.stats.recordsOut - before));
  agent.destroy();
  relay.destroy();
});

test('write-through: a lone 64 B frame on an idle link is sealed in the same task, before the next turn', async (t) => {
  const { agent, relay } = await tapLinks(makeKeys());
  await waitFor(
    () => (agent as unknown as { socket: { writableLength: number } }).socket.writableLength === 0,
  );
  await quietTurn();
  const before = agent.stats.recordsOut;
  const got = collect(relay, 54);
  agent.write(dataFrame(Buffer.alloc(54, 1)));
  t.is(agent.stats.recordsOut, before, 'batched within the task that wrote it');
  await Promise.resolve(); // one microtask: no timer, no setImmediate turn
  t.is(agent.stats.recordsOut, before + 1, 'sealed and handed to the socket at the end of the task');
  t.is((await got).length, 54);
  agent.destroy();
  relay.destroy();
});

test('a second record in one loop iteration waits for its check phase and shares it with later frames', async (t) => {
  if (loopTurn() === undefined) return t.pass('this Node has no loop count: every flush writes through');
  const { agent, relay } = await tapLinks(makeKeys());
  await waitFor(
    () => (agent as unknown as { socket: { writableLength: number } }).socket.writableLength === 0,
  );
  await quietTurn();
  const got = collect(relay, 3 * 54);
  const before = agent.stats.recordsOut;
  agent.write(dataFrame(Buffer.alloc(54, 1)));
  await Promise.resolve();
  t.is(agent.stats.recordsOut, before + 1, 'the first goes through at the end of its task');
  agent.write(dataFrame(Buffer.alloc(54, 2)));
  await Promise.resolve();
  t.is(agent.stats.recordsOut, before + 1, 'the second waits: this iteration already wrote a record');
  agent.write(dataFrame(Buffer.alloc(54, 3)));
  await new Promise((resolve) => setImmediate(resolve));
  t.is(agent.stats.recordsOut, before + 2, 'the second and third share one record, in the check phase');
  t.is((await got).length, 3 * 54);
  agent.destroy();
  relay.destroy();
});

test('a frame never straddles two records: 16 KiB frames go three to a record, whole', async (t) => {
  const { agent, relay } = await tapLinks(makeKeys());
  // 16 394 bytes: a 16 KiB DATA frame with its header; four of them do not fit in one record (65 519).
  const SIZE = 16_384;
  const COUNT = 40;
  const sizes: number[] = [];
  const done = new Promise<void>((resolve) =>
    relay.on('frame', (f: Frame) => {
      if (f.type === FrameType.STREAM_DATA) sizes.push(f.data.length);
      if (sizes.length === COUNT) resolve();
    }),
  );
  await waitFor(() => agent.stats.recordsOut > 0 && relay.stats.recordsIn > 0);
  const before = agent.stats.recordsOut;
  for (let i = 0; i < COUNT; i++) agent.write(dataFrame(Buffer.alloc(SIZE, i & 0xff)));
  await done;
  t.true(
    sizes.every((n) => n === SIZE),
    sizes.join(','),
  );
  // Three frames per record: 14 records, a keepalive or two aside.
  t.true(
    agent.stats.recordsOut - before <= Math.ceil(COUNT / 3) + 2,
    String(agent.stats.recordsOut - before),
  );
  agent.destroy();
  relay.destroy();
});

test('full frames fill full records: one record per MAX_FRAME_PAYLOAD frame, 65 535 bytes on the wire', async (t) => {
  const { tap, agent, relay } = await tapLinks(makeKeys());
  await waitFor(() => agent.stats.recordsOut > 0 && relay.stats.recordsIn > 0);
  const data = randomBytes(20 * 65_509);
  const before = { records: agent.stats.recordsOut, bytes: agent.stats.bytesOut };
  const got = collect(relay, data.length);
  writeFrames(agent, data);
  t.true((await got).equals(data));
  const records = agent.stats.recordsOut - before.records;
  t.true(records >= 20 && records <= 22, String(records));
  t.true(agent.stats.bytesOut - before.bytes <= 20 * (2 + 65_535) + 2 * 64);
  t.true(tap.fromAgent.length > 0);
  agent.destroy();
  relay.destroy();
});

test('one flipped bit in a transport record: XNAT_ERR_CRYPTO_DECRYPT and close', async (t) => {
  const { tap, agent, relay } = await tapLinks(makeKeys());
  const relayClosed = closed(relay);
  const agentClosed = closed(agent);
  tap.toRelay = (c) => {
    if (c.length < RECORD_MIN_BYTES) return c;
    const copy = Buffer.from(c);
    copy[copy.length >> 1]! ^= 0x10;
    tap.toRelay = (x) => x;
    return copy;
  };
  agent.write(dataFrame(randomBytes(5000)));
  const err = await relayClosed;
  t.true(isXnatError(err, 'XNAT_ERR_CRYPTO_DECRYPT'), String(err?.code));
  t.true(relay.closed);
  // The agent sees its socket go (a reset, not a crypto error: its own records were fine).
  const agentErr = await agentClosed;
  t.true(isXnatError(agentErr, 'XNAT_ERR_LINK_RESET'), String(agentErr?.code));
});

test('length prefix 0xFFFF with garbage: XNAT_ERR_CRYPTO_DECRYPT; a too-short record: malformed', async (t) => {
  const keys = makeKeys();
  const a = await tapLinks(keys);
  const aClosed = closed(a.relay);
  a.tap.toRelay = () => undefined; // silence the real agent so only garbage arrives
  const junk = Buffer.alloc(2 + 65535);
  junk.writeUInt16BE(0xffff, 0);
  randomBytes(65535).copy(junk, 2);
  a.tap.injectToRelay(junk);
  t.true(isXnatError(await aClosed, 'XNAT_ERR_CRYPTO_DECRYPT'));
  a.agent.destroy();

  const b = await tapLinks(keys);
  const bClosed = closed(b.relay);
  b.tap.toRelay = () => undefined;
  b.tap.injectToRelay(Buffer.from([0, 5, 1, 2, 3, 4, 5]));
  const err = await bClosed;
  t.true(isXnatError(err, 'XNAT_ERR_LINK_RECORD_MALFORMED'), String(err?.code));
  b.agent.destroy();
});

test('rekey by byte budget on both sides with data intact', async (t) => {
  const { agent, relay } = await tapLinks(
    makeKeys(),
    { rekeyAfterBytes: 100_000 },
    { rekeyAfterBytes: 150_000 },
  );
  const up = randomBytes(3 * 1024 * 1024);
  const down = randomBytes(2 * 1024 * 1024);
  const gotUp = collect(relay, up.length);
  const gotDown = collect(agent, down.length);
  await Promise.all([writeAll(agent, up), writeAll(relay, down)]);
  t.true((await gotUp).equals(up));
  t.true((await gotDown).equals(down));
  t.true(agent.stats.rekeys >= 20, String(agent.stats.rekeys));
  t.true(relay.stats.rekeys >= 10, String(relay.stats.rekeys));
  agent.destroy();
  relay.destroy();
});

test('rekey by time budget (fake clock) with data still flowing', async (t) => {
  const agentClock = new FakeClock();
  const relayClock = new FakeClock();
  const { agent, relay } = await tapLinks(
    makeKeys(),
    { clock: agentClock, rekeyAfterMs: 500 },
    { clock: relayClock, rekeyAfterMs: 700 },
  );
  for (let round = 1; round <= 4; round++) {
    const up = randomBytes(200_000);
    const down = randomBytes(150_000);
    const gotUp = collect(relay, up.length);
    const gotDown = collect(agent, down.length);
    writeFrames(agent, up);
    writeFrames(relay, down);
    agentClock.advance(500);
    relayClock.advance(700);
    t.true((await gotUp).equals(up));
    t.true((await gotDown).equals(down));
    t.is(agent.stats.rekeys, round);
    t.is(relay.stats.rekeys, round);
  }
  agent.destroy();
  relay.destroy();
});

test('keepalive timeout fires on a blackholed path (fake clock)', async (t) => {
  const agentClock = new FakeClock();
  const relayClock = new FakeClock();
  const { tap, agent, relay } = await tapLinks(makeKeys(), { clock: agentClock }, { clock: relayClock });
  await waitFor(() => agent.rttMs !== undefined && relay.rttMs !== undefined, 5000, 'first pongs');
  tap.toRelay = () => undefined;
  tap.toAgent = () => undefined;
  const agentClosed = closed(agent);
  const relayClosed = closed(relay);
  // Default 1 s pings, 2 s timeout: alive after one silent second, dead at the tick after two.
  agentClock.advance(1000);
  relayClock.advance(1000);
  await new Promise((r) => setImmediate(r));
  t.false(agent.closed, 'still alive before the deadline');
  agentClock.advance(1000);
  relayClock.advance(1000);
  t.true(isXnatError(await agentClosed, 'XNAT_ERR_LINK_KEEPALIVE'));
  t.true(isXnatError(await relayClosed, 'XNAT_ERR_LINK_KEEPALIVE'));
});

test('keepalive pings keep an idle link alive (fake clock)', async (t) => {
  const agentClock = new FakeClock();
  const relayClock = new FakeClock();
  const { agent, relay } = await tapLinks(makeKeys(), { clock: agentClock }, { clock: relayClock });
  for (let i = 0; i < 10; i++) {
    agentClock.advance(1000);
    relayClock.advance(1000);
    const pongs = agent.stats.recordsIn;
    await waitFor(() => agent.stats.recordsIn > pongs && relay.stats.recordsIn > i, 5000, 'ping round');
  }
  t.false(agent.closed);
  t.false(relay.closed);
  agent.destroy();
  relay.destroy();
});

test('backpressure: write() returns false on a stalled path, then drain and all bytes arrive', async (t) => {
  const { tap, agent, relay } = await tapLinks(makeKeys(), { highWaterMark: 256 * 1024 });
  const held: Buffer[] = [];
  tap.toRelay = (c) => {
    held.push(c);
    return undefined;
  };
  const data = randomBytes(2 * 1024 * 1024);
  let off = 0;
  let refused = false;
  while (off < data.length && !refused) {
    refused = !agent.write(dataFrame(data.subarray(off, off + 60_000)));
    off += 60_000;
  }
  t.true(refused, 'write() returned false');
  const drained = new Promise<void>((r) => agent.once('drain', r));
  const got = collect(relay, off);
  tap.toRelay = (c) => c;
  for (const c of held.splice(0)) tap.injectToRelay(c);
  await drained;
  t.true((await got).equals(data.subarray(0, off)));
  agent.destroy();
  relay.destroy();
});

test('close with a reason is delivered to the peer after pending data', async (t) => {
  const { agent, relay } = await tapLinks(makeKeys());
  const data = randomBytes(300_000);
  const got = collect(relay, data.length);
  const relayClosed = closed(relay);
  const agentClosed = closed(agent);
  writeFrames(agent, data);
  agent.close('XNAT_ERR_CLOSED', 'agent shutting down');
  t.true((await got).equals(data));
  const err = await relayClosed;
  t.true(isXnatError(err, 'XNAT_ERR_LINK_CLOSED_BY_PEER'));
  t.deepEqual(relay.remoteClose, { code: 'XNAT_ERR_CLOSED', reason: 'agent shutting down' });
  t.regex(err?.detail ?? '', /agent shutting down/);
  t.is(await agentClosed, undefined);
  t.false(agent.write(dataFrame(Buffer.from('late'))));
  agent.close(); // idempotent
  agent.destroy();
});

test('destroy is immediate and idempotent; close event once', async (t) => {
  const { agent, relay } = await tapLinks(makeKeys());
  let closes = 0;
  agent.on('close', () => closes++);
  const relayClosed = closed(relay);
  agent.destroy();
  agent.destroy();
  agent.close();
  t.is(closes, 1);
  t.true(isXnatError(await relayClosed, 'XNAT_ERR_LINK_RESET'));
});

/** A hand-driven agent: a real handshake, then records sealed by the test; resolves with the relay's Link. */
async function handAgent(): Promise<{ send: (plaintext: Buffer) => void; relay: Link; end: () => void }> {
  const keys = makeKeys();
  const [ours, theirs] = createDuplexPair();
  const acceptor = new LinkAcceptor({ staticKeys: keys.relay, lookupAgent: () => ({}) });
  const accepted = acceptor.accept(theirs);
  const reader = new HandshakeReader(ours);
  const init = await runInitiator(
    ours,
    reader,
    { staticKeys: keys.agent, remoteStaticKey: keys.relay.publicKey },
    {},
  );
  reader.release();
  ours.on('data', () => {});
  ours.on('error', () => {});
  ours.resume();
  const send = (pt: Buffer): void => {
    const ct = init.send.encryptWithAd(new Uint8Array(0), pt);
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16BE(ct.length, 0);
    ours.write(Buffer.concat([prefix, ct]));
  };
  send(Buffer.concat(encodeFrame({ type: FrameType.PING, id: 1n }))); // the key confirmation
  return { send, relay: await accepted, end: () => ours.destroy() };
}

const frameHeader = (type: number, length: number): Buffer => {
  const h = Buffer.alloc(10);
  h[0] = type;
  h.writeUInt32BE(length, 6);
  return h;
};

const malformedRecords: Array<[string, Buffer, string]> = [
  [
    'a PING of 7 bytes',
    Buffer.concat([frameHeader(FrameType.PING, 7), Buffer.alloc(7)]),
    'XNAT_ERR_WIRE_TRUNCATED',
  ],
  [
    'a PONG of 9 bytes',
    Buffer.concat([frameHeader(FrameType.PONG, 9), Buffer.alloc(9)]),
    'XNAT_ERR_WIRE_BAD_FIELD',
  ],
  [
    'a CLOSE with a lower-case code',
    Buffer.concat([frameHeader(FrameType.CLOSE, 4), Buffer.from([0, 2, 0x61, 0x62])]),
    'XNAT_ERR_WIRE_BAD_FIELD',
  ],
  [
    'a CLOSE of 1 byte',
    Buffer.concat([frameHeader(FrameType.CLOSE, 1), Buffer.alloc(1)]),
    'XNAT_ERR_WIRE_TRUNCATED',
  ],
  [
    'a frame after REKEY in its record',
    Buffer.concat([
      ...encodeFrame({ type: FrameType.REKEY }),
      ...encodeFrame({ type: FrameType.PING, id: 2n }),
    ]),
    'XNAT_ERR_LINK_RECORD_MALFORMED',
  ],
  [
    'a frame cut at the end of its record',
    Buffer.concat([frameHeader(FrameType.STREAM_DATA, 100), Buffer.alloc(50)]),
    'XNAT_ERR_WIRE_TRUNCATED',
  ],
];

for (const [name, plaintext, code] of malformedRecords) {
  test(`an authenticated record holding ${name}: ${code} and the link closes`, async (t) => {
    const agent = await handAgent();
    // STREAM_DATA needs a streamId: patch it in where the header says STREAM_DATA.
    if (plaintext[0] === FrameType.STREAM_DATA) plaintext.writeUInt32BE(1, 2);
    const relayClosed = closed(agent.relay);
    agent.send(plaintext);
    const err = await relayClosed;
    t.true(isXnatError(err, code as ErrorCode), String(err?.code));
    agent.end();
  });
}
