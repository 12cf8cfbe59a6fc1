// The floor of a Node tunnel's CPU per gigabyte: one iperf3 stream through two bare Node hops (seal, then
// open: AES-256-GCM records, test/bench/lib/floor-hop.ts), and through two plain forwarding hops, CPU s/GB
// per hop. What xnat spends above it is framing, mux, session and acknowledgements; what it spends up to
// it is what Node costs for sockets, node:crypto and GC. Not part of all.ts (a diagnosis, not a product measure).
// Run: node --import=tsx test/bench/pipe-floor.ts [--seconds 8]
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort } from './lib/net.ts';
import { REPO_ROOT } from './lib/paths.ts';
import { cpuSeconds } from './lib/proc-stats.ts';
import { startProc, stopAll, type BenchProc } from './lib/procs.ts';

const execFileP = promisify(execFile);
const at = process.argv.indexOf('--seconds');
const SECONDS = at > 0 ? Number(process.argv[at + 1]) : 8;

async function hop(mode: string, nextPort: number): Promise<{ proc: BenchProc; port: number }> {
  const proc = startProc('node', ['--import=tsx', 'test/bench/lib/floor-hop.ts', mode, String(nextPort)], {
    name: `floor-${mode}`,
    cwd: REPO_ROOT,
  });
  const port = await proc.waitFor(
    (l) => (l.startsWith('{') ? (JSON.parse(l) as { port: number }).port : undefined),
    20_000,
    'floor hop listening',
  );
  return { proc, port };
}

async function measure(first: string, second: string, iperfPort: number): Promise<string> {
  const b = await hop(second, iperfPort);
  const a = await hop(first, b.port);
  const cpu0 = [cpuSeconds(a.proc.pid), cpuSeconds(b.proc.pid)];
  const { stdout } = await execFileP(
    'iperf3',
    ['-c', '127.0.0.1', '-p', String(a.port), '-t', String(SECONDS), '-J'],
    {
      timeout: SECONDS * 1000 + 20_000,
      maxBuffer: 16 << 20,
    },
  );
  const cpu = [cpuSeconds(a.proc.pid) - cpu0[0]!, cpuSeconds(b.proc.pid) - cpu0[1]!];
  const r = (JSON.parse(stdout) as { end: { sum_received: { bits_per_second: number; bytes: number } } }).end
    .sum_received;
  const gb = r.bytes / 1e9;
  await a.proc.stop();
  await b.proc.stop();
  return `${first} + ${second}: ${(r.bits_per_second / 1e9).toFixed(2)} Gbit/s, CPU s/GB ${first} ${(cpu[0]! / gb).toFixed(2)}, ${second} ${(cpu[1]! / gb).toFixed(2)}`;
}

try {
  const iperfPort = await freePort();
  const server = startProc('iperf3', ['-s', '--forceflush', '-B', '127.0.0.1', '-p', String(iperfPort)], {
    name: 'iperf3-server',
  });
  await server.waitFor(
    (l) => (l.includes('Server listening') ? true : undefined),
    10_000,
    'iperf3 listening',
  );
  for (const [first, second] of [
    ['plain', 'plain'],
    ['seal', 'open'],
  ] as const) {
    console.log(`[pipe-floor] ${await measure(first, second, iperfPort)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
} finally {
  await stopAll();
}
