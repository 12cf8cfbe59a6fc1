// Measure: 64-byte ping-pong round trips on one connection through each path; p50 and p99 latency.
// Run: node --import=tsx test/bench/pingpong.ts [--quick] [--paths direct,ssh,xnat]
import type { Socket } from 'node:net';
import { eachPath, isMain, main, type MeasureOptions, type Row } from './lib/measure.ts';
import { dial, waitForEcho } from './lib/net.ts';
import { startPath, startService } from './lib/paths.ts';
import { cpuOf } from './lib/proc-stats.ts';

/** Bytes per ping (and per pong). */
const PING_BYTES = 64;
/** Round trips measured; the brief asks for at least 20 000 so p99 rests on 200 samples. */
const ROUND_TRIPS = 20_000;
const QUICK_ROUND_TRIPS = 300;
/** Round trips before measuring: JIT warm-up on every process of the path. */
const WARMUP_ROUND_TRIPS = 2_000;
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

export async function run(options: MeasureOptions): Promise<Row[]> {
  const trips = options.quick ? QUICK_ROUND_TRIPS : ROUND_TRIPS;
  const warm = options.quick ? QUICK_WARMUP_ROUND_TRIPS : WARMUP_ROUND_TRIPS;
  const p50: Row['values'] = {};
  const p99: Row['values'] = {};
  const mean: Row['values'] = {};
  const cpu: Row['values'] = {};
  const service = await startService('echo');
  try {
    await eachPath(options, [p50, p99, mean, cpu], async (name) => {
      const path = await startPath(name, service.port);
      try {
        await waitForEcho(path.publicPort, 10_000);
        const socket = await dial(path.publicPort);
        try {
          await pingPong(socket, warm);
          const pids = (): number[] => [...path.relayPids(), ...path.agentPids()];
          const cpu0 = cpuOf(pids());
          const samples = (await pingPong(socket, trips)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
          p50[name] = percentile(samples, 50);
          p99[name] = percentile(samples, 99);
          mean[name] = Number(samples.reduce((s, x) => s + x, 0n)) / samples.length / 1000;
          // CPU of the tunnel's own processes per trip: steadier than latency on a shared machine.
          if (name !== 'direct') cpu[name] = ((cpuOf(pids()) - cpu0) * 1e6) / trips;
          options.log(
            `${name}: ${trips} round trips, p50 ${p50[name]!.toFixed(1)} us, p99 ${p99[name]!.toFixed(1)} us` +
              (cpu[name] === undefined
                ? ''
                : `, CPU ${Number(cpu[name]).toFixed(1)} us per trip (both sides)`),
          );
        } finally {
          socket.destroy();
        }
      } finally {
        await path.close();
      }
    });
  } finally {
    await service.close();
  }
  const metric = (m: string): string => `${PING_BYTES} B ping-pong ${m}`;
  return [
    { measure: 'pingpong', metric: metric('p50'), unit: 'us', better: 'lower', values: p50 },
    { measure: 'pingpong', metric: metric('p99'), unit: 'us', better: 'lower', values: p99 },
    { measure: 'pingpong', metric: metric('mean'), unit: 'us', better: 'lower', values: mean },
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
