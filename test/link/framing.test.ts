// Framing over a real link: random frames of every size, the byte stream cut at random points so records
// straddle socket reads (joined, then decrypted whole), on both backends: the same frames come out, in order.
// And the piecewise ciphers themselves: any cut of a record seals and opens to the same bytes as whole.
import test from 'ava';
import fc from 'fast-check';
import { isXnatError } from '../../src/errors.ts';
import { AEAD_CIPHERS, getAead, prepareAead } from '../../src/crypto/aead.ts';
import { CipherState } from '../../src/crypto/cipher-state.ts';
import { RecordOpener } from '../../src/link/opener.ts';
import { encodeFrame } from '../../src/wire/codec.ts';
import { FrameType, MAX_FRAME_PAYLOAD, isLinkType, type Frame } from '../../src/wire/frame.ts';
import { anyFrameArb, cut, frameArb } from '../wire/arbitraries.ts';
import { makeKeys, tapLinks, waitFor } from './link-helpers.ts';

// The noble backend loads on demand (src/crypto/aead.ts); these tests call it without a link handshake.
test.before(() => prepareAead('noble'));

const EMPTY = new Uint8Array(0);
const bigFrame = (n: number): Frame => ({
  type: FrameType.STREAM_DATA,
  streamId: 3,
  data: Buffer.alloc(n, n & 0xff),
});
const bytesOf = (frames: readonly Frame[]): Buffer => Buffer.concat(frames.flatMap((f) => encodeFrame(f)));

/** Session frames, sometimes a full one (MAX_FRAME_PAYLOAD: a record of its own). */
const sessionFrameArb: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 6, arbitrary: frameArb },
  fc
    .integer({ min: MAX_FRAME_PAYLOAD - 3, max: MAX_FRAME_PAYLOAD })
    .map((n): Frame => ({ type: FrameType.STREAM_DATA, streamId: 3, data: Buffer.alloc(n, n & 0xff) })),
);

for (const backend of ['node', 'noble'] as const) {
  test(`${backend}: random frames, the wire cut at random points, arrive whole and in order`, async (t) => {
    t.timeout(120_000);
    const keys = makeKeys();
    await fc.assert(
      fc.asyncProperty(
        fc.array(sessionFrameArb, { minLength: 1, maxLength: 30 }),
        fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 12 }),
        async (frames, sizes) => {
          const { tap, agent, relay } = await tapLinks(
            keys,
            { cipherBackend: backend },
            { cipherBackend: backend },
          );
          // Re-cut everything the agent sends into pieces of the drawn sizes (cycled): most records
          // straddle two or more reads, some reads hold several records.
          let turn = 0;
          tap.toRelay = (c) => {
            let off = 0;
            while (off < c.length) {
              const n = sizes[turn++ % sizes.length]!;
              tap.injectToRelay(c.subarray(off, off + n));
              off += n;
            }
            return undefined;
          };
          const got: Frame[] = [];
          relay.on('frame', (f: Frame) => got.push(f));
          for (const f of frames) agent.write(encodeFrame(f));
          await waitFor(() => got.length >= frames.length || relay.closed, 20_000, 'frames');
          const ok = !relay.closed && bytesOf(got).equals(bytesOf(frames));
          agent.destroy();
          relay.destroy();
          return ok;
        },
      ),
      { numRuns: backend === 'node' ? 40 : 15 },
    );
    t.pass();
  });
}

