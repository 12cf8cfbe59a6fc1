// The admin socket's message reader: whole messages however the bytes are chunked, the cap checked at
// the length prefix, and a one-byte drip costing neither quadratic copying nor one object per byte.
import test from 'ava';
import { MessageReader } from '../../src/admin/message-reader.ts';
import { isXnatError } from '../../src/errors.ts';

function framed(...bodies: Buffer[]): Buffer {
  return Buffer.concat(
    bodies.flatMap((b) => {
      const h = Buffer.alloc(4);
      h.writeUInt32BE(b.length, 0);
      return [h, b];
    }),
  );
}

function drain(r: MessageReader): Buffer[] {
  const out: Buffer[] = [];
  for (let m = r.next(); m !== undefined; m = r.next()) out.push(Buffer.from(m));
  return out;
}

test('messages come out whole and in order, one byte at a time or all at once', (t) => {
  const bodies = [Buffer.from('a'), Buffer.alloc(0), Buffer.alloc(3000, 7), Buffer.from('last')];
  const bytes = framed(...bodies);
  const whole = new MessageReader(4096);
  whole.push(bytes);
  t.deepEqual(drain(whole), bodies);
  const drip = new MessageReader(4096);
  const got: Buffer[] = [];
  for (let i = 0; i < bytes.length; i++) {
    drip.push(bytes.subarray(i, i + 1));
    got.push(...drain(drip));
  }
  t.deepEqual(got, bodies);
  t.is(drip.bufferedBytes, 0);
});

test('a length over the cap is refused as soon as the prefix is in, before any body is buffered', (t) => {
  const r = new MessageReader(4096);
  r.push(Buffer.from([0, 0]));
  t.is(r.next(), undefined);
  r.push(Buffer.from([0x10, 0x01]));
  const err = t.throws(() => r.next());
  t.true(isXnatError(err, 'XNAT_ERR_WIRE_OVERSIZE'), String(err));
  t.is(r.bufferedBytes, 4);
});

test('the cap can be raised for messages not started yet', (t) => {
  const r = new MessageReader(16);
  r.push(framed(Buffer.alloc(10)));
  t.is(drain(r).length, 1);
  r.setMaxMessageBytes(1024);
  r.push(framed(Buffer.alloc(1000)));
  t.is(drain(r)[0]?.length, 1000);
});

test('a 1 MiB message dripped one byte per chunk: linear time, few objects held', (t) => {
  const size = 1024 * 1024;
  const r = new MessageReader(4 * 1024 * 1024);
  const bytes = framed(Buffer.alloc(size, 3));
  const started = process.hrtime.bigint();
  let maxHeld = 0;
  for (let i = 0; i < bytes.length; i++) {
    r.push(bytes.subarray(i, i + 1));
    if (i < bytes.length - 1) t.is(r.next(), undefined);
    maxHeld = Math.max(maxHeld, r.heldChunks);
  }
  const body = r.next();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  t.is(body?.length, size);
  t.true(body!.every((b) => b === 3));
  // Small chunks share 16 KiB slabs: about 64 objects for 1 MiB, not a million.
  t.true(maxHeld <= size / (16 * 1024) + 2, `held ${maxHeld}`);
  // Quadratic re-joining took minutes here; linear takes well under a second. Generous bound.
  t.true(ms < 20_000, `${ms} ms`);
});

test('big chunks are held by reference and a body inside one chunk is a view', (t) => {
  const r = new MessageReader(1 << 20);
  const bytes = framed(Buffer.alloc(5000, 1), Buffer.alloc(5000, 2));
  r.push(bytes);
  const a = r.next()!;
  t.is(a.buffer, bytes.buffer);
  t.is(r.next()?.[0], 2);
});
