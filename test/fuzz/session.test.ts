// Fuzzing the session frames: a relay's first-frame handling (SESSION_OPEN / SESSION_RESUME, right or wrong
// proofs, any received count, garbage) and an open session fed any frames, both against a model; the
// agent's handling of any answer. Links are driven by hand (synchronous), time by a fake clock. Outcome:
// attached, refused with SESSION_REJECT, or destroyed with a typed code; never a throw, never a pending
// link past the deadline, never harm to another session. Budget: XNAT_FUZZ_SECONDS / XNAT_FUZZ_RUNS
// (see fuzz-kit.ts); cases kept in test/fixtures/fuzz/session/.
import test from 'ava';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { isErrorCode, type ErrorCode, type XnatError } from '../../src/errors.ts';
import { computeResumeProof } from '../../src/session/resume-proof.ts';
import { SessionClient } from '../../src/session/session-client.ts';
import type { SessionLink } from '../../src/session/session-link.ts';
import { SESSION_HANDSHAKE_TIMEOUT_MS, SESSION_PROTOCOL_VERSION } from '../../src/session/session-options.ts';
import { SessionServer } from '../../src/session/session-server.ts';
import type { Session } from '../../src/session/session.ts';
import { FakeClock } from '../../src/util/clock.ts';
import { encodeFrame } from '../../src/wire/codec.ts';
import { decodeFrames } from '../../src/wire/decoder.ts';
import { FrameType, isLinkType, isReliableType, type Frame } from '../../src/wire/frame.ts';
import { cut, cutPointsArb, frameArb, mutatedArb, rawFrameArb } from '../wire/arbitraries.ts';
import { expectTyped, fixtureBytes, fuzzParams, fuzzTimeoutMs, loadFixtures } from './fuzz-kit.ts';

/**
 * A SessionLink driven by the test: bytes in by hand (synchronously), decoded as a Link decodes a record
 * (its own frame types consumed, a malformed frame destroys it with the WIRE_* code); frames out recorded.
 */
class HandLink extends EventEmitter implements SessionLink {
  closed = false;
  readonly rttMs = 1;
  /** Frames written to this link, decoded. */
  readonly out: Frame[] = [];
  closeCode: ErrorCode | undefined;
  closeError: XnatError | undefined;

  constructor(
    readonly remoteStaticKey: Buffer,
    readonly handshakeHash: Buffer = randomBytes(32),
  ) {
    super();
  }

  write(chunk: Buffer | readonly Buffer[]): boolean {
    // Whatever a session writes must be valid frames: a throw here fails the property.
    decodeFrames(Buffer.isBuffer(chunk) ? [chunk] : chunk, (f) => this.out.push(f));
    return !this.closed;
  }

  close(code?: ErrorCode): void {
    if (this.closed) return;
    this.closed = true;
    this.closeCode = code;
    this.emit('close', undefined);
  }

  destroy(err?: XnatError): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = err;
    this.emit('close', err);
  }

  /**
   * Feeds bytes as one record's plaintext, given in the pieces `points` cut (as a record decrypted
   * piecewise): its frames as 'frame' events, in order, then the WIRE_* code if it holds a malformed frame.
   */
  feed(bytes: Buffer, points: readonly number[] = []): void {
    if (this.closed || bytes.length === 0) return;
    try {
      decodeFrames(cut(bytes, points), (f) => {
        if (!this.closed && !isLinkType(f.type)) this.emit('frame', f);
      });
    } catch (err) {
      this.destroy(err as XnatError);
    }
  }
}

const encoded = (frames: readonly Frame[]): Buffer => Buffer.concat(frames.flatMap((f) => encodeFrame(f)));

/** Checks how a link ended: a typed destroy code (never INTERNAL), or a graceful close with a code. */
function checkEnd(link: HandLink, what: string): void {
  if (link.closeError) expectTyped(link.closeError, undefined, what);
  if (link.closeCode !== undefined && !isErrorCode(link.closeCode))
    throw new Error(`${what}: closed with untyped code ${String(link.closeCode)}`);
}

const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: 8n }),
  fc.constantFrom(BigInt(Number.MAX_SAFE_INTEGER), BigInt(Number.MAX_SAFE_INTEGER) + 1n, (1n << 64n) - 1n),
);

interface Established {
  server: SessionServer;
  clock: FakeClock;
  key: Buffer;
  link: HandLink;
  session: Session;
}

/** A relay with one open session (agent key `key`) that has sent `sent` reliable frames. */
function established(sent: number): Established {
  const clock = new FakeClock();
  const server = new SessionServer({ clock });
  const key = randomBytes(32);
  let session: Session | undefined;
  server.on('session', (s: Session) => (session = s));
  const link = new HandLink(key);
  server.attachLink(link);
  link.feed(encoded([{ type: FrameType.SESSION_OPEN, version: SESSION_PROTOCOL_VERSION }]));
  if (!session) throw new Error('no session');
  for (let i = 0; i < sent; i++)
    session.sendReliable({ type: FrameType.STREAM_DATA, streamId: 1, data: Buffer.of(i) });
  return { server, clock, key, link, session };
}

// ---- the relay's first frame

