// Measure: what `compress: deflate` costs and saves per stream, in process (the zlib pair both ends run):
// payload throughput and bytes on the wire for log-like text (compressible) and random bytes (not).
// Run: node --import=tsx test/bench/compress.ts [--quick]
import { createHash, randomBytes } from 'node:crypto';
import { Duplex } from 'node:stream';
import type { ErrorCode } from '../../src/errors.ts';
import { deflateStream } from '../../src/forward/compress.ts';
import type { TunnelStream } from '../../src/forward/tcp-pipe.ts';

const MIB = 1024 * 1024;
const CHUNK = 64 * 1024;

/** One end of an in-memory stream pair, counting the bytes it puts on the "wire". */
class End extends Duplex implements TunnelStream {
  resetCode: ErrorCode | undefined;
  peer!: End;
  wire = 0;
  reset(code: ErrorCode): void {
    this.resetCode = code;
    this.destroy(new Error(code));
  }
  override _read(): void {}
  override _write(c: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.wire += c.length;
    this.peer.push(c);
    cb();
  }
  override _final(cb: () => void): void {
    this.peer.push(null);
    cb();
  }
}

/** Access-log lines with varying times, addresses, paths, statuses and sizes (deterministic). */
function logText(bytes: number): Buffer {
  const paths = ['/', '/index.html', '/api/v1/players', '/static/app.js', '/login', '/favicon.ico'];
  const lines: string[] = [];
  let n = 0;
  for (let size = 0; size < bytes; n++) {
    const line =
      `2026-12-02T01:${String(n % 60).padStart(2, '0')}:${String((n * 7) % 60).padStart(2, '0')}Z ` +
      `203.0.113.${n % 251} "GET ${paths[n % paths.length]}?id=${(n * 2654435761) % 100000} HTTP/1.1" ` +
      `${n % 17 === 0 ? 404 : 200} ${(n * 37) % 50000} "Mozilla/5.0 (X11; Linux x86_64)"\n`;
    lines.push(line);
    size += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

async function measure(payload: Buffer): Promise<{ mibPerS: number; ratio: number }> {
  const a = new End({ allowHalfOpen: true });
  const b = new End({ allowHalfOpen: true });
  a.peer = b;
  b.peer = a;
  const za = deflateStream(a);
  const zb = deflateStream(b);
  const hash = createHash('sha256');
  const got = new Promise<string>((resolve) => {
    zb.on('data', (c: Buffer) => hash.update(c));
    zb.on('end', () => resolve(hash.digest('hex')));
  });
  zb.end();
  const t0 = performance.now();
  for (let i = 0; i < payload.length; i += CHUNK) {
    if (!za.write(payload.subarray(i, i + CHUNK))) await new Promise((r) => za.once('drain', r));
  }
  za.end();
  const digest = await got;
  const seconds = (performance.now() - t0) / 1000;
  if (digest !== createHash('sha256').update(payload).digest('hex')) throw new Error('payload changed');
  return { mibPerS: payload.length / MIB / seconds, ratio: a.wire / payload.length };
}

const bytes = (process.argv.includes('--quick') ? 2 : 64) * MIB;
const rows: string[] = [
  '| payload | MiB | payload MiB/s (one stream, both ends) | wire / payload |',
  '|---|---|---|---|',
];
for (const [name, payload] of [
  ['access-log text', logText(bytes)],
  ['random bytes', randomBytes(bytes)],
] as const) {
  const r = await measure(payload);
  rows.push(`| ${name} | ${bytes / MIB} | ${r.mibPerS.toFixed(1)} | ${(r.ratio * 100).toFixed(1)} % |`);
}
process.stdout.write(`${rows.join('\n')}\n`);
