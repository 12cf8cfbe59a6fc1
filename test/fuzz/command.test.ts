// Fuzzing the command framework's decoder and responder: any message body decodes to a checked message or a
// typed failure, every kind round-trips, an endpoint fed any sequence stays up and answers only with typed
// codes, transfers with hostile chunks end intact or with an integrity error, and the catalogue's request
// schemas take any payload. Budget: XNAT_FUZZ_SECONDS / XNAT_FUZZ_RUNS (see fuzz-kit.ts); cases kept in
// test/fixtures/fuzz/command/.
import test from 'ava';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { encode } from '@msgpack/msgpack';
import { z } from 'zod';
import { ERRORS, isErrorCode, type ErrorCode } from '../../src/errors.ts';
import type { CommandChannel } from '../../src/command/channel.ts';
import {
  CHUNK_BYTES,
  DecodeFailure,
  MAX_MESSAGE_BYTES,
  MAX_PAYLOAD_DEPTH,
  MsgType,
  TransferMode,
  decodeMessage,
  encodeMessage,
  type Message,
} from '../../src/command/codec.ts';
import { CommandEndpoint } from '../../src/command/endpoint.ts';
import { createRegistry } from '../../src/command/registry.ts';
import { COMMANDS } from '../../src/protocol/catalogue.ts';
import { mutatedArb } from '../wire/arbitraries.ts';
import { expectTyped, fixtureBytes, fuzzParams, fuzzTimeoutMs, loadFixtures } from './fuzz-kit.ts';

const DECODE_CODES: readonly ErrorCode[] = [
  'XNAT_ERR_COMMAND_MALFORMED',
  'XNAT_ERR_COMMAND_TOO_LARGE',
  'XNAT_ERR_COMMAND_TOO_DEEP',
];

// ---- arbitraries

const bytes = (max: number, min = 0): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ minLength: min, maxLength: max }).map((a) => Buffer.from(a));

/** A payload msgpack carries losslessly: JSON-like values and byte strings, nested a few levels. */
const payloadArb: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true }),
    fc.string({ maxLength: 20, unit: 'grapheme' }),
    bytes(20),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(
      fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__'),
      tie('value'),
      { maxKeys: 4 },
    ),
  ),
})).value;

const id = fc.oneof(fc.nat(20), fc.constant(Number.MAX_SAFE_INTEGER), fc.nat());
const name = fc.oneof(
  fc.constantFrom('echo', 'note', 'blob', 'pipe', 'nope'),
  fc.string({ minLength: 1, maxLength: 128 }),
);
const count = fc.oneof(fc.nat(4096), fc.constant(Number.MAX_SAFE_INTEGER));

/** Every message kind with its fields in range. */
const messageArb: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ type: fc.constant(MsgType.REQUEST), id, name, payload: payloadArb }),
  fc.record({ type: fc.constant(MsgType.ONEWAY), name, payload: payloadArb }),
  fc.record({ type: fc.constant(MsgType.REPLY), id, payload: payloadArb }),
  fc.record(
    {
      type: fc.constant(MsgType.ERROR),
      id,
      code: fc.oneof(fc.constantFrom(...(Object.keys(ERRORS) as ErrorCode[])), fc.string()),
      message: fc.string(),
      detail: fc.string(),
    },
    { requiredKeys: ['type', 'id', 'code', 'message'] },
  ),
  fc.record({ type: fc.constant(MsgType.CANCEL), id }),
  fc.record({
    type: fc.constant(MsgType.BEGIN),
    id,
    name,
    mode: fc.constantFrom(TransferMode.BUFFER, TransferMode.STREAM),
    size: fc.option(count, { nil: undefined }),
    meta: payloadArb,
  }),
  fc.record({ type: fc.constant(MsgType.CHUNK), id, data: bytes(64) }),
  fc.record({ type: fc.constant(MsgType.END), id, total: count, sha256: bytes(32, 32) }),
  fc.record({ type: fc.constant(MsgType.CREDIT), id, bytes: count }),
) as fc.Arbitrary<Message>;

const nest = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};

