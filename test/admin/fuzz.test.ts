// Fuzzing what parses bytes from an admin socket (fast-check, a few seconds in all): the message reader
// against a reference parser over random bytes and random chunkings, the message decoder, and a real
// in-process admin endpoint fed hostile connections. Only typed XnatErrors, no hang, bounded memory.
// Cases in test/fixtures/fuzz/admin/ (found failures and hand-made edges) are replayed first.
import test from 'ava';
import type { ExecutionContext } from 'ava';
import fc from 'fast-check';
import net from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LENGTH_BYTES, MessageReader } from '../../src/admin/message-reader.ts';
import { startAdminServer, PRE_AUTH_MAX_MESSAGE_BYTES } from '../../src/admin/admin-server.ts';
import { AdminClient } from '../../src/admin/admin-client.ts';
import { MAX_ADMIN_MESSAGE_BYTES } from '../../src/admin/socket-channel.ts';
import { encode as msgpackEncode } from '@msgpack/msgpack';
import { DecodeFailure, decodeMessage, MsgType } from '../../src/command/codec.ts';
import { XnatError } from '../../src/errors.ts';
import { silentLogger } from '../../src/observe/log.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'fuzz', 'admin');
const TOKEN = 'fuzz-operator-token-0123';

/** One fuzz case: the chunks a peer sends, in order, and the reader's cap. */
interface FuzzCase {
  readonly target: 'reader' | 'server';
  readonly cap: number;
  readonly chunks: readonly Buffer[];
}

function loadFixtures(): Array<{ name: string; c: FuzzCase }> {
  return readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((name) => {
      const raw = JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as {
        target: 'reader' | 'server';
        cap?: number;
        chunks: string[];
      };
      return {
        name,
        c: {
          target: raw.target,
          cap: raw.cap ?? PRE_AUTH_MAX_MESSAGE_BYTES,
          chunks: raw.chunks.map((h) => Buffer.from(h, 'hex')),
        },
      };
    });
}

/** What a correct reader yields for `bytes`: the whole messages before the first oversize length. */
function reference(bytes: Buffer, cap: number): { messages: Buffer[]; oversize: boolean } {
  const messages: Buffer[] = [];
  let pos = 0;
  while (bytes.length - pos >= LENGTH_BYTES) {
    const length = bytes.readUInt32BE(pos);
    if (length > cap) return { messages, oversize: true };
    if (bytes.length - pos < LENGTH_BYTES + length) break;
    messages.push(bytes.subarray(pos + LENGTH_BYTES, pos + LENGTH_BYTES + length));
    pos += LENGTH_BYTES + length;
  }
  return { messages, oversize: false };
}

/**
 * Feeds `c` to a MessageReader chunk by chunk, draining after each; checks it against the reference,
 * that only XnatError is thrown, that every body decodes or fails typed, and the memory bounds.
 */
function checkReader(c: FuzzCase): void {
  const reader = new MessageReader(c.cap);
  const got: Buffer[] = [];
  let oversize = false;
  outer: for (const chunk of c.chunks) {
    reader.push(chunk);
    for (;;) {
      let body: Buffer | undefined;
      try {
        body = reader.next();
      } catch (err) {
        if (!(err instanceof XnatError) || err.code !== 'XNAT_ERR_WIRE_OVERSIZE')
          throw new Error(`reader threw ${String(err)}`);
        oversize = true;
        break outer;
      }
      if (body === undefined) break;
      got.push(Buffer.from(body));
      checkDecode(body);
    }
    // What is held after a drain is one unfinished message: under the cap, in few objects.
    if (reader.bufferedBytes >= LENGTH_BYTES + c.cap)
      throw new Error(`${reader.bufferedBytes} bytes held with cap ${c.cap}`);
    if (reader.heldChunks > 3 + 2 * Math.ceil(reader.bufferedBytes / 1024))
      throw new Error(`${reader.heldChunks} chunks held for ${reader.bufferedBytes} bytes`);
  }
  const want = reference(Buffer.concat(c.chunks), c.cap);
  if (oversize !== want.oversize) throw new Error(`oversize ${oversize}, reference ${want.oversize}`);
  if (got.length !== want.messages.length || got.some((m, i) => !m.equals(want.messages[i]!)))
    throw new Error(`${got.length} messages, reference ${want.messages.length}`);
}

