// Measure: bulk throughput through each path with iperf3 (1 and 8 streams, each direction), plus the CPU
// seconds per GB moved and the peak RSS of the two sides; xnat once per cipher suite.
// Run: node --import=tsx test/bench/bulk.ts [--quick] [--paths direct,ssh,xnat] [--suites aes-256-gcm,chacha20-poly1305]
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startFloor } from './lib/floor.ts';
import { eachPath, isMain, main, type MeasureOptions, type Row } from './lib/measure.ts';
import { freePort } from './lib/net.ts';
import { cpuOf, memOf } from './lib/proc-stats.ts';
import { startPath, type PathName } from './lib/paths.ts';
import { startProc, type BenchProc } from './lib/procs.ts';

const execFileP = promisify(execFile);

/** Seconds per iperf3 case. */
const CASE_SECONDS = 5;
const QUICK_CASE_SECONDS = 1;
/**
 * An unmeasured iperf3 run first on every path (its first case, this many seconds): the JIT warm-up, as
 * pingpong's warm-up trips. An xnat relay or agent gives TurboFan back only once it is busy
 * (src/cli/startup-flags.ts), so without it the first case would start in the baseline compiler.
 */
const WARMUP_SECONDS = 2;
/** Extra time an iperf3 client gets beyond its test length before it is declared stuck, in ms. */
const IPERF_SLACK_MS = 30_000;
const MIB = 1024 * 1024;

