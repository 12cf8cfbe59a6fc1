// joinSocketToStream: bytes from the stream reach the socket intact and in order, batched per tick, and a
// slow socket reader pauses the stream with the socket's write buffer held near its cap (invariant 1).
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { Duplex } from 'node:stream';
import type { ErrorCode } from '../../src/errors.ts';
import { SOCKET_WRITE_CAP_BYTES, joinSocketToStream } from '../../src/forward/tcp-pipe.ts';
import type { ByteReader, ByteStream } from '../../src/mux/byte-stream.ts';

const CHUNK_BYTES = 16 * 1024;

/** A stream whose readable side serves `data` in CHUNK_BYTES pieces, several per tick, as a mux does. */
class FakeStream extends Duplex {
  resetCode: ErrorCode | undefined;
  private at = 0;
  constructor(
    private readonly data: Buffer,
    private readonly onPushed: () => void,
  ) {
    super({ allowHalfOpen: true, readableHighWaterMark: CHUNK_BYTES });
  }
  reset(code: ErrorCode): void {
    this.resetCode = code;
    this.destroy(new Error(code));
  }
  override _read(): void {
    setImmediate(() => {
      while (this.at < this.data.length && !this.destroyed) {
        const more = this.push(this.data.subarray(this.at, this.at + CHUNK_BYTES));
        this.at += CHUNK_BYTES;
        this.onPushed();
        if (!more) return;
      }
      this.push(null);
    });
  }
  override _write(_c: Buffer, _e: BufferEncoding, cb: () => void): void {
    cb();
  }
}

test('a slow reader pauses the stream; the socket buffer stays bounded; every byte arrives in order', async (t) => {
  const data = randomBytes(48 * 1024 * 1024);
  let reader: net.Socket | undefined;
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    reader = s;
    s.pause();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise((r) => socket.once('connect', r));
  socket.pause();
  let maxBuffered = 0;
  const stream = new FakeStream(data, () => (maxBuffered = Math.max(maxBuffered, socket.writableLength)));
  const piped = joinSocketToStream(socket, stream);
  // Wait until the kernel buffers are full and the pipe pushes back: the stream stops being read.
  let last = -1;
  for (let i = 0; i < 200; i++) {
    await new Promise((r) => setTimeout(r, 10));
    if (maxBuffered >= SOCKET_WRITE_CAP_BYTES && stream.readableLength === last) break;
    last = stream.readableLength;
  }
  t.true(maxBuffered >= SOCKET_WRITE_CAP_BYTES, `pushed back (max buffered ${maxBuffered})`);
  t.true(maxBuffered <= SOCKET_WRITE_CAP_BYTES + 2 * CHUNK_BYTES, `bounded: ${maxBuffered}`);
  const chunks: Buffer[] = [];
  reader!.on('data', (c: Buffer) => chunks.push(c));
  // The stream's end becomes the socket's FIN after every byte; the reader's FIN ends the stream's writable side.
  reader!.once('end', () => reader!.end());
  reader!.resume();
  const result = await piped;
  t.true(result.clean, `pipe ended cleanly (${result.code ?? ''})`);
  const got = Buffer.concat(chunks);
  t.is(got.length, data.length);
  t.is(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(data).digest('hex'));
  t.true(maxBuffered <= SOCKET_WRITE_CAP_BYTES + 2 * CHUNK_BYTES, `bounded: ${maxBuffered}`);
  await new Promise((r) => server.close(r));
});

test('a stream already reset when the socket arrives resets the socket at once (no leaked LAN connection)', async (t) => {
  let peerEnding: Promise<string> | undefined;
  const server = net.createServer((s) => {
    peerEnding = new Promise((resolve) => {
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      s.once('end', () => resolve('end'));
    });
    s.resume();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise((r) => socket.once('connect', r));
  const stream = new FakeStream(Buffer.alloc(0), () => {});
  stream.on('error', () => {});
  stream.reset('XNAT_ERR_MUX_RESET');
  const result = await joinSocketToStream(socket, stream);
  t.false(result.clean);
  t.is(result.code, 'XNAT_ERR_MUX_RESET');
  t.true(socket.destroyed);
  while (!peerEnding) await new Promise((r) => setTimeout(r, 5));
  t.is(await peerEnding, 'ECONNRESET');
  await new Promise((r) => server.close(r));
});

test('stream chunks: the first of a loop turn goes out uncorked, later ones of the same turn are corked into one write', async (t) => {
  const received: Buffer[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (s) =>
    s.on('data', (c: Buffer) => received.push(c)),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise((r) => socket.once('connect', r));
  socket.pause();
  let reader: ByteReader | undefined;
  const stream: ByteStream = {
    destroyed: false,
    resetCode: undefined,
    setReader: (r) => (reader = r),
    write: () => true,
    end: () => {},
    reset: () => {},
    resume: () => {},
  };
  void joinSocketToStream(socket, stream);
  let corks = 0;
  const cork = socket.cork.bind(socket);
  socket.cork = () => {
    corks++;
    cork();
  };
  await new Promise((r) => setImmediate(r));
  reader!.data(Buffer.from('a'));
  t.is(corks, 0, 'a lone chunk is written through');
  t.is(socket.writableLength, 0);
  reader!.data(Buffer.from('b'));
  reader!.data(Buffer.from('c'));
  t.is(corks, 1, 'the rest of the turn is corked once');
  t.is(socket.writableLength, 2, 'held until the tick ends');
  await new Promise((r) => setImmediate(r));
  t.is(socket.writableLength, 0);
  await new Promise((r) => setImmediate(r));
  reader!.data(Buffer.from('d'));
  t.is(corks, 1, 'a new turn writes through again');
  for (let i = 0; i < 100 && Buffer.concat(received).length < 4; i++)
    await new Promise((r) => setTimeout(r, 5));
  t.is(Buffer.concat(received).toString(), 'abcd');
  socket.destroy();
});