/** msgpack headers that declare far more than follows (str32, bin32, array32, map32, ext32). */
const hugeDeclarationArb = fc
  .tuple(
    fc.constantFrom(0xdb, 0xc6, 0xdd, 0xdf, 0xc9),
    fc.integer({ min: 0x10000, max: 0xffffffff }),
    bytes(8),
  )
  .map(([tag, n, tail]) => {
    const b = Buffer.alloc(5);
    b[0] = tag;
    b.writeUInt32BE(n, 1);
    return Buffer.concat([Buffer.of(0x93, MsgType.REQUEST, 1), b, tail]);
  });

/** Message bodies: random bytes, random msgpack arrays, mutated valid messages, deep nests, huge declarations. */
const bodyArb: fc.Arbitrary<Buffer> = fc.oneof(
  bytes(64),
  fc
    .array(fc.oneof(fc.integer({ min: 0, max: 12 }), payloadArb), { minLength: 1, maxLength: 7 })
    .map((a) => Buffer.from(encode(a))),
  mutatedArb(messageArb.map((m) => encodeMessage(m))),
  fc
    .integer({ min: MAX_PAYLOAD_DEPTH - 1, max: MAX_PAYLOAD_DEPTH + 40 })
    .map((d) => Buffer.from(encode([MsgType.REQUEST, 1, 'echo', nest(d)], { maxDepth: 200 }))),
  hugeDeclarationArb,
  // [REQUEST, 1, 'echo', ...] over tens of thousands of nested fixarrays or fixmaps: no stack overflow.
  fc
    .tuple(fc.constantFrom(0x91, 0x81), fc.integer({ min: 1000, max: MAX_MESSAGE_BYTES - 16 }))
    .map(([tag, n]) =>
      Buffer.concat([Buffer.from('940101a46563686f', 'hex'), Buffer.alloc(n, tag), Buffer.of(1)]),
    ),
);

/** Bytes of `m` as the encoder writes them; the canonical form a round trip must reach again. */
const canonical = (m: Message): Buffer => encodeMessage(m);

// ---- the codec

test('decodeMessage on any body: a checked message that round-trips, or a typed failure; never a throw', (t) => {
  t.timeout(fuzzTimeoutMs(1.5));
  fc.assert(
    fc.property(bodyArb, (body) => {
      const m = decodeMessage(body);
      if (m instanceof DecodeFailure) {
        expectTyped(m.error, DECODE_CODES, 'decodeMessage');
        return true;
      }
      // A message that decoded is encodable again and decodes to the same bytes.
      const again = decodeMessage(canonical(m));
      if (again instanceof DecodeFailure)
        throw new Error(`re-encoded message refused: ${again.error.message}`);
      return canonical(again).equals(canonical(m));
    }),
    fuzzParams(1.5),
  );
  t.pass();
});

test('round trip of every message kind: decode(encode(m)) encodes to the same bytes', (t) => {
  t.timeout(fuzzTimeoutMs(0.75));
  fc.assert(
    fc.property(messageArb, (m) => {
      const bytes = encodeMessage(m);
      const back = decodeMessage(bytes);
      if (back instanceof DecodeFailure) throw new Error(`refused: ${back.error.message}`);
      if (back.type !== m.type) throw new Error('type changed');
      return canonical(back).equals(bytes);
    }),
    fuzzParams(0.75),
  );
  t.pass();
});

// ---- an endpoint fed by a hostile peer

/** A channel the test drives by hand: messages in synchronously, everything sent recorded. */
class HandChannel extends EventEmitter implements CommandChannel {
  readonly sent: Buffer[] = [];
  send(body: Buffer): boolean {
    this.sent.push(body);
    return true;
  }
}

const BLOB_MAX = 1024;

