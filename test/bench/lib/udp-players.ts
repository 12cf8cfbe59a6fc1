// Game-like UDP load: PLAYERS clients, each its own socket (its own flow), sending SIZE-byte datagrams at
// RATE per second to HOST:PORT for SECONDS, and timing each echo. Prints one JSON line of results.
// Run: node --import=tsx test/bench/lib/udp-players.ts HOST PORT [players 50] [rate 60] [size 100] [seconds 10]
// Its own process so it can run inside a network namespace; it knows nothing of xnat.
import { createSocket, type Socket } from 'node:dgram';

const [host = '127.0.0.1', portText = '0', players = '50', rate = '60', size = '100', seconds = '10'] =
  process.argv.slice(2);
const PLAYERS = Number(players);
const INTERVAL_MS = 1000 / Number(rate);
const SIZE = Math.max(16, Number(size));
const DURATION_MS = Number(seconds) * 1000;
/** An echo later than this after the last send is counted lost. */
const GRACE_MS = 1000;
/** Datagrams before this point warm the path (flow set-up) and are not measured. */
const WARMUP_MS = 1000;

const rtts: number[] = [];
let sent = 0;
let received = 0;
const sockets: Socket[] = [];
const started = performance.now();

function player(i: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    sockets.push(socket);
    let seq = 0;
    const inflight = new Map<number, number>();
    socket.on('message', (msg) => {
      if (msg.length < 8) return;
      const s = msg.readUInt32BE(0);
      const at = inflight.get(s);
      if (at === undefined) return;
      inflight.delete(s);
      received++;
      rtts.push(performance.now() - at);
    });
    socket.on('error', () => {});
    socket.connect(Number(portText), host, () => {
      const buf = Buffer.alloc(SIZE, i & 0xff);
      const tick = (): void => {
        const now = performance.now();
        if (now - started >= WARMUP_MS + DURATION_MS) {
          clearInterval(timer);
          setTimeout(resolve, GRACE_MS);
          return;
        }
        seq++;
        buf.writeUInt32BE(seq, 0);
        if (now - started >= WARMUP_MS) {
          inflight.set(seq, now);
          sent++;
        }
        socket.send(buf);
      };
      // Players start spread over one interval, as real ones are not in phase.
      let timer: NodeJS.Timeout;
      setTimeout(
        () => {
          timer = setInterval(tick, INTERVAL_MS);
        },
        (i * INTERVAL_MS) / PLAYERS,
      );
    });
  });
}

const pct = (sorted: number[], p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

await Promise.all(Array.from({ length: PLAYERS }, (_, i) => player(i)));
for (const s of sockets) s.close();
rtts.sort((a, b) => a - b);
process.stdout.write(
  `${JSON.stringify({
    sent,
    received,
    lossPct: sent === 0 ? NaN : (100 * (sent - received)) / sent,
    p50Ms: pct(rtts, 50),
    p99Ms: pct(rtts, 99),
    p999Ms: pct(rtts, 99.9),
    maxMs: rtts.at(-1) ?? NaN,
  })}\n`,
);
