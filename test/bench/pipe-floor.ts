// The floor of a Node tunnel's CPU per gigabyte: one iperf3 stream each way through two bare Node hops
// (test/bench/lib/floor-hop.mjs), plain forwarding and sealing/opening records with each cipher, CPU s/GB
// per hop. bulk.ts shows the sealing floor in its CPU rows' direct column; this adds the plain one.
// Run: node --import=tsx test/bench/pipe-floor.ts [--seconds 8]
import { caseLabel, iperfClient, startIperfServer, type Case } from './bulk.ts';
import { startFloor, type FloorMode } from './lib/floor.ts';
import { cpuSeconds } from './lib/proc-stats.ts';
import { stopAll } from './lib/procs.ts';

const at = process.argv.indexOf('--seconds');
const SECONDS = at > 0 ? Number(process.argv[at + 1]) : 8;
const CASES: readonly Case[] = [
  { streams: 1, reverse: false },
  { streams: 1, reverse: true },
];

async function measure(mode: FloorMode, iperfPort: number): Promise<string> {
  const pair = await startFloor(iperfPort, mode);
  try {
    const cpu0 = [cpuSeconds(pair.relayPid), cpuSeconds(pair.agentPid)];
    let bytes = 0;
    const rates: string[] = [];
    for (const c of CASES) {
      const r = await iperfClient(pair.publicPort, c, SECONDS);
      bytes += r.bytes;
      rates.push(`${caseLabel(c)} ${(r.bitsPerSecond / 1e9).toFixed(2)} Gbit/s`);
    }
    const gb = bytes / 1e9;
    const relay = (cpuSeconds(pair.relayPid) - cpu0[0]!) / gb;
    const agent = (cpuSeconds(pair.agentPid) - cpu0[1]!) / gb;
    return `${mode}: ${rates.join(', ')}; CPU s/GB relay-side hop ${relay.toFixed(2)}, agent-side hop ${agent.toFixed(2)}`;
  } finally {
    await pair.close();
  }
}

try {
  const server = await startIperfServer();
  for (const mode of ['plain', 'aes-256-gcm', 'chacha20-poly1305'] as const) {
    console.log(`[pipe-floor] ${await measure(mode, server.port)}`);
  }
} finally {
  await stopAll();
}
