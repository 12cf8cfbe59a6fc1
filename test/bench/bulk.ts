// Measure: bulk throughput through each path with iperf3 (1 and 8 streams, each direction), plus the CPU
// seconds per GB moved and the peak RSS of the two sides. Run: node --import=tsx test/bench/bulk.ts [--quick]
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { eachPath, isMain, main, type MeasureOptions, type Row } from './lib/measure.ts';
import { freePort } from './lib/net.ts';
import { cpuOf, memOf } from './lib/proc-stats.ts';
import { startPath, type PathName } from './lib/paths.ts';
import { startProc, type BenchProc } from './lib/procs.ts';

const execFileP = promisify(execFile);

/** Seconds per iperf3 case. */
const CASE_SECONDS = 5;
const QUICK_CASE_SECONDS = 1;
/** Extra time an iperf3 client gets beyond its test length before it is declared stuck, in ms. */
const IPERF_SLACK_MS = 30_000;
const MIB = 1024 * 1024;

interface Case {
  readonly streams: number;
  /** iperf3 -R: the LAN service sends, the visitor receives. */
  readonly reverse: boolean;
}
const CASES: readonly Case[] = [
  { streams: 1, reverse: false },
  { streams: 1, reverse: true },
  { streams: 8, reverse: false },
  { streams: 8, reverse: true },
];

function caseLabel(c: Case): string {
  return `${c.streams} stream${c.streams > 1 ? 's' : ''}, ${c.reverse ? 'service -> visitor' : 'visitor -> service'}`;
}

interface IperfResult {
  readonly bitsPerSecond: number;
  readonly bytes: number;
}

/** Tries before giving up on an iperf3 server still busy finishing the previous test. */
const IPERF_BUSY_TRIES = 50;
const IPERF_BUSY_WAIT_MS = 200;

/**
 * Runs one iperf3 client; an iperf3 server still tearing down the previous test answers "busy" (it says
 * "try again later"), which happens when the previous test's last bytes and FINs are still in flight
 * through a forwarder that delivers them all, so the client retries.
 */
async function iperfClient(port: number, c: Case, seconds: number): Promise<IperfResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await iperfClientOnce(port, c, seconds);
    } catch (err) {
      const busy = /busy/.test(String((err as Error).message));
      if (!busy || attempt >= IPERF_BUSY_TRIES) throw err;
      await new Promise((r) => setTimeout(r, IPERF_BUSY_WAIT_MS));
    }
  }
}

/** Runs one iperf3 client against 127.0.0.1:`port`; throughput as the receiver saw it. */
async function iperfClientOnce(port: number, c: Case, seconds: number): Promise<IperfResult> {
  const args = ['-c', '127.0.0.1', '-p', String(port), '-t', String(seconds), '-P', String(c.streams), '-J'];
  if (c.reverse) args.push('-R');
  const { stdout } = await execFileP('iperf3', args, {
    timeout: seconds * 1000 + IPERF_SLACK_MS,
    maxBuffer: 16 * MIB,
  });
  const report = JSON.parse(stdout) as {
    error?: string;
    end?: { sum_received?: { bits_per_second: number; bytes: number } };
  };
  if (report.error || !report.end?.sum_received) throw new Error(`iperf3: ${report.error ?? 'no summary'}`);
  return { bitsPerSecond: report.end.sum_received.bits_per_second, bytes: report.end.sum_received.bytes };
}

/** iperf3 -s on a port found free at run time (iperf3 cannot report a port-0 bind); retried on a race. */
async function startIperfServer(): Promise<{ port: number; proc: BenchProc }> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const proc = startProc('iperf3', ['-s', '--forceflush', '-B', '127.0.0.1', '-p', String(port)], {
      name: 'iperf3-server',
    });
    try {
      await proc.waitFor(
        (l) => (l.includes('Server listening') ? true : undefined),
        10_000,
        'iperf3 listening',
      );
      return { port, proc };
    } catch (err) {
      await proc.stop();
      if (attempt >= 3) throw err;
    }
  }
}

export async function run(options: MeasureOptions): Promise<Row[]> {
  const seconds = options.quick ? QUICK_CASE_SECONDS : CASE_SECONDS;
  const throughput = new Map<Case, Row['values']>(CASES.map((c) => [c, {}]));
  const cpuRelay: Row['values'] = {};
  const cpuAgent: Row['values'] = {};
  const hwmRelay: Row['values'] = {};
  const hwmAgent: Row['values'] = {};
  const server = await startIperfServer();
  try {
    await eachPath(
      options,
      [...throughput.values(), cpuRelay, cpuAgent, hwmRelay, hwmAgent],
      async (name) => {
        const path = await startPath(name, server.port);
        try {
          // No probe connection: iperf3 -s would take it for a test and refuse the next one as busy. The
          // path is up once it reported its public port (xnat's "mapping ready", ssh's "Allocated port").
          const cpu0 = { relay: cpuOf(path.relayPids()), agent: cpuOf(path.agentPids()) };
          let bytes = 0;
          for (const c of CASES) {
            const r = await iperfClient(path.publicPort, c, seconds);
            bytes += r.bytes;
            throughput.get(c)![name] = r.bitsPerSecond / 1e9;
            options.log(`${name}: ${caseLabel(c)}: ${(r.bitsPerSecond / 1e9).toFixed(2)} Gbit/s`);
          }
          if (name !== 'direct') {
            const gb = bytes / 1e9;
            cpuRelay[name] = (cpuOf(path.relayPids()) - cpu0.relay) / gb;
            cpuAgent[name] = (cpuOf(path.agentPids()) - cpu0.agent) / gb;
            hwmRelay[name] = memOf(path.relayPids()).hwmBytes / MIB;
            hwmAgent[name] = memOf(path.agentPids()).hwmBytes / MIB;
            options.log(
              `${name}: ${gb.toFixed(2)} GB moved; CPU s/GB relay ${fmt(cpuRelay[name])} agent ${fmt(cpuAgent[name])}; ` +
                `peak RSS relay ${fmt(hwmRelay[name])} MiB agent ${fmt(hwmAgent[name])} MiB`,
            );
          }
        } finally {
          await path.close();
        }
      },
    );
  } finally {
    await server.proc.stop();
  }
  const rows: Row[] = CASES.map((c) => ({
    measure: 'bulk',
    metric: caseLabel(c),
    unit: 'Gbit/s',
    better: 'higher',
    values: throughput.get(c)!,
  }));
  rows.push(
    {
      measure: 'bulk',
      metric: 'CPU per GB moved, relay side',
      unit: 'CPU s/GB',
      better: 'lower',
      values: cpuRelay,
    },
    {
      measure: 'bulk',
      metric: 'CPU per GB moved, agent side',
      unit: 'CPU s/GB',
      better: 'lower',
      values: cpuAgent,
    },
    {
      measure: 'bulk',
      metric: 'peak RSS after bulk, relay side',
      unit: 'MiB',
      better: 'lower',
      values: hwmRelay,
    },
    {
      measure: 'bulk',
      metric: 'peak RSS after bulk, agent side',
      unit: 'MiB',
      better: 'lower',
      values: hwmAgent,
    },
  );
  return rows;
}

function fmt(v: Row['values'][PathName]): string {
  return typeof v === 'number' ? v.toFixed(2) : String(v);
}

if (isMain(import.meta.url)) await main('bulk', run);