/** decodeMessage never throws: a message, or a DecodeFailure carrying an XnatError. */
function checkDecode(body: Buffer): void {
  let out: unknown;
  try {
    out = decodeMessage(body, MAX_ADMIN_MESSAGE_BYTES);
  } catch (err) {
    throw new Error(`decodeMessage threw ${String(err)}`);
  }
  if (out instanceof DecodeFailure && !(out.error instanceof XnatError))
    throw new Error('a decode failure without an XnatError');
}

/** Cuts `bytes` at the given points (modulo its length) into chunks, some of them empty. */
function cut(bytes: Buffer, points: readonly number[]): Buffer[] {
  const at = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of at) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
};
const framed = (body: Buffer) => Buffer.concat([u32(body.length), body]);

const idArb = fc.oneof(fc.nat(), fc.integer(), fc.string({ maxLength: 4 }), fc.constant(null));
const nameArb = fc.oneof(
  fc.constantFrom('admin.auth', 'admin.status', 'admin.subscribe', 'admin.unsubscribe', 'session.kick'),
  fc.constantFrom('config.reload', 'hello', '', 'x'.repeat(200)),
  fc.string({ maxLength: 8 }),
);
const payloadArb = fc.oneof(
  fc.record({ token: fc.oneof(fc.string({ maxLength: 600 }), fc.constant(TOKEN), fc.nat()) }),
  fc.record({ intervalMs: fc.integer(), subscriptionId: fc.integer(), agentName: fc.string() }),
  fc.jsonValue({ maxDepth: 3 }),
  fc.uint8Array({ maxLength: 16 }),
);

/** msgpack arrays shaped like the command framework's messages, of every type, right and wrong. */
const messageBodyArb: fc.Arbitrary<Buffer> = fc
  .oneof(
    fc.tuple(fc.constant(MsgType.REQUEST), idArb, nameArb, payloadArb),
    fc.tuple(fc.constant(MsgType.ONEWAY), nameArb, payloadArb),
    fc.tuple(fc.constantFrom(MsgType.REPLY, MsgType.CANCEL, MsgType.CREDIT), idArb, payloadArb),
    fc.tuple(fc.constant(MsgType.ERROR), idArb, fc.string(), fc.string(), fc.string()),
    fc.tuple(
      fc.constant(MsgType.BEGIN),
      idArb,
      nameArb,
      fc.integer({ min: -1, max: 2 }),
      fc.integer(),
      payloadArb,
    ),
    fc.tuple(fc.constantFrom(MsgType.CHUNK, MsgType.END), idArb, fc.uint8Array({ maxLength: 40 }), fc.nat()),
    fc.array(payloadArb, { maxLength: 6 }),
    payloadArb,
  )
  .map((value) => Buffer.from(msgpackEncode(value)));

/** A stream a hostile peer might send: framed message-like bodies, lying lengths and raw bytes. */
const streamArb: fc.Arbitrary<Buffer> = fc
  .array(
    fc.oneof(
      { weight: 4, arbitrary: messageBodyArb.map(framed) },
      { weight: 2, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => framed(Buffer.from(b))) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.oneof(fc.nat({ max: 5000 }), fc.nat()), fc.uint8Array({ maxLength: 32 }))
          .map(([n, b]) => Buffer.concat([u32(n), Buffer.from(b)])),
      },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 48 }).map((b) => Buffer.from(b)) },
    ),
    { maxLength: 12 },
  )
  .map((parts) => Buffer.concat(parts));

const caseArb = (target: FuzzCase['target']): fc.Arbitrary<FuzzCase> =>
  fc
    .tuple(
      streamArb,
      fc.array(fc.nat(), { maxLength: 30 }),
      fc.constantFrom(PRE_AUTH_MAX_MESSAGE_BYTES, 0, 5, 64, 1024),
      // Against the endpoint, most cases try a token first (right: the rest reaches the commands).
      fc.constantFrom(undefined, TOKEN, TOKEN, 'a-wrong-token-0123'),
    )
    .map(([bytes, points, cap, token]) => {
      const auth = framed(Buffer.from(msgpackEncode([MsgType.REQUEST, 1, 'admin.auth', { token }])));
      const all = target === 'server' && token !== undefined ? Buffer.concat([auth, bytes]) : bytes;
      return { target, cap, chunks: cut(all, points) };
    });

