// Fuzzing the link's bytes: preface, handshake reader (garbage before, inside and after a real message 1,
// hostile relay replies), record layer (garbage after a valid handshake, authenticated records of random
// and malformed frames, cut anyhow so records straddle reads) and the chunk queue. Outcome: the decoded value or a typed LINK/CRYPTO/AUTH error, never
// a hang (fake clock deadlines), never an untyped throw. Budget: XNAT_FUZZ_SECONDS / XNAT_FUZZ_RUNS
// (see fuzz-kit.ts); cases kept in test/fixtures/fuzz/link/.
import test from 'ava';
import fc from 'fast-check';
import type { Duplex } from 'node:stream';
import type { ErrorCode, XnatError } from '../../src/errors.ts';
import { HandshakeState } from '../../src/crypto/handshake-state.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { HANDSHAKE_TIMEOUT_MS, LinkAcceptor, connectLink, type Link } from '../../src/link/link.ts';
import { FAREWELL_LINGER_MS, HandshakeReader, ZERO_PSK, runInitiator } from '../../src/link/handshake.ts';
import type { RecordCipher } from '../../src/link/options.ts';
import {
  ByteQueue,
  HANDSHAKE_FRAME_MAX_BYTES,
  HandshakeTag,
  PREFACE_BYTES,
  RECORD_MAX_BYTES,
  RECORD_MIN_BYTES,
  checkPreface,
  encodeHandshakeFrame,
  encodePreface,
} from '../../src/link/wire.ts';
import { encodeFrame } from '../../src/wire/codec.ts';
import { decodeFrames } from '../../src/wire/decoder.ts';
import { FrameType, type Frame } from '../../src/wire/frame.ts';
import { SUITES } from '../../src/link/suites.ts';
import { createDuplexPair } from '../../src/transport/memory-pair.ts';
import { FakeClock } from '../../src/util/clock.ts';
import {
  anyFrameArb,
  applyEdits,
  byteEditArb,
  cut,
  cutPointsArb,
  mutatedArb,
  rawFrameArb,
} from '../wire/arbitraries.ts';
import { closed, makeKeys, tapLinks } from '../link/link-helpers.ts';
import {
  expectTyped,
  fixtureBytes,
  fuzzParams,
  fuzzTimeoutMs,
  loadFixtures,
  outcome,
  type Fixture,
} from './fuzz-kit.ts';

const EMPTY = new Uint8Array(0);
const bytes = (max: number, min = 0): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ minLength: min, maxLength: max }).map((a) => Buffer.from(a));

/** Codes a relay's handshake may fail with on hostile input. */
const HANDSHAKE_CODES: readonly ErrorCode[] = [
  'XNAT_ERR_LINK_PREFACE',
  'XNAT_ERR_LINK_VERSION',
  'XNAT_ERR_LINK_HANDSHAKE_MALFORMED',
  'XNAT_ERR_LINK_HANDSHAKE_TIMEOUT',
  'XNAT_ERR_LINK_RESET',
  'XNAT_ERR_AUTH_RELAY_KEY',
  'XNAT_ERR_AUTH_UNKNOWN_AGENT',
  'XNAT_ERR_AUTH_PSK',
  'XNAT_ERR_CRYPTO_DECRYPT',
  'XNAT_ERR_CRYPTO_DH',
  // A fuzzed suite byte under a real message 1 is a detected downgrade, or a suite the relay refuses.
  'XNAT_ERR_LINK_SUITE_TAMPERED',
  'XNAT_ERR_LINK_SUITE_REFUSED',
];

/** Lets stream events (memory pair pushes, setImmediate reads) run. */
async function ticks(n = 4): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/** Resolves with the promise's outcome, or throws 'hang' when it has not settled after `rounds` ticks. */
async function settled<T>(p: Promise<T>, rounds = 50): Promise<{ ok: T } | { err: unknown }> {
  let out: { ok: T } | { err: unknown } | undefined;
  p.then(
    (ok) => (out = { ok }),
    (err: unknown) => (out = { err }),
  );
  for (let i = 0; i < rounds && out === undefined; i++) await ticks(1);
  if (out === undefined) throw new Error('hang: the handshake neither finished nor failed');
  return out;
}

