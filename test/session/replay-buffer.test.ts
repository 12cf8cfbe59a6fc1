// ReplayBuffer unit tests: numbering, unsent cursor, cumulative acks, rewind on resume, byte accounting.
import test from 'ava';
import fc from 'fast-check';
import { ReplayBuffer } from '../../src/session/replay-buffer.ts';
import { verifyResumeProof, computeResumeProof } from '../../src/session/resume-proof.ts';

const buf = (n: number) => [Buffer.alloc(n)];

test('numbers frames from 1, hands them out once, frees them on ack', (t) => {
  const rb = new ReplayBuffer();
  t.is(rb.push(buf(10)), 1);
  t.is(rb.push(buf(20)), 2);
  t.is(rb.push(buf(30)), 3);
  t.is(rb.bytes, 60);
  t.is(rb.takeUnsent()!.seq, 1);
  t.is(rb.takeUnsent()!.seq, 2);
  t.true(rb.hasUnsent);
  t.false(rb.ack(3), 'ack of a frame never sent is refused');
  t.true(rb.ack(1));
  t.is(rb.bytes, 50);
  t.true(rb.ack(0), 'an older ack is ignored');
  t.is(rb.acked, 1);
  t.is(rb.takeUnsent()!.seq, 3);
  t.is(rb.takeUnsent(), undefined);
  t.true(rb.ack(3));
  t.is(rb.bytes, 0);
  t.is(rb.highWater, 60);
});

test('rewind drops what the peer confirms and resends the rest in order; refuses impossible counts', (t) => {
  const rb = new ReplayBuffer();
  for (let i = 0; i < 5; i++) rb.push(buf(1));
  for (let i = 0; i < 4; i++) rb.takeUnsent();
  rb.ack(1);
  t.false(rb.rewind(0), 'below an earlier ack');
  t.false(rb.rewind(5), 'beyond anything written');
  t.true(rb.rewind(2));
  t.is(rb.acked, 2);
  t.deepEqual([rb.takeUnsent()!.seq, rb.takeUnsent()!.seq, rb.takeUnsent()!.seq], [3, 4, 5]);
  t.is(rb.takeUnsent(), undefined);
});

test('property: bytes held always equal the sum of unacked frames, across random operations', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.constantFrom('push', 'take', 'ack', 'rewind'), fc.nat(100)), { maxLength: 300 }),
      (ops) => {
        const rb = new ReplayBuffer();
        const sizes = new Map<number, number>();
        let written = 0;
        for (const [op, n] of ops) {
          if (op === 'push') sizes.set(rb.push(buf(n)), n);
          else if (op === 'take') {
            const e = rb.takeUnsent();
            if (e) written = Math.max(written, e.seq);
          } else if (op === 'ack') rb.ack(rb.acked + (n % (written - rb.acked + 1)));
          else rb.rewind(rb.acked + (n % (written - rb.acked + 1)));
          let expected = 0;
          for (const [seq, size] of sizes) if (seq > rb.acked) expected += size;
          if (rb.bytes !== expected || rb.length !== rb.last - rb.acked) return false;
        }
        return true;
      },
    ),
  );
  t.pass();
});

test('resume proof: binds secret, id and handshake hash; compare is exact', (t) => {
  const secret = Buffer.alloc(32, 1);
  const id = Buffer.alloc(16, 2);
  const hash = Buffer.alloc(32, 3);
  const proof = computeResumeProof(secret, id, hash);
  t.is(proof.length, 32);
  // The known answer printed in docs/protocol.md.
  t.is(proof.toString('hex'), '881749c34229b786c8cb52b48ae7297598627e5898844f0a619c287eee8d1ac1');
  t.true(verifyResumeProof(secret, id, hash, proof));
  t.false(verifyResumeProof(secret, id, Buffer.alloc(32, 4), proof));
  t.false(verifyResumeProof(Buffer.alloc(32, 9), id, hash, proof));
  t.false(verifyResumeProof(secret, id, hash, proof.subarray(0, 31)));
});
