// The LAN service of the benchmarks, run as its own process so it never shares an event loop with the
// visitor side: `echo` (every byte back) or `source` (N random bytes per connection, then its SHA-256).
// Usage: node --import=tsx test/bench/lib/service.ts echo | source <bytes>; prints {"port":N} first.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';

/** Size of each random chunk a source writes, in bytes. */
const SOURCE_CHUNK_BYTES = 64 * 1024;

const [mode, bytesArg] = process.argv.slice(2);

function echo(socket: Socket): void {
  socket.setNoDelay(true);
  socket.on('error', () => socket.destroy());
  socket.pipe(socket);
}

let nextConn = 1;
function source(socket: Socket, total: number): void {
  const conn = nextConn++;
  const hash = createHash('sha256');
  let sent = 0;
  socket.on('error', () => socket.destroy());
  // Visitor bytes are ignored; the source only talks.
  socket.resume();
  const pump = (): void => {
    while (sent < total) {
      const chunk = randomBytes(Math.min(SOURCE_CHUNK_BYTES, total - sent));
      hash.update(chunk);
      sent += chunk.length;
      if (!socket.write(chunk)) {
        socket.once('drain', pump);
        return;
      }
    }
    socket.end();
    process.stdout.write(`${JSON.stringify({ conn, sent, sha256: hash.digest('hex') })}\n`);
  };
  pump();
}

const total = Number(bytesArg ?? 0);
if (mode !== 'echo' && !(mode === 'source' && total > 0)) {
  process.stderr.write('usage: service.ts echo | source <bytes>\n');
  process.exit(2);
}
const server = createServer({ noDelay: true }, (s) => (mode === 'echo' ? echo(s) : source(s, total)));
// A large backlog: the idle-stream and connection-rate measures open connections in bursts.
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
