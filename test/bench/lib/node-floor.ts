// The floor any Node tunnel pays, for the idle measure's direct column: a plain Node process at rest, and
// the RSS one idle socket costs it when accepted (a relay's visitor) and when dialed (an agent's LAN side).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

/**
 * The child: a server or a client holding sockets that read (as xnat's do) and do nothing else. It prints
 * `ready PORT` once listening, then `held N` after each batch it was told to open or accept.
 */
const CHILD = `
const net = require('node:net');
const rl = require('node:readline').createInterface({ input: process.stdin });
const held = [];
const keep = (s) => { s.on('data', () => {}); s.on('error', () => {}); held.push(s); };
const server = net.createServer({ noDelay: true }, (s) => { keep(s); if (held.length === want) console.log('held ' + held.length); });
let want = -1;
server.listen(0, '127.0.0.1', () => console.log('ready ' + server.address().port));
rl.on('line', (line) => {
  const [cmd, a, b] = line.split(' ');
  if (cmd === 'accept') want = Number(a);
  if (cmd === 'dial') {
    let started = 0;
    let connected = 0;
    const total = Number(a);
    const next = () => {
      if (started === total) return;
      started++;
      const s = net.connect({ port: Number(b), host: '127.0.0.1', noDelay: true }, () => {
        if (++connected === total) console.log('held ' + held.length);
        next();
      });
      keep(s);
    };
    for (let i = 0; i < 64 && i < total; i++) next();
  }
});
setInterval(() => {}, 1 << 30);
`;

/** A floor process: its pid, and commands to make it hold sockets. */
export interface FloorProcess {
  readonly pid: number;
  /** Its listening port (accepted sockets land there). */
  readonly port: number;
  /** Resolves when it holds `total` sockets after being told to accept (the caller connects them). */
  accept(total: number): Promise<void>;
  /** Makes it dial `count` sockets to `port` (a listener that accepts them), resolving once all are up. */
  dial(count: number, port: number): Promise<void>;
  close(): Promise<void>;
}

export async function startFloorProcess(nofile: number): Promise<FloorProcess> {
  const child: ChildProcess = spawn(
    'prlimit',
    [`--nofile=${nofile}:${nofile}`, process.execPath, '-e', CHILD],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! });
  const waiters: ((line: string) => void)[] = [];
  lines.on('line', (line) => waiters.shift()?.(line));
  const nextLine = (): Promise<string> => new Promise((resolve) => waiters.push(resolve));
  const ready = await nextLine();
  const port = Number(ready.split(' ')[1]);
  return {
    pid: child.pid!,
    port,
    async accept(total) {
      const held = nextLine();
      child.stdin!.write(`accept ${total}\n`);
      await held;
    },
    async dial(count, target) {
      const held = nextLine();
      child.stdin!.write(`dial ${count} ${target}\n`);
      await held;
    },
    async close() {
      child.kill();
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    },
  };
}
