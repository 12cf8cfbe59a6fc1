// deflateStream over an in-memory stream pair: round trip with FIN both ways and a hash, repeats shrink
// on the wire, and bytes that do not inflate reset with XNAT_ERR_FORWARD_COMPRESS.
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { Duplex } from 'node:stream';
import type { ErrorCode } from '../../src/errors.ts';
import { deflateStream } from '../../src/forward/compress.ts';
import type { TunnelStream } from '../../src/forward/tcp-pipe.ts';

/** One end of an in-memory stream pair with reset(), counting the bytes it sends. */
class End extends Duplex implements TunnelStream {
  resetCode: ErrorCode | undefined;
  peer!: End;
  sent = 0;
  constructor() {
    super({ allowHalfOpen: true });
  }
  reset(code: ErrorCode): void {
    this.resetCode = code;
    this.destroy(new Error(code));
    if (!this.peer.destroyed) {
      this.peer.resetCode = code;
      this.peer.destroy(new Error(code));
    }
  }
  override _read(): void {}
  override _write(c: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.sent += c.length;
    this.peer.push(c);
    cb();
  }
  override _final(cb: () => void): void {
    this.peer.push(null);
    cb();
  }
}

function pair(): [End, End] {
  const a = new End();
  const b = new End();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

function collect(s: Duplex): Promise<{ sha: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    let bytes = 0;
    s.on('data', (c: Buffer) => {
      h.update(c);
      bytes += c.length;
    });
    s.on('end', () => resolve({ sha: h.digest('hex'), bytes }));
    s.on('error', reject);
  });
}

test('round trip both ways with FINs; a compressible payload shrinks on the wire', async (t) => {
  const [a, b] = pair();
  const za = deflateStream(a);
  const zb = deflateStream(b);
  const text = Buffer.from('GET /index.html HTTP/1.1\r\nHost: example\r\nAccept: */*\r\n\r\n'.repeat(20_000));
  const noise = randomBytes(256 * 1024);
  const atB = collect(zb);
  const atA = collect(za);
  for (let i = 0; i < text.length; i += 10_000) za.write(text.subarray(i, i + 10_000));
  za.end();
  zb.end(noise);
  const [gotB, gotA] = await Promise.all([atB, atA]);
  t.is(gotB.sha, createHash('sha256').update(text).digest('hex'));
  t.is(gotA.sha, createHash('sha256').update(noise).digest('hex'));
  t.true(a.sent < text.length / 10, `${a.sent} bytes on the wire for ${text.length}`);
  t.true(b.sent < noise.length * 1.01 + 1024, 'random data barely grows');
});

test('bytes that do not inflate reset the stream with XNAT_ERR_FORWARD_COMPRESS', async (t) => {
  const [a, b] = pair();
  a.on('error', () => {}); // the far end hears the reset
  const zb = deflateStream(b);
  const failed = new Promise<unknown>((resolve) => zb.on('error', resolve));
  zb.resume();
  a.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00, 0x13]));
  await failed;
  t.is(zb.resetCode, 'XNAT_ERR_FORWARD_COMPRESS');
  t.is(b.resetCode, 'XNAT_ERR_FORWARD_COMPRESS', 'the tunnel stream is reset, so the far end hears it');
});

test('a stream already destroyed is returned as it is', (t) => {
  const [a] = pair();
  a.destroy();
  t.is(deflateStream(a), a);
});