/** What a new link may send first: a valid open, resumes with right or wrong proofs, any frame, garbage. */
type Opener =
  | { kind: 'bytes'; bytes: Buffer }
  | { kind: 'resume'; goodProof: boolean; goodId: boolean; received: bigint; then: Buffer };

const openerArb: fc.Arbitrary<Opener> = fc.oneof(
  fc
    .tuple(
      fc.array(fc.oneof(frameArb, fc.constant<Frame>({ type: FrameType.SESSION_OPEN, version: 1 })), {
        maxLength: 4,
      }),
      fc.array(rawFrameArb, { maxLength: 2 }),
    )
    .map(([frames, raws]) => ({ kind: 'bytes' as const, bytes: Buffer.concat([encoded(frames), ...raws]) })),
  mutatedArb(fc.constant(encoded([{ type: FrameType.SESSION_OPEN, version: 1 }]))).map((bytes) => ({
    kind: 'bytes' as const,
    bytes,
  })),
  fc.uint8Array({ maxLength: 40 }).map((a) => ({ kind: 'bytes' as const, bytes: Buffer.from(a) })),
  fc.record({
    kind: fc.constant('resume' as const),
    goodProof: fc.boolean(),
    goodId: fc.boolean(),
    received: u64,
    then: fc.array(frameArb, { maxLength: 3 }).map(encoded),
  }),
);

test('relay: any first bytes on a new link attach, refuse or destroy it typed; other sessions are untouched', (t) => {
  t.timeout(fuzzTimeoutMs(2));
  fc.assert(
    fc.property(openerArb, fc.boolean(), fc.nat(4), cutPointsArb, (opener, sameKey, sent, points) => {
      const e = established(sent);
      const ours = e.session;
      const key = sameKey ? e.key : randomBytes(32);
      const link = new HandLink(key);
      e.server.attachLink(link);
      let bytes: Buffer;
      let validResume = false;
      if (opener.kind === 'resume') {
        const sessionId = opener.goodId ? ours.id : randomBytes(16);
        const proof = opener.goodProof
          ? computeResumeProof(ours.resumeSecret, sessionId, link.handshakeHash)
          : randomBytes(32);
        bytes = Buffer.concat([
          encoded([{ type: FrameType.SESSION_RESUME, sessionId, proof, received: opener.received }]),
          opener.then,
        ]);
        validResume = sameKey && opener.goodId && opener.goodProof && opener.received <= BigInt(sent);
      } else {
        bytes = opener.bytes;
      }
      link.feed(bytes, points);
      e.clock.advance(SESSION_HANDSHAKE_TIMEOUT_MS);
      checkEnd(link, 'new link');
      if (e.server.pendingLinks !== 0) throw new Error('a link is still pending after the deadline');
      // What the link's first frame was decides everything.
      let first: Frame | undefined;
      try {
        decodeFrames(bytes, (f) => {
          first ??= f;
        });
      } catch {
        // Garbage before any whole frame: the link is destroyed with the wire's code.
      }
      const opened = first?.type === FrameType.SESSION_OPEN && first.version === SESSION_PROTOCOL_VERSION;
      const accept = link.out.find((f) => f.type === FrameType.SESSION_ACCEPT);
      if (opened || validResume) {
        if (!accept) throw new Error('a valid open or resume got no SESSION_ACCEPT');
        if (validResume && !(accept.type === FrameType.SESSION_ACCEPT && accept.resumed))
          throw new Error('a resume was answered as a new session');
      } else {
        if (accept) throw new Error(`accepted after first frame ${String(first?.type)}`);
        if (!link.closed) throw new Error('an invalid first frame left the link open');
      }
      // The established session: replaced only by an open of the same key, moved only by a valid resume.
      if (opened && sameKey) {
        if (ours.state !== 'closed') throw new Error('takeover left the old session alive');
      } else if (validResume) {
        if (e.link.closeError?.code !== 'XNAT_ERR_SESSION_LINK_REPLACED')
          throw new Error('a valid resume did not move the session off its old link');
      } else if (ours.state !== 'attached' || ours.link !== e.link) {
        throw new Error(`a stranger moved the session (${ours.state})`);
      }
      e.server.close();
    }),
    fuzzParams(2),
  );
  t.pass();
});

// ---- an open session fed any frames

/** What the relay session must do with the agent's next frame, given `sent` reliable frames of its own. */
function verdict(f: Frame, sent: number): { deliver?: boolean; end?: ErrorCode } {
  if (isReliableType(f.type) || f.type === FrameType.DATAGRAM) return { deliver: true };
  switch (f.type) {
    case FrameType.ACK:
      return f.received <= BigInt(sent) ? {} : { end: 'XNAT_ERR_SESSION_PROTOCOL' };
    case FrameType.SESSION_REJECT:
      return { end: isErrorCode(f.code) ? f.code : 'XNAT_ERR_SESSION_PROTOCOL' };
    default:
      return { end: 'XNAT_ERR_SESSION_PROTOCOL' };
  }
}