function endpoint() {
  const channel = new HandChannel();
  const registry = createRegistry();
  const seen = { blobs: [] as Buffer[], pipes: [] as Buffer[] };
  registry.register('echo', { kind: 'request', schema: z.unknown(), handler: (p) => p });
  registry.register('note', { kind: 'oneway', schema: z.object({ n: z.number() }), handler: () => {} });
  registry.register('blob', {
    kind: 'buffer',
    schema: z.unknown(),
    handler: (data) => {
      seen.blobs.push(Buffer.from(data));
      return data.length;
    },
    options: { maxBytes: BLOB_MAX },
  });
  registry.register('pipe', {
    kind: 'stream',
    schema: z.unknown(),
    handler: async (src: Readable) => {
      const parts: Buffer[] = [];
      for await (const c of src) parts.push(c as Buffer);
      const all = Buffer.concat(parts);
      seen.pipes.push(all);
      return all.length;
    },
  });
  const ep = new CommandEndpoint(channel, {
    registry,
    maxBufferedBytesTotal: 4 * BLOB_MAX,
    streamWindowBytes: 4096,
    maxConcurrent: 8,
    maxQueued: 8,
  });
  return { channel, ep, seen };
}

/** Decodes what the endpoint sent; every answer must be well formed, every error code typed. */
function answers(sent: readonly Buffer[]): Message[] {
  return sent.map((b) => {
    const m = decodeMessage(b);
    if (m instanceof DecodeFailure)
      throw new Error(`the endpoint sent an undecodable message: ${m.error.message}`);
    if (m.type === MsgType.ERROR) {
      if (!isErrorCode(m.code)) throw new Error(`untyped error code ${m.code}`);
      if (m.code === 'XNAT_ERR_INTERNAL' || m.code === 'XNAT_ERR_COMMAND_HANDLER_FAILED')
        throw new Error(`the endpoint failed internally: ${m.message}`);
    }
    return m;
  });
}

async function ticks(n = 4): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

test('an endpoint fed any sequence of bodies never throws, answers only with typed codes and stays up', async (t) => {
  t.timeout(fuzzTimeoutMs(2));
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.oneof({ weight: 3, arbitrary: messageArb.map((m) => encodeMessage(m)) }, bodyArb), {
        maxLength: 30,
      }),
      async (bodies) => {
        const { channel, ep } = endpoint();
        const ids = new Set<number>();
        for (const b of bodies) {
          channel.emit('message', b);
          const m = decodeMessage(b);
          if (!(m instanceof DecodeFailure) && 'id' in m) ids.add(m.id);
        }
        await ticks();
        if (ep.closed) throw new Error('the endpoint closed');
        // Still serving once the peer gives up what it started (transfers it never ends hold their slots).
        for (const i of ids) channel.emit('message', encodeMessage({ type: MsgType.CANCEL, id: i }));
        await ticks();
        const probe = Number.MAX_SAFE_INTEGER - 1;
        channel.emit(
          'message',
          encodeMessage({ type: MsgType.REQUEST, id: probe, name: 'echo', payload: 'alive' }),
        );
        await ticks();
        const all = answers(channel.sent);
        const reply = all.find((m) => m.type === MsgType.REPLY && m.id === probe);
        if (!reply || (reply as { payload: unknown }).payload !== 'alive')
          throw new Error('the probe got no echo');
        ep.close();
        await ticks(1);
      },
    ),
    fuzzParams(2),
  );
  t.pass();
});

// ---- transfers with hostile chunks

/** A transfer as a hostile sender may run it: chunks of the data (some changed), then an END that may lie. */
const transferArb = fc
  .record({
    mode: fc.constantFrom(TransferMode.BUFFER, TransferMode.STREAM),
    data: bytes(2 * BLOB_MAX),
    declared: fc.option(fc.nat(2 * BLOB_MAX), { nil: undefined }),
    cuts: fc.array(fc.nat(), { maxLength: 6 }),
    extra: fc.option(bytes(16, 1), { nil: undefined }),
    lieTotal: fc.option(fc.nat(2 * BLOB_MAX), { nil: undefined }),
    badSha: fc.boolean(),
    end: fc.boolean(),
  })
  .map(({ declared, ...r }) => ({ ...r, size: declared }));