/** A raw peer end that swallows what it is sent (so the other side never blocks on backpressure). */
function sink(end: Duplex): Buffer[] {
  const got: Buffer[] = [];
  end.on('data', (c: Buffer) => got.push(c));
  end.on('error', () => {});
  return got;
}

// ---- pure codecs

test('checkPreface: any bytes are refused as soon as they cannot be a preface, and only then', (t) => {
  t.timeout(fuzzTimeoutMs(0.25));
  // One valid preface per cipher suite (byte 5 is the suite id).
  const goodPrefaces = Object.values(SUITES).map((s) => encodePreface(undefined, s.id));
  fc.assert(
    fc.property(fc.oneof(bytes(12), mutatedArb(fc.constantFrom(...goodPrefaces), 2)), (input) => {
      // The verdict on each prefix: pending (false), whole (true) or refused; once refused, always refused.
      let refused = false;
      for (let n = 0; n <= Math.min(input.length, PREFACE_BYTES); n++) {
        const r = outcome(
          () => checkPreface(input.subarray(0, n)),
          ['XNAT_ERR_LINK_PREFACE', 'XNAT_ERR_LINK_VERSION'],
          'checkPreface',
        );
        if (refused && !r.err) throw new Error(`prefix ${n} accepted after a shorter one was refused`);
        if (r.err) refused = true;
        else if (r.ok !== (n === PREFACE_BYTES)) throw new Error(`prefix ${n} gave ${r.ok}`);
        else if (r.ok && !goodPrefaces.some((g) => input.subarray(0, n).equals(g)))
          throw new Error('a wrong preface was accepted');
      }
      return true;
    }),
    fuzzParams(0.25),
  );
  t.pass();
});

type QueueOp = { op: 'push'; data: Buffer } | { op: 'peek' | 'take'; n: number } | { op: 'drain' };

/** Runs `ops` on a ByteQueue and on a plain byte string; throws where they disagree. */
function checkQueueOps(ops: readonly QueueOp[], useScratch: boolean): true {
  const q = new ByteQueue();
  let model = Buffer.alloc(0);
  const scratch = Buffer.alloc(64);
  for (const o of ops) {
    if (o.op === 'push') {
      q.push(o.data);
      model = Buffer.concat([model, o.data]);
    } else if (o.op === 'drain') {
      const all = Buffer.concat(q.drain());
      if (!all.equals(model)) throw new Error('drain differs');
      model = Buffer.alloc(0);
    } else {
      const n = Math.min(o.n, model.length);
      if (model.length >= 2 && q.peekU16() !== model.readUInt16BE(0)) throw new Error('peekU16 differs');
      const got = o.op === 'peek' ? q.peek(n) : q.take(n, useScratch ? () => scratch : undefined);
      if (!got.equals(model.subarray(0, n))) throw new Error(`${o.op}(${n}) differs`);
      if (o.op === 'take') model = model.subarray(n);
    }
    if (q.length !== model.length) throw new Error('length differs');
  }
  return true;
}

test('ByteQueue (the chunk queue under both phases) agrees with a plain byte string for any operations', (t) => {
  t.timeout(fuzzTimeoutMs(0.5));
  const opArb: fc.Arbitrary<QueueOp> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constant('push' as const), data: bytes(20) }) },
    {
      weight: 3,
      arbitrary: fc.record({ op: fc.constantFrom('peek' as const, 'take' as const), n: fc.nat(40) }),
    },
    fc.record({ op: fc.constant('drain' as const) }),
  );
  fc.assert(fc.property(fc.array(opArb, { maxLength: 120 }), fc.boolean(), checkQueueOps), fuzzParams(0.5));
  t.pass();
});

// ---- the relay's handshake reader

