// Hostile or broken input: each gets a typed answer or is counted and dropped; the channel stays up.
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { encode } from '@msgpack/msgpack';
import { z } from 'zod';
import type { XnatError } from '../../src/errors.ts';
import {
  MAX_MESSAGE_BYTES,
  MAX_PAYLOAD_DEPTH,
  MsgType,
  decodeMessage,
  DecodeFailure,
} from '../../src/command/codec.ts';
import { createMemoryChannelPair } from '../../src/command/memory-channel.ts';
import { CommandEndpoint } from '../../src/command/endpoint.ts';
import { createRegistry } from '../../src/command/registry.ts';
import { deferred, makePair, waitFor } from './pair.ts';

/** An endpoint `ep` with an `echo` command, and a raw channel `raw` speaking to it byte by byte. */
function rawPeer(opts: { maxConcurrent?: number; maxQueued?: number } = {}) {
  const [raw, inner] = createMemoryChannelPair();
  const registry = createRegistry();
  registry.register('echo', { kind: 'request', schema: z.unknown(), handler: (p) => p });
  const ep = new CommandEndpoint(inner, { registry, ...opts });
  const got: unknown[] = [];
  raw.on('message', (body: Buffer) => {
    const m = decodeMessage(body);
    got.push(m instanceof DecodeFailure ? 'undecodable' : m);
  });
  const send = (v: unknown) => raw.send(Buffer.from(encode(v)));
  return { raw, ep, got, send, registry };
}

const nest = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};

async function stillUp(t: ExecutionContext, p: ReturnType<typeof rawPeer>, id: number): Promise<void> {
  p.send([MsgType.REQUEST, id, 'echo', 'alive']);
  await waitFor(() => p.got.some((m) => (m as { id?: number }).id === id));
  t.deepEqual(
    p.got.find((m) => (m as { id?: number }).id === id),
    { type: MsgType.REPLY, id, payload: 'alive' },
  );
  t.false(p.ep.closed);
}

test('a reply to an unknown request id is counted and ignored', async (t) => {
  const p = rawPeer();
  p.send([MsgType.REPLY, 4242, 'who?']);
  p.send([MsgType.ERROR, 4243, 'XNAT_ERR_INTERNAL', 'x']);
  await stillUp(t, p, 1);
  t.is(p.ep.snapshot().unknownAnswers, 2);
});

test('malformed bytes: answered when an id is readable, else counted and dropped', async (t) => {
  const p = rawPeer();
  p.raw.send(Buffer.from([0xc1, 0xff, 0x00])); // never-used msgpack byte
  p.raw.send(Buffer.from([0x93, 0x01, 0x07, 0xc1])); // [REQUEST, 7, <garbage>]
  p.send([MsgType.REQUEST, 'not-an-id', 'echo', 1]);
  p.send({ not: 'an array' });
  p.send([99, 8, 'what']);
  p.send([MsgType.REQUEST, 9, 12345, 1]); // name not a string
  await stillUp(t, p, 1);
  const errs = p.got.filter((m) => (m as { type: number }).type === MsgType.ERROR) as Array<{
    id: number;
    code: string;
  }>;
  t.deepEqual(
    errs.map((e) => [e.id, e.code]),
    [
      [7, 'XNAT_ERR_COMMAND_MALFORMED'],
      [9, 'XNAT_ERR_COMMAND_MALFORMED'],
    ],
  );
  t.is(p.ep.snapshot().malformed, 6);
});

test('a message over 64 KiB gets XNAT_ERR_COMMAND_TOO_LARGE; the sender refuses one locally', async (t) => {
  const p = rawPeer();
  p.send([MsgType.REQUEST, 3, 'echo', 'x'.repeat(MAX_MESSAGE_BYTES)]);
  await stillUp(t, p, 1);
  t.like(
    p.got.find((m) => (m as { id?: number }).id === 3),
    { type: MsgType.ERROR, code: 'XNAT_ERR_COMMAND_TOO_LARGE' },
  );

  const { a, rb } = makePair();
  rb.register('echo', { kind: 'request', schema: z.unknown(), handler: (x) => x });
  const e = await t.throwsAsync(a.request('echo', 'y'.repeat(MAX_MESSAGE_BYTES)));
  t.is((e as XnatError).code, 'XNAT_ERR_COMMAND_TOO_LARGE');
  // A reply too large to send comes back as an error, not a hang.
  rb.register('big', { kind: 'request', schema: z.unknown(), handler: () => 'z'.repeat(MAX_MESSAGE_BYTES) });
  t.is(((await t.throwsAsync(a.request('big', null))) as XnatError).code, 'XNAT_ERR_COMMAND_TOO_LARGE');
  t.is(await a.request('echo', 'fine'), 'fine');
});

