// Buffer and stream transfers over an in-memory pair: chunking, caps, credits, progress, hash, cancel.
import test from 'ava';
import { createCipheriv, createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { encode } from '@msgpack/msgpack';
import { z } from 'zod';
import type { XnatError } from '../../src/errors.ts';
import { DecodeFailure, MsgType, TransferMode, decodeMessage } from '../../src/command/codec.ts';
import { CommandEndpoint } from '../../src/command/endpoint.ts';
import { createMemoryChannelPair } from '../../src/command/memory-channel.ts';
import { createRegistry } from '../../src/command/registry.ts';
import { FakeClock } from '../../src/util/clock.ts';
import { deferred, makePair, waitFor } from './pair.ts';

const MiB = 1024 * 1024;

/** A seeded pseudo-random byte stream (AES-CTR keystream) of `total` bytes, generated lazily in 64 KiB pieces. */
function prngStream(seed: number, total: number): Readable {
  const key = createHash('sha256').update(`seed:${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(64 * 1024);
  let left = total;
  return new Readable({
    highWaterMark: 64 * 1024,
    read() {
      if (left === 0) return void this.push(null);
      const n = Math.min(left, zeros.length);
      left -= n;
      this.push(cipher.update(zeros.subarray(0, n)));
    },
  });
}

async function sha256Of(r: Readable): Promise<string> {
  const h = createHash('sha256');
  for await (const c of r) h.update(c as Buffer);
  return h.digest('hex');
}

const bytes = (n: number, seed = 1): Buffer => {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
};

test('buffer: small and > 64 KiB blocks arrive whole with their meta; progress reaches the total', async (t) => {
  const { a, rb } = makePair();
  rb.register('blob', {
    kind: 'buffer',
    schema: z.object({ label: z.string() }),
    handler: (data, meta) => ({
      label: meta.label,
      size: data.length,
      sha: createHash('sha256').update(data).digest('hex'),
    }),
  });
  for (const n of [0, 10, 64 * 1024, 5 * MiB + 7]) {
    const data = bytes(n, n);
    const progress: number[] = [];
    const reply = await a.sendBuffer(
      'blob',
      data,
      { label: `n${n}` },
      { onProgress: (s) => progress.push(s) },
    );
    t.deepEqual(reply, { label: `n${n}`, size: n, sha: createHash('sha256').update(data).digest('hex') });
    if (n > 0) t.is(progress.at(-1), n);
  }
});

test('buffer over the cap is refused: locally by the sender, and by a receiver with a smaller cap before any chunk', async (t) => {
  const { a, b, rb, ca } = makePair({ a: { maxBufferBytes: 2 * MiB }, b: { maxBufferBytes: 1 * MiB } });
  let called = false;
  rb.register('blob', { kind: 'buffer', schema: z.unknown(), handler: () => (called = true) });
  const local = await t.throwsAsync(a.sendBuffer('blob', Buffer.alloc(2 * MiB + 1)));
  t.is((local as XnatError).code, 'XNAT_ERR_COMMAND_BUFFER_TOO_LARGE');
  const before = ca.stats.messagesSent;
  const remote = await t.throwsAsync(a.sendBuffer('blob', Buffer.alloc(MiB + 1)));
  t.is((remote as XnatError).code, 'XNAT_ERR_COMMAND_BUFFER_TOO_LARGE');
  t.is(ca.stats.messagesSent - before, 1, 'only BEGIN was sent');
  t.false(called);
  t.true(await a.sendBuffer('blob', Buffer.alloc(MiB)));
  t.is(b.snapshot().commands.blob?.errorsIn, 1);
});

test('buffer: a per-command maxBytes overrides the endpoint cap', async (t) => {
  const { a, rb } = makePair();
  rb.register('tiny', {
    kind: 'buffer',
    schema: z.unknown(),
    options: { maxBytes: 1000 },
    handler: (d) => d.length,
  });
  t.is(await a.sendBuffer('tiny', Buffer.alloc(1000)), 1000);
  t.is(
    ((await t.throwsAsync(a.sendBuffer('tiny', Buffer.alloc(1001)))) as XnatError).code,
    'XNAT_ERR_COMMAND_BUFFER_TOO_LARGE',
  );
});

test('stream: 256 MiB with credits, progress on both sides and a SHA-256 check, memory bounded by the window', async (t) => {
  const total = 256 * MiB;
  const window = 1 * MiB;
  const { a, rb } = makePair({ b: { streamWindowBytes: window } });
  let maxBuffered = 0;
  const recvProgress: number[] = [];
  rb.register('upload', {
    kind: 'stream',
    schema: z.object({ file: z.string() }),
    handler: async (source, meta, ctx) => {
      let n = 0;
      ctx.onProgress = (received) => {
        if (recvProgress.length === 0 || received - recvProgress.at(-1)! >= 16 * MiB || received === total)
          recvProgress.push(received);
      };
      const h = createHash('sha256');
      for await (const c of source) {
        maxBuffered = Math.max(maxBuffered, source.readableLength);
        h.update(c as Buffer);
        n += (c as Buffer).length;
      }
      return { file: meta.file, n, sha: h.digest('hex'), total: ctx.size };
    },
  });
  let lastSent = 0;
  let sentCalls = 0;
  const reply = await a.sendStream('upload', prngStream(7, total), {
    meta: { file: 'world.tar' },
    size: total,
    onProgress: (sent, tot) => {
      sentCalls++;
      lastSent = sent;
      t.is(tot, total);
    },
  });
  const expected = await sha256Of(prngStream(7, total));
  t.deepEqual(reply, { file: 'world.tar', n: total, sha: expected, total });
  t.is(lastSent, total);
  t.true(sentCalls >= total / (32 * 1024));
  t.is(recvProgress.at(-1), total);
  t.true(maxBuffered <= window, `receiver buffered ${maxBuffered} > window`);
});

test('stream from a file path takes its size from the file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'xnat-cmd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'blob.bin');
  const data = bytes(3 * MiB + 5);
  writeFileSync(file, data);
  const { a, rb } = makePair();
  rb.register('up', {
    kind: 'stream',
    schema: z.unknown(),
    handler: async (s, _m, ctx) => ({ sha: await sha256Of(s), size: ctx.size }),
  });
  t.deepEqual(await a.sendStream('up', file), {
    sha: createHash('sha256').update(data).digest('hex'),
    size: data.length,
  });
  const missing = await t.throwsAsync(a.sendStream('up', join(dir, 'nope')));
  t.is((missing as XnatError).code, 'XNAT_ERR_COMMAND_SOURCE');
});

test('stream: the sender aborts; the receiver sees XNAT_ERR_ABORTED on its readable and signal', async (t) => {
  const { a, b, rb } = makePair();
  const seen = deferred<string>();
  let aborted = false;
  rb.register('up', {
    kind: 'stream',
    schema: z.unknown(),
    handler: async (s, _m, ctx) => {
      ctx.signal.addEventListener('abort', () => (aborted = true));
      try {
        for await (const _c of s);
        seen.resolve('ended');
      } catch (e) {
        seen.resolve((e as XnatError).code);
      }
    },
  });
  const ac = new AbortController();
  const call = a.sendStream('up', prngStream(1, 64 * MiB), {
    signal: ac.signal,
    onProgress: (sent) => {
      if (sent >= 4 * MiB) ac.abort();
    },
  });
  t.is(((await t.throwsAsync(call)) as XnatError).code, 'XNAT_ERR_ABORTED');
  t.is(await seen.promise, 'XNAT_ERR_ABORTED');
  t.true(aborted);
  await waitFor(() => b.snapshot().running === 0);
});

test('stream: the receiver cancels; the sender sees XNAT_ERR_ABORTED', async (t) => {
  const { a, rb } = makePair();
  rb.register('up', {
    kind: 'stream',
    schema: z.unknown(),
    handler: async (s, _m, ctx) => {
      let n = 0;
      for await (const c of s) {
        n += (c as Buffer).length;
        if (n >= 2 * MiB) {
          ctx.cancel();
          break;
        }
      }
    },
  });
  const call = a.sendStream('up', prngStream(2, 64 * MiB));
  t.is(((await t.throwsAsync(call)) as XnatError).code, 'XNAT_ERR_ABORTED');
});

test('stream: a handler that fails mid-way fails the call with its code', async (t) => {
  const { a, rb } = makePair();
  rb.register('up', {
    kind: 'stream',
    schema: z.unknown(),
    handler: async (s) => {
      for await (const _c of s) throw new Error('disk full at /secret/path');
    },
  });
  const e = await t.throwsAsync(a.sendStream('up', prngStream(3, 8 * MiB)));
  t.is((e as XnatError).code, 'XNAT_ERR_COMMAND_HANDLER_FAILED');
  t.false(e!.message.includes('secret'));
});

test('stream: a handler that returns early still gets its reply after the end', async (t) => {
  const { a, rb } = makePair();
  rb.register('up', { kind: 'stream', schema: z.unknown(), handler: () => 'early' });
  t.is(await a.sendStream('up', prngStream(4, 4 * MiB)), 'early');
});

test('stream: wrong hash or wrong size from a raw sender is XNAT_ERR_COMMAND_INTEGRITY', async (t) => {
  const [raw, inner] = createMemoryChannelPair();
  const registry = createRegistry();
  const handlerSaw: string[] = [];
  registry.register('up', {
    kind: 'stream',
    schema: z.unknown(),
    handler: async (s) => {
      try {
        for await (const _c of s);
        handlerSaw.push('end');
      } catch (e) {
        handlerSaw.push((e as XnatError).code);
      }
    },
  });
  new CommandEndpoint(inner, { registry });
  const got: Array<Record<string, unknown>> = [];
  raw.on('message', (b: Buffer) => {
    const m = decodeMessage(b);
    if (!(m instanceof DecodeFailure)) got.push(m as never);
  });
  const send = (v: unknown) => raw.send(Buffer.from(encode(v)));
  const data = Buffer.from('hello world');
  const goodSha = createHash('sha256').update(data).digest();
  // 1: wrong hash.
  send([MsgType.BEGIN, 1, 'up', TransferMode.STREAM, null, null]);
  await waitFor(() => got.some((m) => m.id === 1 && m.type === MsgType.CREDIT));
  send([MsgType.CHUNK, 1, data]);
  send([MsgType.END, 1, data.length, Buffer.alloc(32)]);
  // 2: declared size 100, sent 11.
  send([MsgType.BEGIN, 2, 'up', TransferMode.STREAM, 100, null]);
  await waitFor(() => got.some((m) => m.id === 2 && m.type === MsgType.CREDIT));
  send([MsgType.CHUNK, 2, data]);
  send([MsgType.END, 2, data.length, goodSha]);
  // 3: a stream command called as a buffer; its chunk is then for an unknown id and dropped.
  send([MsgType.BEGIN, 3, 'up', TransferMode.BUFFER, 4, null]);
  send([MsgType.CHUNK, 3, data]);
  // 4: a good one still works.
  send([MsgType.BEGIN, 4, 'up', TransferMode.STREAM, null, null]);
  await waitFor(() => got.some((m) => m.id === 4 && m.type === MsgType.CREDIT));
  send([MsgType.CHUNK, 4, data]);
  send([MsgType.END, 4, data.length, goodSha]);
  await waitFor(() => got.filter((m) => m.type === MsgType.ERROR || m.type === MsgType.REPLY).length === 4);
  const answer = (id: number) =>
    got.find((m) => m.id === id && (m.type === MsgType.ERROR || m.type === MsgType.REPLY));
  t.like(answer(1), { code: 'XNAT_ERR_COMMAND_INTEGRITY' });
  t.like(answer(2), { code: 'XNAT_ERR_COMMAND_INTEGRITY' });
  t.like(answer(3), { code: 'XNAT_ERR_COMMAND_KIND' });
  t.like(answer(4), { type: MsgType.REPLY });
  await waitFor(() => handlerSaw.length === 3);
  t.deepEqual(handlerSaw.sort(), ['XNAT_ERR_COMMAND_INTEGRITY', 'XNAT_ERR_COMMAND_INTEGRITY', 'end'].sort());
});

test('buffer: more bytes than granted credit is refused as malformed', async (t) => {
  const [raw, inner] = createMemoryChannelPair();
  const registry = createRegistry();
  registry.register('blob', { kind: 'buffer', schema: z.unknown(), handler: (d) => d.length });
  new CommandEndpoint(inner, { registry });
  const got: Array<Record<string, unknown>> = [];
  raw.on('message', (b: Buffer) => got.push(decodeMessage(b) as never));
  const send = (v: unknown) => raw.send(Buffer.from(encode(v)));
  send([MsgType.BEGIN, 1, 'blob', TransferMode.BUFFER, 4, null]);
  await waitFor(() => got.some((m) => m.type === MsgType.CREDIT));
  send([MsgType.CHUNK, 1, Buffer.from('too long')]);
  await waitFor(() => got.some((m) => m.type === MsgType.ERROR));
  t.like(
    got.find((m) => m.type === MsgType.ERROR),
    { id: 1, code: 'XNAT_ERR_COMMAND_MALFORMED' },
  );
});

test('stream: a receiver that never reads stalls the sender at the window; the idle timeout fires on the fake clock', async (t) => {
  const clock = new FakeClock();
  const window = 256 * 1024;
  const { a, ca, rb } = makePair({
    a: { clock, defaultTimeoutMs: 10_000 },
    b: { streamWindowBytes: window },
  });
  rb.register('up', { kind: 'stream', schema: z.unknown(), handler: () => new Promise(() => undefined) });
  let sent = 0;
  const call = a.sendStream('up', prngStream(5, 64 * MiB), { onProgress: (s) => (sent = s) });
  await waitFor(() => sent === window);
  const bytesBefore = ca.stats.bytesSent;
  // Give the loop many turns: nothing more may be sent without credit.
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
  t.is(sent, window);
  t.is(ca.stats.bytesSent, bytesBefore);
  clock.advance(10_000);
  t.is(((await t.throwsAsync(call)) as XnatError).code, 'XNAT_ERR_TIMEOUT');
});

test('channel backpressure: the sender waits for drain instead of queueing without bound', async (t) => {
  const { a, rb, ca, cb } = makePair({ channel: { highWaterBytes: 256 * 1024 } });
  rb.register('up', { kind: 'stream', schema: z.unknown(), handler: async (s) => sha256Of(s) });
  cb.setPaused(true);
  let sent = 0;
  const call = a.sendStream('up', prngStream(6, 16 * MiB), { onProgress: (s) => (sent = s) });
  // Credit only arrives once delivery resumes, so first pause the other way: let BEGIN/CREDIT through.
  cb.setPaused(false);
  await waitFor(() => sent > 0);
  cb.setPaused(true);
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
  t.true(ca.undeliveredBytes <= 256 * 1024 + 64 * 1024, `undelivered ${ca.undeliveredBytes}`);
  cb.setPaused(false);
  t.is(await call, await sha256Of(prngStream(6, 16 * MiB)));
});

test('stream: a slow reader holds the receiver buffer within the window', async (t) => {
  const window = 256 * 1024;
  const { a, rb } = makePair({ b: { streamWindowBytes: window } });
  let maxBuffered = 0;
  rb.register('slow', {
    kind: 'stream',
    schema: z.unknown(),
    handler: async (s) => {
      const h = createHash('sha256');
      for await (const c of s) {
        // Let the sender run ahead as far as its credit allows before each read.
        for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
        maxBuffered = Math.max(maxBuffered, s.readableLength);
        h.update(c as Buffer);
      }
      return h.digest('hex');
    },
  });
  t.is(await a.sendStream('slow', prngStream(8, 8 * MiB)), await sha256Of(prngStream(8, 8 * MiB)));
  t.true(maxBuffered > window / 2, `the sender did run ahead (${maxBuffered})`);
  t.true(maxBuffered <= window, `receiver buffered ${maxBuffered} > window ${window}`);
});