/** A real agent's preface and message 1 for `relayPublic`. */
function realMessage1(relayPublic: Uint8Array): { preface: Buffer; frame: Buffer } {
  const preface = encodePreface();
  const hs = new HandshakeState({
    protocolName: SUITES['chacha20-poly1305'].protocolName,
    initiator: true,
    prologue: preface,
    s: generateKeyPair(),
    rs: relayPublic,
    psks: [ZERO_PSK],
  });
  return { preface, frame: encodeHandshakeFrame(HandshakeTag.NOISE, hs.writeMessage(EMPTY)) };
}

/** A handshake-phase frame of any tag with a random body, sometimes lying about its length. */
const hsFrameArb = fc
  .tuple(
    fc.oneof(fc.constantFrom(1, 2, 3, 4), fc.integer({ min: 0, max: 255 })),
    fc.oneof(bytes(120), bytes(96, 96), bytes(48, 48)),
    fc.option(fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.constant(HANDSHAKE_FRAME_MAX_BYTES + 1))),
  )
  .map(([tag, body, lie]) => {
    const f = encodeHandshakeFrame(tag, body);
    if (lie !== null) f.writeUInt16BE(lie, 0);
    return f;
  });

const RELAY = generateKeyPair();

/** What a hostile stranger sends to the control port. */
const strangerArb = fc.oneof(
  bytes(200),
  fc.tuple(bytes(16, 1), fc.constant(null)).map(([junk]) => {
    // Garbage before a real handshake.
    const m = realMessage1(RELAY.publicKey);
    return Buffer.concat([junk, m.preface, m.frame]);
  }),
  fc.array(hsFrameArb, { maxLength: 3 }).map((frames) => Buffer.concat([encodePreface(), ...frames])),
  fc.tuple(fc.array(byteEditArb, { minLength: 1, maxLength: 3 }), bytes(40)).map(([edits, tail]) => {
    // A mutated real message 1, then garbage.
    const m = realMessage1(RELAY.publicKey);
    return Buffer.concat([applyEdits(Buffer.concat([m.preface, m.frame]), edits), tail]);
  }),
  fc.tuple(fc.oneof(bytes(40), hsFrameArb), fc.boolean()).map(([after, unknown]) => {
    // A real message 1 (of a known or unknown agent), then garbage where the key confirmation goes.
    const m = realMessage1(unknown ? generateKeyPair().publicKey : RELAY.publicKey);
    return Buffer.concat([m.preface, m.frame, after]);
  }),
);

async function strangerOutcome(input: Buffer, points: number[], end: boolean): Promise<XnatError> {
  const clock = new FakeClock();
  const acceptor = new LinkAcceptor({ staticKeys: RELAY, lookupAgent: () => ({}), clock });
  const [ours, theirs] = createDuplexPair();
  sink(ours);
  const accepted = acceptor.accept(theirs);
  // The verdict may come while input is still being fed (a stranger's message 1 fails at once): handled
  // here so it is never an unhandled rejection before settled() looks at it.
  accepted.catch(() => undefined);
  for (const c of cut(input, points)) {
    if (c.length > 0) ours.write(c);
    await ticks(1);
  }
  if (end) ours.end();
  await ticks();
  // Whatever is still pending meets its deadline now: nothing may wait beyond it.
  clock.advance(HANDSHAKE_TIMEOUT_MS);
  const r = await settled(accepted);
  clock.advance(FAREWELL_LINGER_MS);
  ours.destroy();
  if ('ok' in r) {
    (r.ok as Link).destroy();
    throw new Error('a stranger established a link');
  }
  if (acceptor.pendingHandshakes !== 0) throw new Error('a failed handshake still holds its slot');
  return expectTyped(r.err, HANDSHAKE_CODES, 'relay handshake');
}

test('relay handshake: garbage before, inside and after message 1 fails typed, frees its slot, never hangs', async (t) => {
  t.timeout(fuzzTimeoutMs(2));
  await fc.assert(
    fc.asyncProperty(strangerArb, cutPointsArb, fc.boolean(), async (input, points, end) => {
      await strangerOutcome(input, points, end);
    }),
    fuzzParams(2),
  );
  t.pass();
});