for (const cipher of AEAD_CIPHERS) {
  for (const backend of ['node', 'noble'] as const) {
    test(`${cipher} on ${backend}: a record in any pieces seals and opens to the bytes of the whole`, (t) => {
      const aead = getAead(backend, cipher);
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 0, maxLength: 3000 }),
          fc.array(fc.nat(), { maxLength: 6 }),
          fc.array(fc.nat(), { maxLength: 6 }),
          (pt, ptCuts, ctCuts) => {
            const key = Buffer.alloc(32, 7);
            const [whole, pieces, opener, wholeOpener] = [0, 1, 2, 3].map(() => new CipherState(aead));
            for (const c of [whole, pieces, opener, wholeOpener]) c!.initializeKey(key);
            const plaintext = Buffer.from(pt);
            const ct = whole!.encryptWithAd(EMPTY, plaintext);
            const parts = pieces!.encryptWithAdPieces(EMPTY, cut(plaintext, ptCuts), plaintext.length);
            if (!Buffer.concat(parts).equals(ct)) return false;
            const back = opener!.decryptWithAdPieces(EMPTY, cut(ct, ctCuts));
            const opened = Buffer.isBuffer(back) ? back : Buffer.concat(back);
            return opened.equals(plaintext) && wholeOpener!.decryptWithAd(EMPTY, ct).equals(plaintext);
          },
        ),
        { numRuns: 200 },
      );
      // A flipped bit in any piece, the tag's included: XNAT_ERR_CRYPTO_DECRYPT and the nonce stays.
      const key = Buffer.alloc(32, 9);
      const sender = new CipherState(aead);
      sender.initializeKey(key);
      const ct = sender.encryptWithAd(EMPTY, Buffer.alloc(100, 1));
      for (const at of [0, 50, ct.length - 1]) {
        const bad = Buffer.from(ct);
        bad[at]! ^= 1;
        const receiver = new CipherState(aead);
        receiver.initializeKey(key);
        const err = t.throws(() => receiver.decryptWithAdPieces(EMPTY, cut(bad, [40, 110])));
        t.true(isXnatError(err, 'XNAT_ERR_CRYPTO_DECRYPT'));
        t.is(receiver.nonce, 0);
      }
    });
  }
}

test('a full record straddling three socket reads opens as one plaintext buffer (no per-piece outputs)', (t) => {
  const key = Buffer.alloc(32, 5);
  const [sender, receiver] = [0, 1].map(() => new CipherState(getAead('node', 'AESGCM')));
  sender!.initializeKey(key);
  receiver!.initializeKey(key);
  const stats = { bytesIn: 0, bytesOut: 0, recordsIn: 0, recordsOut: 0, rekeys: 0 };
  const opener = new RecordOpener(receiver!, stats);
  const plaintext = Buffer.concat(encodeFrame(bigFrame(MAX_FRAME_PAYLOAD)));
  const ct = sender!.encryptWithAd(EMPTY, plaintext);
  const wire = Buffer.concat([Buffer.from([ct.length >> 8, ct.length & 0xff]), ct]);
  const got: (Buffer | readonly Buffer[])[] = [];
  // Cuts as 64 KiB socket reads make them, the length prefix split too.
  for (const piece of cut(wire, [1, 40_000])) {
    opener.push(piece);
    opener.open(
      (p) => got.push(p),
      () => false,
    );
  }
  t.is(got.length, 1);
  t.true(Buffer.isBuffer(got[0]));
  t.true((got[0] as Buffer).equals(plaintext));
  t.is(stats.recordsIn, 1);
});

test('link frames never reach the session side: PING, PONG, CLOSE and REKEY are consumed by the link', async (t) => {
  const { agent, relay } = await tapLinks(makeKeys(), { rekeyAfterBytes: 10_000 });
  const seen: number[] = [];
  relay.on('frame', (f: Frame) => seen.push(f.type));
  // Three batches of 40 KB, each past the 10 000-byte budget: a REKEY after each batch's record.
  for (let round = 1; round <= 3; round++) {
    for (let i = 0; i < 10; i++)
      agent.write(encodeFrame({ type: FrameType.COMMAND, body: Buffer.alloc(4000, i) }));
    await waitFor(() => seen.length === 10 * round, 5000, 'commands');
  }
  t.true(agent.stats.rekeys >= 3, String(agent.stats.rekeys));
  t.false(seen.some(isLinkType));
  agent.close('XNAT_ERR_CLOSED', 'bye');
  await waitFor(() => relay.closed);
  t.deepEqual(relay.remoteClose, { code: 'XNAT_ERR_CLOSED', reason: 'bye' });
  t.false(seen.some(isLinkType));
});

test('the frame arbitrary of the wire tests covers every type the link may carry', (t) => {
  const types = new Set<number>();
  fc.assert(
    fc.property(anyFrameArb, (f) => {
      types.add(f.type);
    }),
    { numRuns: 2000 },
  );
  t.is(types.size, Object.keys(FrameType).length);
});
