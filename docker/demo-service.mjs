// The compose file's stand-in LAN service: HTTP on 8080/tcp and a UDP echo on 9999/udp. Knows no xnat.
import { createServer } from 'node:http';
import { createSocket } from 'node:dgram';

let hits = 0;
createServer((req, res) => {
  hits++;
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(`hello from the demo service behind xnat (request #${hits}, ${req.method} ${req.url})\n`);
}).listen(8080, '0.0.0.0');

const udp = createSocket('udp4');
udp.on('message', (msg, from) => udp.send(msg, from.port, from.address));
udp.bind(9999, '0.0.0.0');
process.on('SIGTERM', () => process.exit(0));
