// One hop of the floor pair (bulk.ts, pipe-floor.ts): the least a Node process can do per byte of a tunnel.
// `seal` accepts plaintext and forwards it as u16-length AEAD records of up to 64 KiB (a new Cipheriv per
// record, as node:crypto needs), opening what comes back; `open` accepts records, forwards the plaintext
// and seals the replies. No frames, no mux, no session, no acknowledgements, no replay.
// Plain JavaScript, so the hop loads nothing but Node itself.
// Usage: node test/bench/lib/floor-hop.mjs seal|open|plain <next-port> [aes-256-gcm|chacha20-poly1305]
import { createCipheriv, createDecipheriv } from 'node:crypto';
import net from 'node:net';

const [mode, nextPortText, cipherText] = process.argv.slice(2);
const nextPort = Number(nextPortText);
const CIPHER = cipherText ?? 'aes-256-gcm';
const KEY = Buffer.alloc(32, 7);
const TAG = 16;
const MAX_PT = 65535 - TAG;

function nonceOf(n) {
  const b = Buffer.alloc(12);
  b.writeUInt32BE(n, 8);
  return b;
}

function sealer(out) {
  let n = 0;
  return (chunk) => {
    let ok = true;
    for (let at = 0; at < chunk.length; at += MAX_PT) {
      const pt = chunk.subarray(at, Math.min(chunk.length, at + MAX_PT));
      const c = createCipheriv(CIPHER, KEY, nonceOf(n++), { authTagLength: TAG });
      const ct = c.update(pt);
      c.final();
      const prefix = Buffer.allocUnsafe(2);
      prefix.writeUInt16BE(ct.length + TAG, 0);
      out.cork();
      out.write(prefix);
      out.write(ct);
      ok = out.write(c.getAuthTag());
      out.uncork();
    }
    return ok;
  };
}

function opener(out) {
  let n = 0;
  let held = Buffer.alloc(0);
  return (chunk) => {
    held = held.length > 0 ? Buffer.concat([held, chunk]) : chunk;
    let ok = true;
    let at = 0;
    while (held.length - at >= 2) {
      const len = held.readUInt16BE(at);
      if (held.length - at < 2 + len) break;
      const d = createDecipheriv(CIPHER, KEY, nonceOf(n++), { authTagLength: TAG });
      d.setAuthTag(held.subarray(at + 2 + len - TAG, at + 2 + len));
      const pt = d.update(held.subarray(at + 2, at + 2 + len - TAG));
      d.final();
      ok = out.write(pt);
      at += 2 + len;
    }
    held = held.subarray(at);
    return ok;
  };
}

/** Forwards `from` to `to` through `step` (write returns false: pause until drain). */
function pipe(from, to, step) {
  from.on('data', (c) => {
    if (!step(c)) from.pause();
  });
  to.on('drain', () => from.resume());
  from.on('end', () => to.end());
  from.on('error', () => to.destroy());
}

const server = net.createServer({ noDelay: true }, (inbound) => {
  const outbound = net.connect({ port: nextPort, host: '127.0.0.1', noDelay: true });
  const plain = (to) => (c) => to.write(c);
  if (mode === 'seal') {
    pipe(inbound, outbound, sealer(outbound));
    pipe(outbound, inbound, opener(inbound));
  } else if (mode === 'open') {
    pipe(inbound, outbound, opener(outbound));
    pipe(outbound, inbound, sealer(inbound));
  } else {
    pipe(inbound, outbound, plain(outbound));
    pipe(outbound, inbound, plain(inbound));
  }
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
