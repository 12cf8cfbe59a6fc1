// Measure: new connections per second through each path: connect, 1-byte echo, close, with many in flight.
// Run: node --import=tsx test/bench/connrate.ts [--quick] [--paths direct,ssh,xnat]
import { connect } from 'node:net';
import { eachPath, isMain, main, type MeasureOptions, type Row } from './lib/measure.ts';
import { waitForEcho } from './lib/net.ts';
import { startPath, startService } from './lib/paths.ts';
import { cpuOf } from './lib/proc-stats.ts';

/** Connections in flight at once. */
const CONCURRENCY = 64;
/** Length of the run per path, in milliseconds. */
const DURATION_MS = 5_000;
const QUICK_DURATION_MS = 500;
/**
 * Cycles before measuring: JIT warm-up on every process of the path (as pingpong's warm-up trips; an xnat
 * relay or agent gives TurboFan back after its first busy second, src/cli/startup-flags.ts).
 */
const WARMUP_MS = 3_000;
const QUICK_WARMUP_MS = 100;
/** A connection that has not finished its cycle by then counts as failed (and the run goes on). */
const CYCLE_TIMEOUT_MS = 10_000;

interface RateResult {
  readonly done: number;
  readonly failed: number;
  readonly seconds: number;
}

/**
 * Keeps CONCURRENCY workers cycling until `durationMs` has passed: connect, send 1 byte, await it back,
 * end, await the close (the path has then torn the connection down end to end).
 */
function connectionRate(port: number, durationMs: number): Promise<RateResult> {
  return new Promise((resolve) => {
    const start = performance.now();
    const stopAt = start + durationMs;
    let done = 0;
    let failed = 0;
    let active = 0;
    const cycle = (): void => {
      if (performance.now() >= stopAt) {
        if (--active === 0) resolve({ done, failed, seconds: (performance.now() - start) / 1000 });
        return;
      }
      let ok = false;
      let echoed = false;
      const s = connect({ port, host: '127.0.0.1', noDelay: true });
      const timer = setTimeout(() => s.destroy(), CYCLE_TIMEOUT_MS);
      s.once('connect', () => s.write('x'));
      s.on('data', () => {
        if (echoed) return;
        echoed = true;
        s.end();
      });
      s.on('end', () => {
        ok = echoed;
      });
      s.on('error', () => {});
      s.once('close', () => {
        clearTimeout(timer);
        if (ok) done++;
        else failed++;
        cycle();
      });
    };
    active = CONCURRENCY;
    for (let i = 0; i < CONCURRENCY; i++) cycle();
  });
}

export async function run(options: MeasureOptions): Promise<Row[]> {
  const duration = options.quick ? QUICK_DURATION_MS : DURATION_MS;
  const rate: Row['values'] = {};
  const fails: Row['values'] = {};
  const cpu: Row['values'] = {};
  const serviceCpu: Row['values'] = {};
  const generatorCpu: Row['values'] = {};
  const service = await startService('echo');
  try {
    await eachPath(options, [rate, fails, cpu, serviceCpu, generatorCpu], async (name) => {
      const path = await startPath(name, service.port);
      try {
        await waitForEcho(path.publicPort, 10_000);
        await connectionRate(path.publicPort, options.quick ? QUICK_WARMUP_MS : WARMUP_MS);
        const pids = (): number[] => [...path.relayPids(), ...path.agentPids()];
        const cpu0 = cpuOf(pids());
        const ends0 = { service: cpuOf([service.proc.pid]), generator: process.cpuUsage() };
        const r = await connectionRate(path.publicPort, duration);
        // What the two Node processes at the ends cost per connection: the service's accept, read, write
        // and close is a relay's visitor-side work, the generator's connect, write, read and close an
        // agent's LAN-side work (the floor of any Node tunnel's set-up, beside ssh's).
        if (r.done > 0) {
          const gen = process.cpuUsage(ends0.generator);
          serviceCpu[name] = ((cpuOf([service.proc.pid]) - ends0.service) * 1e6) / r.done;
          generatorCpu[name] = (gen.user + gen.system) / r.done;
        }
        rate[name] = r.done / r.seconds;
        fails[name] = r.failed;
        // CPU of the tunnel's own processes per connection: steadier than the rate on a shared machine.
        if (name !== 'direct' && r.done > 0) cpu[name] = ((cpuOf(pids()) - cpu0) * 1e6) / r.done;
        options.log(
          `${name}: ${r.done} connections in ${r.seconds.toFixed(2)} s (${rate[name]!.toFixed(0)}/s), ${r.failed} failed` +
            (cpu[name] === undefined
              ? ''
              : `, CPU ${Number(cpu[name]).toFixed(0)} us per connection (both sides)`),
        );
      } finally {
        await path.close();
      }
    });
  } finally {
    await service.close();
  }
  const metric = `${CONCURRENCY} in flight`;
  return [
    {
      measure: 'connrate',
      metric: `new connections, ${metric}`,
      unit: 'conn/s',
      better: 'higher',
      values: rate,
    },
    {
      measure: 'connrate',
      metric: `failed connections, ${metric}`,
      unit: 'count',
      better: 'lower',
      values: fails,
    },
    {
      measure: 'connrate',
      metric: 'CPU per connection, both sides',
      unit: 'us',
      better: 'lower',
      values: cpu,
    },
    {
      measure: 'connrate',
      metric: 'CPU per connection, the LAN service (Node echo) in the same run',
      unit: 'us',
      better: 'lower',
      values: serviceCpu,
    },
    {
      measure: 'connrate',
      metric: 'CPU per connection, the load generator (Node) in the same run',
      unit: 'us',
      better: 'lower',
      values: generatorCpu,
    },
  ];
}

if (isMain(import.meta.url)) await main('connrate', run);