test('nesting deeper than the limit gets XNAT_ERR_COMMAND_TOO_DEEP, both ways; very deep input does not crash', async (t) => {
  const p = rawPeer();
  p.send([MsgType.REQUEST, 3, 'echo', nest(MAX_PAYLOAD_DEPTH)]);
  p.send([MsgType.REQUEST, 4, 'echo', nest(MAX_PAYLOAD_DEPTH + 1)]);
  // 20 000 levels: a recursive walker would overflow the stack here.
  const deep = Buffer.concat([
    Buffer.from([0x94, MsgType.REQUEST, 5, 0xa4, ...Buffer.from('echo')]),
    Buffer.alloc(20_000, 0x91),
    Buffer.from([0x01]),
  ]);
  p.raw.send(deep);
  await stillUp(t, p, 1);
  t.like(
    p.got.find((m) => (m as { id?: number }).id === 3),
    { type: MsgType.REPLY },
  );
  t.like(
    p.got.find((m) => (m as { id?: number }).id === 4),
    { type: MsgType.ERROR, code: 'XNAT_ERR_COMMAND_TOO_DEEP' },
  );
  t.like(
    p.got.find((m) => (m as { id?: number }).id === 5),
    { type: MsgType.ERROR, code: 'XNAT_ERR_COMMAND_TOO_DEEP' },
  );

  const { a, rb } = makePair();
  rb.register('echo', { kind: 'request', schema: z.unknown(), handler: (x) => x });
  t.is(
    ((await t.throwsAsync(a.request('echo', nest(MAX_PAYLOAD_DEPTH + 1)))) as XnatError).code,
    'XNAT_ERR_COMMAND_TOO_DEEP',
  );
});

test('schema violation, __proto__ keys and unencodable payloads are refused cleanly', async (t) => {
  const p = rawPeer();
  p.registry.register('typed', { kind: 'request', schema: z.object({ n: z.number() }), handler: (x) => x.n });
  p.send([MsgType.REQUEST, 3, 'typed', { n: 'one' }]);
  // {"__proto__": {"polluted": 1}} in raw msgpack.
  p.raw.send(
    Buffer.from([
      0x94,
      MsgType.REQUEST,
      4,
      0xa5,
      ...Buffer.from('typed'),
      0x81,
      0xa9,
      ...Buffer.from('__proto__'),
      0x81,
      0xa8,
      ...Buffer.from('polluted'),
      0x01,
    ]),
  );
  await stillUp(t, p, 1);
  t.like(
    p.got.find((m) => (m as { id?: number }).id === 3),
    { type: MsgType.ERROR, code: 'XNAT_ERR_COMMAND_INVALID', detail: 'n' },
  );
  t.like(
    p.got.find((m) => (m as { id?: number }).id === 4),
    { type: MsgType.ERROR, code: 'XNAT_ERR_COMMAND_MALFORMED' },
  );
  t.is(({} as Record<string, unknown>).polluted, undefined);

  const { a } = makePair();
  t.is(((await t.throwsAsync(a.request('x', { big: 10n }))) as XnatError).code, 'XNAT_ERR_COMMAND_INVALID');
});

test('flood: beyond running + queued, requests get an immediate XNAT_ERR_COMMAND_BUSY; others unaffected', async (t) => {
  const { a, b, rb } = makePair({ b: { maxConcurrent: 4, maxQueued: 8 } });
  const gate = deferred<void>();
  rb.register('hold', {
    kind: 'request',
    schema: z.unknown(),
    handler: async () => (await gate.promise, 'done'),
  });
  const calls = Array.from({ length: 20 }, (_, i) =>
    a.request('hold', i).then(
      (v) => v,
      (e: XnatError) => e.code,
    ),
  );
  await waitFor(() => b.snapshot().busy === 8);
  t.is(b.snapshot().running, 4);
  t.is(b.snapshot().queued, 8);
  // Busy replies arrive while the others still wait.
  const early = await Promise.race([
    Promise.all(calls.slice(12)),
    new Promise((r) => setTimeout(r, 2000, 'hung')),
  ]);
  t.deepEqual(early, Array(8).fill('XNAT_ERR_COMMAND_BUSY'));
  gate.resolve();
  t.deepEqual(await Promise.all(calls.slice(0, 12)), Array(12).fill('done'));
  t.is(b.snapshot().running + b.snapshot().queued, 0);
  t.is(await a.request('hold', 'again'), 'done');
});

test('the default limits hold against 2000 requests at once', async (t) => {
  const { a, b, rb } = makePair();
  const gate = deferred<void>();
  rb.register('hold', { kind: 'request', schema: z.unknown(), handler: async () => (await gate.promise, 1) });
  const calls = Array.from({ length: 2000 }, () =>
    a.request('hold', null).then(
      () => 'ok',
      (e: XnatError) => e.code,
    ),
  );
  await waitFor(() => b.snapshot().busy === 2000 - 256 - 1024);
  t.is(b.snapshot().running, 256);
  t.is(b.snapshot().queued, 1024);
  gate.resolve();
  const results = await Promise.all(calls);
  t.is(results.filter((r) => r === 'ok').length, 1280);
});
