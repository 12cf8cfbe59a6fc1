// The game server of the UDP bench: a UDP echo on HOST (default 127.0.0.1), port 0; prints {"port": N}.
// Run as its own process (so it can live in the agent's network namespace).
import { createSocket } from 'node:dgram';

const host = process.argv[2] ?? '127.0.0.1';
const socket = createSocket('udp4');
socket.on('message', (msg, from) => socket.send(msg, from.port, from.address));
socket.on('error', (err) => {
  process.stderr.write(`udp echo: ${err.message}\n`);
  process.exit(1);
});
socket.bind(0, host, () => {
  process.stdout.write(`${JSON.stringify({ port: socket.address().port })}\n`);
});
