// Link reads into one reused buffer: the opener keeps what a record straddling reads needs before the buffer
// is overwritten, chunks that come before a reader are kept, and a real link over such a socket carries
// random frames intact whatever the kernel's read sizes.
import net from 'node:net';
import test from 'ava';
import fc from 'fast-check';
import { getAead } from '../../src/crypto/aead.ts';
import { CipherState } from '../../src/crypto/cipher-state.ts';
import { RecordOpener } from '../../src/link/opener.ts';
import { connectReusingReads, readChunks } from '../../src/transport/reused-reads.ts';
import { encodeFrame } from '../../src/wire/codec.ts';
import { FrameType, MAX_FRAME_PAYLOAD } from '../../src/wire/frame.ts';
import { cut } from '../wire/arbitraries.ts';
import { dialAgent, makeKeys, startRelay, waitFor } from './link-helpers.ts';

const EMPTY = new Uint8Array(0);

test('records straddling reads of one reused buffer open intact, the buffer scribbled over after each read', (t) => {
  const key = Buffer.alloc(32, 3);
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: MAX_FRAME_PAYLOAD }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      (sizes, cuts) => {
        const [sender, receiver] = [0, 1].map(() => new CipherState(getAead('node', 'AESGCM')));
        sender!.initializeKey(key);
        receiver!.initializeKey(key);
        const stats = { bytesIn: 0, bytesOut: 0, recordsIn: 0, recordsOut: 0, rekeys: 0 };
        const opener = new RecordOpener(receiver!, stats);
        const plaintexts = sizes.map((n, i) =>
          Buffer.concat(
            encodeFrame({ type: FrameType.STREAM_DATA, streamId: 1, data: Buffer.alloc(n, i + 1) }),
          ),
        );
        const wire = Buffer.concat(
          plaintexts.flatMap((pt) => {
            const ct = sender!.encryptWithAd(EMPTY, pt);
            return [Buffer.from([ct.length >> 8, ct.length & 0xff]), ct];
          }),
        );
        const readBuffer = Buffer.alloc(wire.length);
        const got: Buffer[] = [];
        for (const piece of cut(wire, cuts)) {
          const chunk = readBuffer.subarray(0, piece.length);
          piece.copy(chunk);
          opener.push(chunk);
          opener.open(
            (p) => got.push(Buffer.isBuffer(p) ? p : Buffer.concat(p)),
            () => false,
          );
          opener.retainRest();
          readBuffer.fill(0xaa); // the next read lands here
        }
        return got.length === plaintexts.length && got.every((p, i) => p.equals(plaintexts[i]!));
      },
    ),
    { numRuns: 150 },
  );
  t.pass();
});

test('a reused-read socket: chunks are views of one buffer, bytes before a reader are kept, detach pauses', async (t) => {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const peer = new Promise<net.Socket>((r) => server.once('connection', r));
  const socket = connectReusingReads({ host: '127.0.0.1', port });
  await new Promise((r) => socket.once('connect', r));
  const p = await peer;
  p.write('early');
  // Read (into the early list: no reader yet) once the socket has counted the bytes.
  await waitFor(() => socket.bytesRead >= 'early'.length, 2000, 'early read');

  const got: string[] = [];
  const buffers = new Set<ArrayBufferLike>();
  let transientSeen = false;
  let detach = readChunks(socket, (c, transient) => {
    got.push(c.toString());
    if (transient) {
      transientSeen = true;
      buffers.add(c.buffer);
    }
  });
  t.deepEqual(got, ['early']); // handed over at once, as an owned copy
  socket.resume(); // the early chunk paused the socket; its reader resumes it
  for (const w of ['one', 'two', 'three']) {
    p.write(w);
    await waitFor(() => got.join('').endsWith(w), 2000, w);
  }
  t.true(transientSeen);
  t.is(buffers.size, 1); // every read went into the same memory

  detach();
  p.write('later');
  // The bytes are read off the kernel (into the early list), yet no detached reader sees them.
  await waitFor(() => socket.bytesRead >= 'earlyonetwothreelater'.length, 2000, 'later read');
  t.is(got.join(''), 'earlyonetwothree');
  detach = readChunks(socket, (c) => got.push(c.toString()));
  socket.resume();
  await waitFor(() => got.join('').endsWith('later'), 2000, 'later');
  detach();
  socket.destroy();
  p.destroy();
  server.close();
});

test('a link over a reused-read socket carries bulk and small frames to the dialling side intact', async (t) => {
  const keys = makeKeys();
  const relay = await startRelay({ staticKeys: keys.relay, lookupAgent: () => ({}) });
  const agent = await dialAgent(relay, keys); // dialTcp with reuseReads
  await waitFor(() => relay.links.length === 1);
  const relayLink = relay.links[0]!;
  const sizes = [MAX_FRAME_PAYLOAD, 17, 40_000, MAX_FRAME_PAYLOAD, 1, 65_000, 3000];
  const expected = Buffer.concat(sizes.map((n, i) => Buffer.alloc(n, i + 1)));
  const received: Buffer[] = [];
  agent.on('frame', (f: { type: number; data?: Buffer }) => {
    if (f.type === FrameType.STREAM_DATA && f.data) received.push(f.data);
  });
  for (let round = 0; round < 20; round++) {
    sizes.forEach((n, i) =>
      relayLink.write(
        encodeFrame({ type: FrameType.STREAM_DATA, streamId: 1, data: Buffer.alloc(n, i + 1) }),
      ),
    );
    await new Promise((r) => setImmediate(r));
  }
  await waitFor(() => received.reduce((a, b) => a + b.length, 0) >= expected.length * 20, 10_000, 'bytes');
  const all = Buffer.concat(received);
  for (let round = 0; round < 20; round++) {
    t.true(
      all.subarray(round * expected.length, (round + 1) * expected.length).equals(expected),
      `round ${round}`,
    );
  }
  t.false(agent.closed);
  agent.destroy();
  await relay.close();
});