/** Hex of a case, to paste into a fixture file when a property fails. */
const describeCase = (c: FuzzCase) =>
  JSON.stringify({ target: c.target, cap: c.cap, chunks: c.chunks.map((b) => b.toString('hex')) });

test('fixtures of the reader replay clean', (t) => {
  const cases = loadFixtures().filter((f) => f.c.target === 'reader');
  t.true(cases.length > 0, 'no reader fixtures found');
  for (const { name, c } of cases) t.notThrows(() => checkReader(c), name);
});

test('random bytes in random chunks: the reader matches the reference, throws only XnatError, holds little', (t) => {
  fc.assert(
    fc.property(caseArb('reader'), (c) => {
      try {
        checkReader(c);
      } catch (err) {
        t.log(describeCase(c));
        throw err;
      }
    }),
    { numRuns: 1500, interruptAfterTimeLimit: 4_000 },
  );
  t.pass();
});

test('random message bodies: decodeMessage answers a message or a typed failure, never throws', (t) => {
  fc.assert(
    fc.property(
      fc.oneof(
        messageBodyArb,
        fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)),
      ),
      (b) => checkDecode(b),
    ),
    { numRuns: 2000, interruptAfterTimeLimit: 3_000 },
  );
  t.pass();
});

/** Sends `c` on a fresh connection, a turn of the event loop between chunks; resolves when done or closed. */
async function sendCase(port: number, c: FuzzCase): Promise<void> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  socket.resume();
  const closed = new Promise<void>((done) => socket.once('close', () => done()));
  await new Promise<void>((done) => socket.once('connect', () => done()));
  for (const chunk of c.chunks) {
    if (socket.destroyed) break;
    if (chunk.length > 0) socket.write(chunk);
    await new Promise((r) => setImmediate(r));
  }
  // The endpoint closes a bad peer at once; an incomplete but legal one is left to the 5 s deadline.
  await Promise.race([closed, new Promise((r) => setTimeout(r, 30))]);
  socket.destroy();
  await closed;
}

async function withServer(t: ExecutionContext, run: (port: number) => Promise<void>): Promise<void> {
  const server = await startAdminServer({
    listen: { host: '127.0.0.1', port: 0 },
    token: TOKEN,
    logger: silentLogger(),
    actions: {
      status: () => ({
        role: 'relay',
        version: 'fuzz',
        startedAt: 0,
        control: undefined,
        sessions: [],
        mappings: [],
      }),
      kick: () => false,
      reload: () => [],
    },
  });
  t.teardown(() => server.close());
  await run(server.port);
  // Still serving, and every hostile connection leaves its books (one still waiting out the 250 ms
  // before a wrong token's answer notices its peer left only then).
  const client = await AdminClient.connect('127.0.0.1', server.port, TOKEN);
  t.teardown(() => client.close());
  const deadline = Date.now() + 10_000;
  let admin = (await client.status()).admin!;
  while (admin.connections !== 1 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    admin = (await client.status()).admin!;
  }
  t.is(admin.connections, 1, JSON.stringify(admin));
  t.is(admin.unauthenticated, 0);
}

test('fixtures of the admin endpoint replay clean against a real in-process endpoint', async (t) => {
  const cases = loadFixtures().filter((f) => f.c.target === 'server');
  t.true(cases.length > 0, 'no server fixtures found');
  await withServer(t, async (port) => {
    for (const { c } of cases) await sendCase(port, c);
  });
});

test('hostile connections to a real in-process admin endpoint: it stays up and keeps its books', async (t) => {
  await withServer(t, async (port) => {
    await fc.assert(
      fc.asyncProperty(caseArb('server'), async (c) => {
        try {
          await sendCase(port, c);
        } catch (err) {
          t.log(describeCase(c));
          throw err;
        }
      }),
      { numRuns: 60, interruptAfterTimeLimit: 6_000 },
    );
  });
});
