// One hop of the floor pair (test/bench/pipe-floor.ts): the least a Node process can do per byte of a tunnel.
// `seal` accepts plaintext and forwards it as u16-length AES-256-GCM records of up to 64 KiB (a new
// Cipheriv per record, as node:crypto needs); `open` accepts those records and forwards the plaintext;
// `plain` forwards bytes as they come. No frames, no mux, no session, no acknowledgements.
// Usage: node test/bench/lib/floor-hop.ts seal|open|plain <next-port>; prints {"port":N} once listening.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import net from 'node:net';

const [mode, nextPortText] = process.argv.slice(2);
const nextPort = Number(nextPortText);
const KEY = Buffer.alloc(32, 7);
const MAX_PT = 65535 - 16;

function nonceOf(n: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32BE(n, 8);
  return b;
}

function sealer(out: net.Socket): (chunk: Buffer) => boolean {
  let n = 0;
  return (chunk) => {
    let ok = true;
    for (let at = 0; at < chunk.length; at += MAX_PT) {
      const pt = chunk.subarray(at, Math.min(chunk.length, at + MAX_PT));
      const c = createCipheriv('aes-256-gcm', KEY, nonceOf(n++));
      const ct = c.update(pt);
      c.final();
      const prefix = Buffer.allocUnsafe(2);
      prefix.writeUInt16BE(ct.length + 16, 0);
      out.cork();
      out.write(prefix);
      out.write(ct);
      ok = out.write(c.getAuthTag());
      out.uncork();
    }
    return ok;
  };
}

function opener(out: net.Socket): (chunk: Buffer) => boolean {
  let n = 0;
  let held: Buffer = Buffer.alloc(0);
  let ok = true;
  return (chunk) => {
    held = held.length ? Buffer.concat([held, chunk]) : chunk;
    let at = 0;
    while (held.length - at >= 2) {
      const len = held.readUInt16BE(at);
      if (held.length - at < 2 + len) break;
      const d = createDecipheriv('aes-256-gcm', KEY, nonceOf(n++));
      d.setAuthTag(held.subarray(at + 2 + len - 16, at + 2 + len));
      const pt = d.update(held.subarray(at + 2, at + 2 + len - 16));
      d.final();
      ok = out.write(pt);
      at += 2 + len;
    }
    held = held.subarray(at);
    return ok;
  };
}

const server = net.createServer({ noDelay: true }, (inbound) => {
  const outbound = net.connect({ port: nextPort, host: '127.0.0.1', noDelay: true });
  const forward =
    mode === 'seal'
      ? sealer(outbound)
      : mode === 'open'
        ? opener(outbound)
        : (c: Buffer) => outbound.write(c);
  inbound.on('data', (c: Buffer) => {
    if (!forward(c)) inbound.pause();
  });
  outbound.on('drain', () => inbound.resume());
  // iperf3's reverse traffic (its control replies) is tiny: passed back as is.
  outbound.on('data', (c: Buffer) => inbound.write(c));
  inbound.on('end', () => outbound.end());
  outbound.on('end', () => inbound.end());
  inbound.on('error', () => outbound.destroy());
  outbound.on('error', () => inbound.destroy());
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as net.AddressInfo).port })}\n`);
});
