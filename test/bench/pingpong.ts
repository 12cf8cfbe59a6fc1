// Measure: 64-byte ping-pong round trips on one connection through each path; p50 and p99 latency.
// Run: node --import=tsx test/bench/pingpong.ts [--quick] [--paths direct,ssh,xnat]
import type { Socket } from 'node:net';
import { eachPath, isMain, main, type MeasureOptions, type Row } from './lib/measure.ts';
import { dial, waitForEcho } from './lib/net.ts';
import { startFloor } from './lib/floor.ts';
import { startPath, startService } from './lib/paths.ts';
import { cpuOf } from './lib/proc-stats.ts';

/** Bytes per ping (and per pong). */
const PING_BYTES = 64;
/** Round trips measured; the brief asks for at least 20 000 so p99 rests on 200 samples. */
const ROUND_TRIPS = 20_000;
const QUICK_ROUND_TRIPS = 300;
/**
 * Round trips before measuring: JIT warm-up on every process of the path (an xnat relay or agent gives
 * TurboFan back after its first busy second, src/cli/startup-flags.ts, and compiles for about 2 s more).
 */
const WARMUP_ROUND_TRIPS = 10_000;
const QUICK_WARMUP_ROUND_TRIPS = 50;
/** A round trip slower than this fails the run (a stuck path, not a slow one). */
const ROUND_TRIP_TIMEOUT_MS = 10_000;

/** Runs `count` sequential round trips; returns each one's duration in nanoseconds. */
function pingPong(socket: Socket, count: number): Promise<bigint[]> {
  const ping = Buffer.alloc(PING_BYTES, 0x5a);
  const samples: bigint[] = [];
  return new Promise((resolve, reject) => {
    let got = 0;
    let start = 0n;
    const send = (): void => {
      got = 0;
      start = process.hrtime.bigint();
      socket.write(ping);
    };
    const finish = (err?: Error): void => {
      clearInterval(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve(samples);
    };
    const onData = (chunk: Buffer): void => {
      got += chunk.length;
      if (got < PING_BYTES) return;
      samples.push(process.hrtime.bigint() - start);
      if (samples.length >= count) finish();
      else send();
    };
    const onClose = (): void => finish(new Error(`connection closed after ${samples.length} round trips`));
    // A watchdog instead of a per-trip timer: arming a timer per trip would cost more than a loopback trip.
    let last = -1;
    const timer = setInterval(() => {
      if (samples.length === last) finish(new Error(`no pong within ${ROUND_TRIP_TIMEOUT_MS} ms`));
      last = samples.length;
    }, ROUND_TRIP_TIMEOUT_MS);
    socket.on('data', onData);
    socket.once('close', onClose);
    send();
  });
}

function percentile(sorted: readonly bigint[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length));
  return Number(sorted[i]!) / 1000;
}

interface Trips {
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  /** CPU of `pids` per trip, in microseconds (undefined without pids: the direct path). */
  readonly cpu: number | undefined;
}

/** Warm-up, then the measured round trips through `port`; CPU is that of `pids` over the measured ones. */
async function measureTrips(port: number, pids: () => number[], warm: number, trips: number): Promise<Trips> {
  await waitForEcho(port, 10_000);
  const socket = await dial(port);
  try {
    await pingPong(socket, warm);
    const cpu0 = cpuOf(pids());
    const samples = (await pingPong(socket, trips)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return {
      p50: percentile(samples, 50),
      p99: percentile(samples, 99),
      mean: Number(samples.reduce((s, x) => s + x, 0n)) / samples.length / 1000,
      // CPU of the tunnel's own processes per trip: steadier than latency on a shared machine.
      cpu: pids().length === 0 ? undefined : ((cpuOf(pids()) - cpu0) * 1e6) / trips,
    };
  } finally {
    socket.destroy();
  }
}

function describe(name: string, trips: number, r: Trips): string {
  return (
    `${name}: ${trips} round trips, p50 ${r.p50.toFixed(1)} us, p99 ${r.p99.toFixed(1)} us` +
    (r.cpu === undefined ? '' : `, CPU ${r.cpu.toFixed(1)} us per trip (both sides)`)
  );
}

export async function run(options: MeasureOptions): Promise<Row[]> {
  const trips = options.quick ? QUICK_ROUND_TRIPS : ROUND_TRIPS;
  const warm = options.quick ? QUICK_WARMUP_ROUND_TRIPS : WARMUP_ROUND_TRIPS;
  const p50: Row['values'] = {};
  const p99: Row['values'] = {};
  const mean: Row['values'] = {};
  const cpu: Row['values'] = {};
  // The Node floor's rows: its figures in the direct column, ssh -R's and xnat's beside them.
  const floorP50: Row['values'] = {};
  const floorP99: Row['values'] = {};
  const service = await startService('echo');
  try {
    await eachPath(options, [p50, p99, mean, cpu], async (name) => {
      const path = await startPath(name, service.port);
      try {
        const r = await measureTrips(
          path.publicPort,
          () => [...path.relayPids(), ...path.agentPids()],
          warm,
          trips,
        );
        p50[name] = r.p50;
        p99[name] = r.p99;
        if (name !== 'direct') [floorP50[name], floorP99[name]] = [r.p50, r.p99];
        mean[name] = r.mean;
        if (r.cpu !== undefined) cpu[name] = r.cpu;
        options.log(describe(name, trips, r));
      } finally {
        await path.close();
      }
    });
    // The least any Node tunnel takes per trip (test/bench/lib/floor.ts): two bare Node hops sealing and
    // opening each message as an AES-256-GCM record, the default suite; no frames, mux or session.
    if (options.paths.includes('direct')) {
      await eachPath({ ...options, paths: ['direct'] }, [floorP50, floorP99], async () => {
        const pair = await startFloor(service.port, 'aes-256-gcm');
        try {
          const r = await measureTrips(pair.publicPort, () => [pair.relayPid, pair.agentPid], warm, trips);
          floorP50.direct = r.p50;
          floorP99.direct = r.p99;
          cpu.direct = r.cpu!;
          options.log(describe('Node floor AES-256-GCM', trips, r));
        } finally {
          await pair.close();
        }
      });
    }
  } finally {
    await service.close();
  }
  const metric = (m: string): string => `${PING_BYTES} B ping-pong ${m}`;
  const floor = (m: string): string => `${metric(m)}, Node floor pair in the direct column`;
  return [
    { measure: 'pingpong', metric: metric('p50'), unit: 'us', better: 'lower', values: p50 },
    { measure: 'pingpong', metric: metric('p99'), unit: 'us', better: 'lower', values: p99 },
    { measure: 'pingpong', metric: metric('mean'), unit: 'us', better: 'lower', values: mean },
    { measure: 'pingpong', metric: floor('p50'), unit: 'us', better: 'lower', values: floorP50 },
    { measure: 'pingpong', metric: floor('p99'), unit: 'us', better: 'lower', values: floorP99 },
    {
      measure: 'pingpong',
      metric: 'CPU per round trip, both sides',
      unit: 'us',
      better: 'lower',
      values: cpu,
    },
  ];
}

if (isMain(import.meta.url)) await main('pingpong', run);