test('relay handshake: a declared frame length above the cap is refused from its 2 bytes, before the body', async (t) => {
  t.timeout(fuzzTimeoutMs(0.25));
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: HANDSHAKE_FRAME_MAX_BYTES + 1, max: 0xffff }), async (len) => {
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(len, 0);
      const clock = new FakeClock();
      const acceptor = new LinkAcceptor({ staticKeys: RELAY, lookupAgent: () => ({}), clock });
      const [ours, theirs] = createDuplexPair();
      sink(ours);
      const accepted = acceptor.accept(theirs);
      ours.write(Buffer.concat([encodePreface(), prefix]));
      // No deadline, no end: the verdict must come from the bytes alone.
      const r = await settled(accepted);
      ours.destroy();
      if ('ok' in r) throw new Error('accepted');
      return expectTyped(r.err).code === 'XNAT_ERR_LINK_HANDSHAKE_MALFORMED';
    }),
    fuzzParams(0.25),
  );
  t.pass();
});

// ---- the agent's handshake reader

const relayReplyArb = fc.oneof(
  bytes(120),
  fc.array(hsFrameArb, { minLength: 1, maxLength: 2 }).map((f) => Buffer.concat(f)),
  fc.constant(encodeHandshakeFrame(HandshakeTag.BUSY)),
);

test('agent handshake: any reply of a hostile relay fails typed and never hangs', async (t) => {
  t.timeout(fuzzTimeoutMs(1));
  const AGENT_CODES: readonly ErrorCode[] = [
    'XNAT_ERR_AUTH_RELAY_KEY',
    'XNAT_ERR_AUTH_PSK',
    'XNAT_ERR_LINK_HANDSHAKE_MALFORMED',
    'XNAT_ERR_LINK_HANDSHAKE_BUSY',
    'XNAT_ERR_LINK_HANDSHAKE_TIMEOUT',
    'XNAT_ERR_LINK_VERSION',
    'XNAT_ERR_LINK_RESET',
    'XNAT_ERR_CRYPTO_DECRYPT',
    'XNAT_ERR_CRYPTO_DH',
  ];
  const agent = generateKeyPair();
  await fc.assert(
    fc.asyncProperty(relayReplyArb, cutPointsArb, fc.boolean(), async (reply, points, end) => {
      const clock = new FakeClock();
      const [ours, theirs] = createDuplexPair();
      sink(ours);
      const linked = connectLink(theirs, { staticKeys: agent, remoteStaticKey: RELAY.publicKey, clock });
      for (const c of cut(reply, points)) {
        if (c.length > 0) ours.write(c);
        await ticks(1);
      }
      if (end) ours.end();
      await ticks();
      clock.advance(HANDSHAKE_TIMEOUT_MS);
      const r = await settled(linked);
      clock.advance(FAREWELL_LINGER_MS);
      ours.destroy();
      if ('ok' in r) throw new Error('a hostile relay established a link');
      expectTyped(r.err, AGENT_CODES, 'agent handshake');
    }),
    fuzzParams(1),
  );
  t.pass();
});

// ---- records after a valid handshake