export interface Case {
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

export function caseLabel(c: Case): string {
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
export async function iperfClient(port: number, c: Case, seconds: number): Promise<IperfResult> {
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
export async function startIperfServer(): Promise<{ port: number; proc: BenchProc }> {
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

/** The link's cipher suites, each measured on its own xnat path (the agent's `tuning.cipher`). */
export const SUITES = ['aes-256-gcm', 'chacha20-poly1305'] as const;
type Suite = (typeof SUITES)[number];
const SUITE_LABEL: Record<Suite, string> = {
  'aes-256-gcm': 'AES-256-GCM',
  'chacha20-poly1305': 'ChaCha20-Poly1305',
};

/** `--suites a,b` narrows the suites measured (a quicker look at one); default both. */
function suitesFromArgv(argv: readonly string[]): Suite[] {
  const i = argv.findIndex((a) => a === '--suites' || a.startsWith('--suites='));
  if (i < 0) return [...SUITES];
  const text = argv[i]!.includes('=') ? argv[i]!.slice('--suites='.length) : (argv[i + 1] ?? '');
  const picked = text.split(',').filter((x) => x.length > 0);
  for (const x of picked)
    if (!(SUITES as readonly string[]).includes(x))
      throw new Error(`unknown suite ${x} (known: ${SUITES.join(', ')})`);
  return picked as Suite[];
}

/** The cells of one suite's rows (direct and ssh -R are copied in, so every row has its ratios). */
interface SuiteCells {
  readonly throughput: Map<Case, Row['values']>;
  readonly cpuRelay: Row['values'];
  readonly cpuAgent: Row['values'];
  readonly hwmRelay: Row['values'];
  readonly hwmAgent: Row['values'];
}

function suiteCells(): SuiteCells {
  return {
    throughput: new Map(CASES.map((c) => [c, {}])),
    cpuRelay: {},
    cpuAgent: {},
    hwmRelay: {},
    hwmAgent: {},
  };
}

function allCells(c: SuiteCells): Row['values'][] {
  return [...c.throughput.values(), c.cpuRelay, c.cpuAgent, c.hwmRelay, c.hwmAgent];
}

export async function run(options: MeasureOptions): Promise<Row[]> {
  const seconds = options.quick ? QUICK_CASE_SECONDS : CASE_SECONDS;
  const suites = suitesFromArgv(process.argv.slice(2));
  // direct and ssh -R are measured once; xnat once per suite, all against the same iperf3 server.
  const cells = new Map<Suite, SuiteCells>(suites.map((x) => [x, suiteCells()]));
  const shared = suiteCells();
  const server = await startIperfServer();
  try {
    const runs: Array<{ path: PathName; suite?: Suite }> = options.paths.flatMap(
      (path): Array<{ path: PathName; suite?: Suite }> =>
        path === 'xnat' ? suites.map((suite) => ({ path, suite })) : [{ path }],
    );
    for (const { path: name, suite } of runs) {
      const into = suite ? cells.get(suite)! : shared;
      const label = suite ? `${name} ${SUITE_LABEL[suite]}` : name;
      await eachPath({ ...options, paths: [name] }, allCells(into), async () => {
        const path = await startPath(name, server.port, suite ? { agentTuning: [`cipher: ${suite}`] } : {});
        try {
          // No probe connection: iperf3 -s would take it for a test and refuse the next one as busy. The
          // path is up once it reported its public port (xnat's "mapping ready", ssh's "Allocated port").
          if (!options.quick) await iperfClient(path.publicPort, CASES[0]!, WARMUP_SECONDS);
          const cpu0 = { relay: cpuOf(path.relayPids()), agent: cpuOf(path.agentPids()) };
          let bytes = 0;
          for (const c of CASES) {
            const r = await iperfClient(path.publicPort, c, seconds);
            bytes += r.bytes;
            into.throughput.get(c)![name] = r.bitsPerSecond / 1e9;
            options.log(`${label}: ${caseLabel(c)}: ${(r.bitsPerSecond / 1e9).toFixed(2)} Gbit/s`);
          }
          if (name !== 'direct') {
            const gb = bytes / 1e9;
            into.cpuRelay[name] = (cpuOf(path.relayPids()) - cpu0.relay) / gb;
            into.cpuAgent[name] = (cpuOf(path.agentPids()) - cpu0.agent) / gb;
            into.hwmRelay[name] = memOf(path.relayPids()).hwmBytes / MIB;
            into.hwmAgent[name] = memOf(path.agentPids()).hwmBytes / MIB;
            options.log(
              `${label}: ${gb.toFixed(2)} GB moved; CPU s/GB relay ${fmt(into.cpuRelay[name])} agent ${fmt(into.cpuAgent[name])}; ` +
                `peak RSS relay ${fmt(into.hwmRelay[name])} MiB agent ${fmt(into.hwmAgent[name])} MiB`,
            );
          }
        } finally {
          await path.close();
        }
      });
    }
    // The direct column of the CPU and RSS rows: two bare Node hops sealing and opening records with the
    // suite's cipher (test/bench/lib/floor.ts), the least any Node tunnel spends; same cases, same server.
    if (options.paths.includes('direct')) {
      for (const suite of suites) {
        const into = cells.get(suite)!;
        const floorCells = [into.cpuRelay, into.cpuAgent, into.hwmRelay, into.hwmAgent];
        await eachPath({ ...options, paths: ['direct'] }, floorCells, async () => {
          const pair = await startFloor(server.port, suite);
          try {
            if (!options.quick) await iperfClient(pair.publicPort, CASES[0]!, WARMUP_SECONDS);
            const cpu0 = { relay: cpuOf([pair.relayPid]), agent: cpuOf([pair.agentPid]) };
            let bytes = 0;
            for (const c of CASES) {
              const r = await iperfClient(pair.publicPort, c, seconds);
              bytes += r.bytes;
              options.log(
                `Node floor ${SUITE_LABEL[suite]}: ${caseLabel(c)}: ${(r.bitsPerSecond / 1e9).toFixed(2)} Gbit/s`,
              );
            }
            const gb = bytes / 1e9;
            into.cpuRelay.direct = (cpuOf([pair.relayPid]) - cpu0.relay) / gb;
            into.cpuAgent.direct = (cpuOf([pair.agentPid]) - cpu0.agent) / gb;
            into.hwmRelay.direct = memOf([pair.relayPid]).hwmBytes / MIB;
            into.hwmAgent.direct = memOf([pair.agentPid]).hwmBytes / MIB;
            options.log(
              `Node floor ${SUITE_LABEL[suite]}: CPU s/GB relay-side hop ${fmt(into.cpuRelay.direct)} agent-side hop ${fmt(into.cpuAgent.direct)}`,
            );
          } finally {
            await pair.close();
          }
        });
      }
    }
  } finally {
    await server.proc.stop();
  }
  // One row per metric and suite, the suites of a metric side by side; each carries direct and ssh -R.
  const rows: Row[] = [];
  const metrics: Array<{
    metric: string;
    unit: string;
    better: Row['better'];
    pick: (c: SuiteCells) => Row['values'];
  }> = [
    ...CASES.map((c) => ({
      metric: caseLabel(c),
      unit: 'Gbit/s',
      better: 'higher' as const,
      pick: (x: SuiteCells) => x.throughput.get(c)!,
    })),
    { metric: 'CPU per GB moved, relay side', unit: 'CPU s/GB', better: 'lower', pick: (x) => x.cpuRelay },
    { metric: 'CPU per GB moved, agent side', unit: 'CPU s/GB', better: 'lower', pick: (x) => x.cpuAgent },
    { metric: 'peak RSS after bulk, relay side', unit: 'MiB', better: 'lower', pick: (x) => x.hwmRelay },
    { metric: 'peak RSS after bulk, agent side', unit: 'MiB', better: 'lower', pick: (x) => x.hwmAgent },
  ];
  const xnatMeasured = options.paths.includes('xnat') && suites.length > 0;
  for (const m of metrics) {
    const base = m.pick(shared);
    if (!xnatMeasured) {
      rows.push({ measure: 'bulk', metric: m.metric, unit: m.unit, better: m.better, values: base });
      continue;
    }
    for (const suite of suites)
      rows.push({
        measure: 'bulk',
        metric: `${m.metric}, xnat ${SUITE_LABEL[suite]}`,
        unit: m.unit,
        better: m.better,
        // The suite's own direct cell, where it has one, is its Node floor (CPU and RSS rows).
        values: {
          ...base,
          ...definedOnly({ direct: m.pick(cells.get(suite)!).direct }),
          xnat: m.pick(cells.get(suite)!).xnat,
        },
      });
  }
  return rows;
}

function definedOnly(v: Row['values']): Row['values'] {
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined));
}

function fmt(v: Row['values'][PathName]): string {
  return typeof v === 'number' ? v.toFixed(2) : String(v);
}

if (isMain(import.meta.url)) await main('bulk', run);