test('transfers: any chunking, extra bytes, wrong totals or hashes end intact or with an integrity error', async (t) => {
  t.timeout(fuzzTimeoutMs(1.5));
  await fc.assert(
    fc.asyncProperty(transferArb, async (tr) => {
      const { channel, ep, seen } = endpoint();
      const id = 7;
      channel.emit(
        'message',
        encodeMessage({
          type: MsgType.BEGIN,
          id,
          name: tr.mode === TransferMode.BUFFER ? 'blob' : 'pipe',
          mode: tr.mode,
          size: tr.size,
          meta: null,
        }),
      );
      await ticks();
      const sentData: Buffer[] = [];
      const points = [...new Set(tr.cuts.map((c) => c % (tr.data.length + 1)))].sort((a, b) => a - b);
      let prev = 0;
      for (const p of [...points, tr.data.length]) {
        const chunk = tr.data.subarray(prev, p);
        prev = p;
        if (chunk.length === 0) continue;
        sentData.push(chunk);
        channel.emit('message', encodeMessage({ type: MsgType.CHUNK, id, data: chunk }));
        await ticks(1);
      }
      if (tr.extra) {
        sentData.push(tr.extra);
        channel.emit('message', encodeMessage({ type: MsgType.CHUNK, id, data: tr.extra }));
      }
      const all = Buffer.concat(sentData);
      const sha = createHash('sha256').update(all).digest();
      if (tr.badSha) sha[0]! ^= 1;
      if (tr.end)
        channel.emit(
          'message',
          encodeMessage({ type: MsgType.END, id, total: tr.lieTotal ?? all.length, sha256: sha }),
        );
      await ticks(8);
      const out = answers(channel.sent).filter((m) => 'id' in m && m.id === id);
      const errors = out.filter((m) => m.type === MsgType.ERROR) as Array<{ code: string }>;
      const replies = out.filter((m) => m.type === MsgType.REPLY);
      const delivered = tr.mode === TransferMode.BUFFER ? seen.blobs : seen.pipes;
      if (errors.length + replies.length > 1) throw new Error('answered more than once');
      if (replies.length === 1) {
        // A reply means the handler got exactly the bytes sent, and they were what the sender vouched for.
        if (delivered.length !== 1 || !delivered[0]!.equals(all)) throw new Error('replied without the data');
        if (tr.badSha || (tr.lieTotal !== undefined && tr.lieTotal !== all.length) || !tr.end)
          throw new Error('a lying END was accepted');
        if (tr.size !== undefined && tr.size !== all.length)
          throw new Error('a wrong declared size was accepted');
      } else {
        if (delivered.some((d) => !d.equals(all))) throw new Error('a handler got corrupt data');
        if (tr.mode === TransferMode.BUFFER && delivered.length > 0)
          throw new Error('a buffer handler ran on a failed transfer');
        const honest =
          tr.end &&
          !tr.badSha &&
          (tr.lieTotal === undefined || tr.lieTotal === all.length) &&
          (tr.size === undefined || tr.size === all.length) &&
          !(tr.mode === TransferMode.BUFFER && (tr.size === undefined || tr.size > BLOB_MAX));
        if (honest && errors.length === 0) throw new Error('an honest transfer got no answer');
        if (honest && errors.length === 1 && tr.mode === TransferMode.BUFFER)
          throw new Error(`an honest buffer transfer failed: ${errors[0]!.code}`);
      }
      ep.close();
      await ticks(1);
    }),
    fuzzParams(1.5),
  );
  t.pass();
});

// ---- the catalogue's schemas

test('catalogue request schemas take any payload: parsed values stay encodable, failures never throw', (t) => {
  t.timeout(fuzzTimeoutMs(0.5));
  const specs = Object.values(COMMANDS);
  fc.assert(
    fc.property(fc.constantFrom(...specs), payloadArb, (spec, payload) => {
      const r = spec.request.safeParse(payload);
      if (r.success) encodeMessage({ type: MsgType.REQUEST, id: 1, name: spec.name, payload: r.data });
      return true;
    }),
    fuzzParams(0.5),
  );
  t.pass();
});

// ---- kept cases

for (const fx of loadFixtures('command')) {
  test(`kept case ${fx.file}: ${fx.note}`, (t) => {
    const m = decodeMessage(fixtureBytes(fx.hex ?? ''));
    t.is(m instanceof DecodeFailure ? m.error.code : 'ok', fx.expect);
  });
}

test('sanity: the chunk size and message cap the arbitraries assume', (t) => {
  t.true(CHUNK_BYTES < MAX_MESSAGE_BYTES);
});
