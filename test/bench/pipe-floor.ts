// The floor of a Node tunnel's CPU per gigabyte: one iperf3 stream each way through two bare Node hops
// (test/bench/lib/floor-hop.mjs), plain forwarding and sealing/opening records with each cipher, CPU s/GB
// per hop. bulk.ts shows the sealing floor in its CPU rows' direct column; this adds the plain one.
// Run: node --import=tsx test/bench/pipe-floor.ts [--seconds 8]
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startFloor, type FloorMode } from './lib/floor.ts';
import { freePort } from './lib/net.ts';
import { cpuSeconds } from './lib/proc-stats.ts';
import { startProc, stopAll } from './lib/procs.ts';

const execFileP = promisify(execFile);
const at = process.argv.indexOf('--seconds');
const SECONDS = at > 0 ? Number(process.argv[at + 1]) : 8;

async function measure(mode: FloorMode, iperfPort: number): Promise<string> {
  const pair = await startFloor(iperfPort, mode);
  const cpu0 = [cpuSeconds(pair.relayPid), cpuSeconds(pair.agentPid)];
  let bytes = 0;
  const rates: string[] = [];
  for (const reverse of [false, true]) {
    const args = ['-c', '127.0.0.1', '-p', String(pair.publicPort), '-t', String(SECONDS), '-J'];
    if (reverse) args.push('-R');
    const { stdout } = await execFileP('iperf3', args, {
      timeout: SECONDS * 1000 + 20_000,
      maxBuffer: 16 << 20,
    });
    const r = (JSON.parse(stdout) as { end: { sum_received: { bits_per_second: number; bytes: number } } })
      .end.sum_received;
    bytes += r.bytes;
    rates.push(
      `${reverse ? 'service -> visitor' : 'visitor -> service'} ${(r.bits_per_second / 1e9).toFixed(2)} Gbit/s`,
    );
  }
  const gb = bytes / 1e9;
  const relay = (cpuSeconds(pair.relayPid) - cpu0[0]!) / gb;
  const agent = (cpuSeconds(pair.agentPid) - cpu0[1]!) / gb;
  await pair.close();
  return `${mode}: ${rates.join(', ')}; CPU s/GB relay-side hop ${relay.toFixed(2)}, agent-side hop ${agent.toFixed(2)}`;
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
  for (const mode of ['plain', 'aes-256-gcm', 'chacha20-poly1305'] as const) {
    console.log(`[pipe-floor] ${await measure(mode, iperfPort)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
} finally {
  await stopAll();
}