test('records: random bytes after a valid handshake close the link typed, or wait for the rest of a record', async (t) => {
  t.timeout(fuzzTimeoutMs(1.5));
  const keys = makeKeys();
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        bytes(40),
        bytes(300, 2),
        fc.tuple(fc.integer({ min: 0, max: 0xffff }), bytes(64)).map(([n, b]) => {
          const p = Buffer.alloc(2);
          p.writeUInt16BE(n, 0);
          return Buffer.concat([p, b]);
        }),
      ),
      cutPointsArb,
      fc.boolean(),
      async (junk, points, toRelay) => {
        const { tap, agent, relay } = await tapLinks(keys);
        // Silence the real sender of this direction so only the junk arrives there.
        const target = toRelay ? relay : agent;
        const victimClosed = closed(target);
        let closeErr: XnatError | undefined;
        void victimClosed.then((e) => (closeErr = e));
        if (toRelay) {
          tap.toRelay = () => undefined;
          for (const c of cut(junk, points)) if (c.length > 0) tap.injectToRelay(c);
        } else {
          // The tap injects only towards the relay: the relay's next record is replaced by the junk, whole.
          let sent = false;
          tap.toAgent = () => {
            if (sent) return undefined;
            sent = true;
            return junk;
          };
          relay.write(encodeFrame({ type: FrameType.COMMAND, body: Buffer.from('x') }));
        }
        await ticks(8);
        // What the junk must do: a length outside 26..65535 or a whole record kills the link at once.
        const len = junk.length >= 2 ? junk.readUInt16BE(0) : undefined;
        const mustClose =
          len !== undefined && (len < RECORD_MIN_BYTES || len > RECORD_MAX_BYTES || junk.length >= 2 + len);
        agent.destroy();
        relay.destroy();
        await ticks(2);
        if (mustClose && closeErr === undefined) throw new Error('junk left the link open');
        if (closeErr && closeErr.code !== 'XNAT_ERR_LINK_RESET')
          expectTyped(
            closeErr,
            ['XNAT_ERR_LINK_RECORD_MALFORMED', 'XNAT_ERR_CRYPTO_DECRYPT'],
            'record layer',
          );
        if (mustClose && closeErr?.code === 'XNAT_ERR_LINK_RESET') throw new Error('junk was not refused');
      },
    ),
    fuzzParams(1.5),
  );
  t.pass();
});

/**
 * A record plaintext: valid frames of every type (the link's own among them), sometimes followed by a raw
 * or mutated frame (malformed PING/CLOSE payloads, hostile lengths, a frame cut at the record's end).
 */
const encodedArb = (arb: fc.Arbitrary<Frame>): fc.Arbitrary<Buffer> =>
  arb.map((f) => Buffer.concat(encodeFrame(f)));
const plaintextArb: fc.Arbitrary<Buffer> = fc
  .tuple(
    fc.array(anyFrameArb, { maxLength: 4 }),
    fc.option(fc.oneof(rawFrameArb, mutatedArb(encodedArb(anyFrameArb), 2)), { nil: undefined }),
  )
  .map(([frames, tail]) =>
    Buffer.concat([...frames.flatMap((f) => encodeFrame(f)), ...(tail ? [tail] : [])]),
  );

/** What the link must do with one record plaintext: deliver its session frames, rekey, or end with a code. */
function expected(pt: Buffer): { frames: Frame[]; end?: ErrorCode; rekey?: boolean } {
  const frames: Frame[] = [];
  if (pt.length + 16 < RECORD_MIN_BYTES) return { frames, end: 'XNAT_ERR_LINK_RECORD_MALFORMED' };
  let rekey = false;
  let end: ErrorCode | undefined;
  const r = outcome(() =>
    decodeFrames(pt, (f) => {
      if (end) return;
      if (rekey) end = 'XNAT_ERR_LINK_RECORD_MALFORMED';
      else if (f.type === FrameType.REKEY) rekey = true;
      else if (f.type === FrameType.CLOSE) end = 'XNAT_ERR_LINK_CLOSED_BY_PEER';
      else if (f.type !== FrameType.PING && f.type !== FrameType.PONG) frames.push(f);
    }),
  );
  if (!end && r.err) end = r.err.code;
  return { frames, end, rekey: rekey && !end };
}

function sealRecord(send: RecordCipher, pt: Buffer): Buffer {
  const ct = send.encryptWithAd(EMPTY, pt);
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(ct.length, 0);
  return Buffer.concat([prefix, ct]);
}