test('relay session: any frames after the open are delivered in order or end the link exactly as specified', (t) => {
  t.timeout(fuzzTimeoutMs(1.5));
  const sessionFrameArb = fc.oneof(
    { weight: 5, arbitrary: frameArb },
    fc.record({ type: fc.constant(FrameType.ACK), received: u64 }) as fc.Arbitrary<Frame>,
  );
  fc.assert(
    fc.property(
      fc.array(sessionFrameArb, { maxLength: 12 }),
      fc.nat(4),
      cutPointsArb,
      fc.option(fc.uint8Array({ minLength: 1, maxLength: 12 })),
      (frames, sent, points, junk) => {
        const e = established(sent);
        const got: Frame[] = [];
        e.session.on('frame', (f: Frame) => got.push(f));
        let ended: XnatError | undefined;
        e.session.once('closed', (err?: XnatError) => (ended = err));
        const bytes = Buffer.concat([encoded(frames), junk ? Buffer.from(junk) : Buffer.alloc(0)]);
        e.link.feed(bytes, points);
        // The model, over what the bytes decode to (junk may hold a frame too): deliver up to the first
        // ending frame; a wire error after the frames destroys the link with the wire's code.
        const decoded: Frame[] = [];
        let wireErr: ErrorCode | undefined;
        try {
          decodeFrames(bytes, (f) => decoded.push(f));
        } catch (err) {
          wireErr = expectTyped(err).code;
        }
        const want: Frame[] = [];
        let end: ErrorCode | undefined;
        let ender: Frame | undefined;
        for (const f of decoded) {
          const v = verdict(f, sent);
          if (v.deliver) want.push(f);
          if (v.end) {
            end = v.end;
            ender = f;
            break;
          }
        }
        t.deepEqual(got, want);
        checkEnd(e.link, 'session link');
        const linkCode = e.link.closeError?.code ?? e.link.closeCode;
        if (ender?.type === FrameType.SESSION_REJECT) {
          // The agent ended the session itself.
          if (e.session.state !== 'closed' || ended?.code !== end)
            throw new Error(`session not ended with ${end}`);
        } else {
          const expectCode = end ?? wireErr;
          if (expectCode === undefined && e.link.closed) throw new Error(`closed without cause: ${linkCode}`);
          if (expectCode !== undefined && linkCode !== expectCode)
            throw new Error(`expected ${expectCode}, link ended with ${linkCode}`);
          if (e.session.state === 'closed') throw new Error('a bad frame on the link closed the session');
        }
        e.server.close();
        return true;
      },
    ),
    fuzzParams(1.5),
  );
});

// ---- the agent's handling of answers

test('agent: any answer to SESSION_OPEN attaches a new session only for a proper SESSION_ACCEPT; all else typed', async (t) => {
  t.timeout(fuzzTimeoutMs(1));
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.array(frameArb, { minLength: 1, maxLength: 3 }).map(encoded),
        mutatedArb(
          fc.constant(
            encoded([
              {
                type: FrameType.SESSION_ACCEPT,
                resumed: false,
                sessionId: Buffer.alloc(16, 1),
                resumeSecret: Buffer.alloc(32, 2),
                received: 0n,
              },
            ]),
          ),
        ),
        rawFrameArb,
      ),
      cutPointsArb,
      async (answer, points) => {
        const clock = new FakeClock();
        const links: HandLink[] = [];
        const sessions: Session[] = [];
        const client = new SessionClient({
          clock,
          dial: () => {
            const l = new HandLink(randomBytes(32));
            links.push(l);
            return Promise.resolve(l);
          },
        });
        client.on('session', (s: Session) => sessions.push(s));
        client.start();
        for (let i = 0; i < 5 && !links[0]?.out.length; i++) await new Promise((r) => setImmediate(r));
        const link = links[0];
        if (!link) throw new Error('no dial');
        if (link.out[0]?.type !== FrameType.SESSION_OPEN) throw new Error('no SESSION_OPEN sent');
        link.feed(answer, points);
        clock.advance(SESSION_HANDSHAKE_TIMEOUT_MS);
        checkEnd(link, 'agent link');
        let first: Frame | undefined;
        try {
          decodeFrames(answer, (f) => {
            first ??= f;
          });
        } catch {
          // Garbage first: destroyed with the wire's code.
        }
        const proper = first?.type === FrameType.SESSION_ACCEPT && !first.resumed && first.received === 0n;
        if (proper !== (sessions.length === 1))
          throw new Error(`proper ${proper}, sessions ${sessions.length}`);
        if (!proper && !link.closed) throw new Error('an improper answer left the link open');
        client.close();
      },
    ),
    fuzzParams(1),
  );
  t.pass();
});

// ---- kept cases

for (const fx of loadFixtures('session')) {
  test(`kept case ${fx.file}: ${fx.note}`, (t) => {
    const e = established(0);
    const link = new HandLink(randomBytes(32));
    e.server.attachLink(link);
    link.feed(fixtureBytes(fx.hex ?? ''));
    e.clock.advance(SESSION_HANDSHAKE_TIMEOUT_MS);
    t.is((link.closeError?.code ?? link.closeCode ?? 'open') as string, fx.expect);
    t.is(e.session.state, 'attached');
    e.server.close();
  });
}
