// Measure: 100-byte UDP ping-pong through a udp mapping, p50 and p99, directly, over xnat's UDP path and
// over its TCP lane (tuning.udpPath off), on loopback. The impaired-path game load is another script.
// Run: node --import=tsx test/bench/udp-path.ts [--quick] [--paths direct,xnat]
import dgram from 'node:dgram';
import { isMain, main, type MeasureOptions, type Row } from './lib/measure.ts';
import { startPath, type Path } from './lib/paths.ts';
import type { BenchProc } from './lib/procs.ts';

const PING_BYTES = 100;
const ROUND_TRIPS = 10_000;
const QUICK_ROUND_TRIPS = 200;
const WARMUP_ROUND_TRIPS = 1_000;
const QUICK_WARMUP_ROUND_TRIPS = 50;
/** A ping unanswered this long counts as lost and the next one goes. */
const LOST_AFTER_MS = 1_000;

/** A UDP echo service on 127.0.0.1 in this process. */
async function udpEcho(): Promise<{ port: number; close: () => void }> {
  const s = dgram.createSocket('udp4');
  s.on('message', (m, r) => s.send(m, r.port, r.address));
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  return { port: s.address().port, close: () => s.close() };
}

/** Sequential round trips; durations in microseconds of the answered ones, and how many were lost. */
async function pingPong(port: number, count: number): Promise<{ samples: number[]; lost: number }> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const ping = Buffer.alloc(PING_BYTES, 0x5a);
  const samples: number[] = [];
  let lost = 0;
  try {
    for (let i = 0; i < count; i++) {
      const start = process.hrtime.bigint();
      const ok = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          s.off('message', onMessage);
          resolve(false);
        }, LOST_AFTER_MS);
        const onMessage = (): void => {
          clearTimeout(timer);
          s.off('message', onMessage);
          resolve(true);
        };
        s.on('message', onMessage);
        s.send(ping, port, '127.0.0.1');
      });
      if (ok) samples.push(Number(process.hrtime.bigint() - start) / 1000);
      else lost++;
    }
  } finally {
    s.close();
  }
  return { samples: samples.sort((a, b) => a - b), lost };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

export async function run(options: MeasureOptions): Promise<Row[]> {
  const trips = options.quick ? QUICK_ROUND_TRIPS : ROUND_TRIPS;
  const warm = options.quick ? QUICK_WARMUP_ROUND_TRIPS : WARMUP_ROUND_TRIPS;
  const rows: Row[] = [];
  const service = await udpEcho();
  // direct does not depend on the way xnat carries datagrams: measured once, shown in both row pairs.
  const direct: { p50?: number; p99?: number } = {};
  try {
    for (const via of ['udp path', 'tcp lane'] as const) {
      const p50: Row['values'] = {};
      const p99: Row['values'] = {};
      for (const name of options.paths) {
        if (name === 'ssh') continue; // ssh -R forwards no UDP
        if (name === 'direct' && direct.p50 !== undefined) {
          p50.direct = direct.p50;
          p99.direct = direct.p99;
          continue;
        }
        let path: Path | undefined;
        try {
          path = await startPath(name, service.port, {
            protocol: 'udp',
            udpPath: via === 'udp path' ? 'auto' : 'off',
          });
          if (name === 'xnat' && via === 'udp path') {
            const agent = path.procs.find((p) => p.name === 'agent') as BenchProc;
            await agent.waitForJson((o) => o.msg === 'udp path up', 30_000, '"udp path up"');
          }
          await pingPong(path.publicPort, warm);
          const r = await pingPong(path.publicPort, trips);
          p50[name] = percentile(r.samples, 50);
          p99[name] = percentile(r.samples, 99);
          if (name === 'direct') Object.assign(direct, { p50: p50[name], p99: p99[name] });
          options.log(
            `${name} (${via}): ${trips} round trips, ${r.lost} lost, p50 ${p50[name]!.toFixed(1)} us, p99 ${p99[name]!.toFixed(1)} us`,
          );
        } catch (err) {
          options.log(`${name} failed: ${err instanceof Error ? err.message : String(err)}`);
          p50[name] = p99[name] = 'failed';
        } finally {
          await path?.close();
        }
      }
      const metric = (m: string): string => `${PING_BYTES} B udp ping-pong ${m}, ${via}`;
      rows.push(
        { measure: 'udp-path', metric: metric('p50'), unit: 'us', better: 'lower', values: p50 },
        { measure: 'udp-path', metric: metric('p99'), unit: 'us', better: 'lower', values: p99 },
      );
    }
  } finally {
    service.close();
  }
  return rows;
}

if (isMain(import.meta.url)) await main('udp-path', run);