test('records: authenticated random plaintexts are delivered, ignored or end the link exactly as specified', async (t) => {
  t.timeout(fuzzTimeoutMs(1.5));
  const agentKeys = generateKeyPair();
  await fc.assert(
    fc.asyncProperty(
      fc.array(plaintextArb, { minLength: 1, maxLength: 8 }),
      cutPointsArb,
      async (pts, points) => {
        const clock = new FakeClock();
        const [ours, theirs] = createDuplexPair();
        const acceptor = new LinkAcceptor({ staticKeys: RELAY, lookupAgent: () => ({}), clock });
        const accepted = acceptor.accept(theirs);
        accepted.catch(() => undefined); // looked at below; a failure must not count as unhandled first
        // Our own agent: a real handshake, then records we seal by hand (the first is the key confirmation).
        const reader = new HandshakeReader(ours);
        const init = await runInitiator(
          ours,
          reader,
          { staticKeys: agentKeys, remoteStaticKey: RELAY.publicKey },
          {},
        );
        reader.release();
        sink(ours);
        ours.resume();
        const wire: Buffer[] = [];
        const want: Frame[] = [];
        let end: ErrorCode | undefined;
        for (const pt of pts) {
          wire.push(sealRecord(init.send, pt));
          const e = expected(pt);
          if (e.rekey) init.send.rekey();
          want.push(...e.frames);
          if (e.end) {
            end = e.end;
            break;
          }
        }
        const got: Frame[] = [];
        let closeErr: XnatError | undefined | null = null;
        let link: Link | undefined;
        let failed: unknown;
        // Listeners go on in the same microtask as the resolve: the link reads nothing before the next macrotask.
        accepted.then(
          (l) => {
            link = l;
            l.on('frame', (f: Frame) => got.push(f));
            l.once('close', (e?: XnatError) => (closeErr = e));
          },
          (err: unknown) => (failed = err),
        );
        for (const c of cut(Buffer.concat(wire), points)) {
          if (c.length > 0) ours.write(c);
          await ticks(1);
        }
        await ticks(6);
        // The verdict before our own teardown (which closes the link too).
        const verdict = closeErr as XnatError | undefined | null;
        ours.destroy();
        link?.destroy();
        if (failed !== undefined) {
          // Only a record too short to be one (less than a frame header) is refused as the key confirmation.
          if (pts[0]!.length + 16 >= RECORD_MIN_BYTES)
            throw new Error('the key confirmation was refused', { cause: failed });
          expectTyped(failed, ['XNAT_ERR_LINK_HANDSHAKE_MALFORMED'], 'key confirmation');
          return;
        }
        if (!link) throw new Error('hang: the handshake did not finish');
        const bytesOf = (fs: Frame[]) => Buffer.concat(fs.flatMap((f) => encodeFrame(f)));
        if (!bytesOf(got).equals(bytesOf(want)))
          throw new Error(`delivered ${got.length} frames, expected ${want.length}`);
        if (end === undefined && verdict !== null)
          throw new Error(`closed without cause: ${String(verdict)}`);
        if (end !== undefined && verdict?.code !== end)
          throw new Error(`expected close ${end}, got ${String(verdict?.code)}`);
      },
    ),
    fuzzParams(1.5),
  );
  t.pass();
});

// ---- kept cases

function replayStranger(fx: Fixture): Promise<XnatError> {
  return strangerOutcome(
    fixtureBytes(fx.hex ?? ''),
    (fx['cuts'] as number[] | undefined) ?? [],
    fx['end'] === true,
  );
}

for (const fx of loadFixtures('link')) {
  test(`kept case ${fx.file}: ${fx.note}`, async (t) => {
    if (fx['decoder'] === 'bytequeue') {
      const ops = (fx['ops'] as Array<QueueOp & { data?: string }>).map((o) =>
        o.op === 'push' ? { op: o.op, data: fixtureBytes(o.data as string) } : o,
      ) as QueueOp[];
      t.notThrows(() => checkQueueOps(ops, fx['scratch'] === true));
      return;
    }
    const err = await replayStranger(fx);
    t.is(err.code as string, fx.expect);
  });
}
