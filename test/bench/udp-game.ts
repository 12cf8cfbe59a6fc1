// Measure: game-like UDP load (50 players x 60 datagrams/s x 100 B) through each path: RTT percentiles,
// loss and the xnat pair's CPU, on loopback and over an impaired wire (two network namespaces joined by
// lib/impair.py: 10 ms each way, 1 % loss each way) where this machine allows it (root, TUN).
// Run: node --import=tsx test/bench/udp-game.ts [--quick] [--paths direct,xnat] [--no-impaired]
import { eachPath, isMain, main, type MeasureOptions, type Row } from './lib/measure.ts';
import { AGENT_SIDE_ADDRESS, RELAY_SIDE_ADDRESS, canImpair, startImpairedPair } from './lib/netns.ts';
import type { ImpairedPair, Impairment } from './lib/netns.ts';
import { cpuOf } from './lib/proc-stats.ts';
import { REPO_ROOT, startPath, type PathName } from './lib/paths.ts';
import { startProc } from './lib/procs.ts';

const PLAYERS = 50;
const RATE_PER_S = 60;
const DATAGRAM_BYTES = 100;
const SECONDS = 10;
const QUICK_SECONDS = 1;
/** The impaired wire: 20 ms RTT, 1 % loss each way, a little jitter. */
const IMPAIRMENT: Impairment = { delayMs: 10, jitterMs: 1, loss: 0.01 };

/**
 * How xnat carries the datagrams: each variant is one row group. The UDP path (sealed datagrams over UDP,
 * the default) is measured once the agent logs `udp path up`; the TCP lane with the agent's path off.
 */
const XNAT_VARIANTS: ReadonlyArray<{
  readonly label: string;
  readonly agentTuning: readonly string[];
  readonly waitForUdpPath: boolean;
}> = [
  { label: 'udp path', agentTuning: [], waitForUdpPath: true },
  { label: 'tcp lane', agentTuning: ['udpPath: off'], waitForUdpPath: false },
];

interface GameResult {
  readonly sent: number;
  readonly received: number;
  readonly lossPct: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

/** Runs the players (lib/udp-players.ts) against host:port, in `ns` when given. */
async function play(
  host: string,
  port: number,
  seconds: number,
  pair?: ImpairedPair,
  ns?: string,
): Promise<GameResult> {
  const args = [
    '--import=tsx',
    'test/bench/lib/udp-players.ts',
    host,
    String(port),
    String(PLAYERS),
    String(RATE_PER_S),
    String(DATAGRAM_BYTES),
    String(seconds),
  ];
  const [cmd, argv] = pair && ns ? pair.exec(ns, process.execPath, args) : [process.execPath, args];
  const proc = startProc(cmd, argv, { name: 'players', cwd: REPO_ROOT });
  return (await proc.waitForJson(
    (o) => typeof o.sent === 'number',
    (seconds + 30) * 1000,
    'players result',
  )) as unknown as GameResult;
}

/** Starts the UDP echo (lib/udp-echo.ts) on `host`, in `ns` when given; resolves with its port. */
async function startEcho(
  host: string,
  pair?: ImpairedPair,
  ns?: string,
): Promise<{ port: number; stop(): Promise<void> }> {
  const args = ['--import=tsx', 'test/bench/lib/udp-echo.ts', host];
  const [cmd, argv] = pair && ns ? pair.exec(ns, process.execPath, args) : [process.execPath, args];
  const proc = startProc(cmd, argv, { name: 'udp-echo', cwd: REPO_ROOT });
  const hello = await proc.waitForJson((o) => typeof o.port === 'number', 30_000, 'udp echo port');
  return { port: Number(hello.port), stop: () => proc.stop() };
}

interface Cells {
  p50: Row['values'];
  p99: Row['values'];
  loss: Row['values'];
  cpu: Row['values'];
}
const emptyCells = (): Cells => ({ p50: {}, p99: {}, loss: {}, cpu: {} });

/** One environment (loopback, or the impaired pair): direct once, then each xnat variant. */
async function measureOn(
  env: string,
  options: MeasureOptions,
  seconds: number,
  pair?: ImpairedPair,
): Promise<Row[]> {
  const rows: Row[] = [];
  const direct = emptyCells();
  const variants = XNAT_VARIANTS.map(() => emptyCells());
  // The game server: on the agent's side of the wire (its namespace), or loopback.
  const echo = await startEcho(pair ? '0.0.0.0' : '127.0.0.1', pair, pair?.agentNs);
  try {
    await eachPath(options, [direct.p50, direct.p99, direct.loss], async (name: PathName) => {
      if (name === 'ssh') return; // ssh -R forwards no UDP.
      if (name === 'direct') {
        const r = await play(
          pair ? AGENT_SIDE_ADDRESS : '127.0.0.1',
          echo.port,
          seconds,
          pair,
          pair?.relayNs,
        );
        Object.assign(direct, {
          p50: { direct: r.p50Ms },
          p99: { direct: r.p99Ms },
          loss: { direct: r.lossPct },
        });
        options.log(
          `${env} direct: p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, loss ${r.lossPct.toFixed(2)} %`,
        );
        return;
      }
      for (const [i, variant] of XNAT_VARIANTS.entries()) {
        const cells = variants[i]!;
        try {
          const path = await startPath('xnat', echo.port, {
            protocol: 'udp',
            agentTuning: variant.agentTuning,
            ...(pair
              ? { netns: { relay: pair.relayNs, agent: pair.agentNs, relayHost: RELAY_SIDE_ADDRESS } }
              : {}),
          });
          try {
            if (variant.waitForUdpPath) {
              const agent = path.procs.find((p) => p.name === 'agent');
              await agent?.waitForJson((o) => o.msg === 'udp path up', 30_000, '"udp path up"');
            }
            const pids = [...path.relayPids(), ...path.agentPids()];
            const cpuBefore = cpuOf(pids);
            const started = performance.now();
            const r = await play('127.0.0.1', path.publicPort, seconds, pair, pair?.relayNs);
            const wallS = (performance.now() - started) / 1000;
            cells.p50.xnat = r.p50Ms;
            cells.p99.xnat = r.p99Ms;
            cells.loss.xnat = r.lossPct;
            cells.cpu.xnat = (100 * (cpuOf(pids) - cpuBefore)) / wallS;
            options.log(
              `${env} xnat (${variant.label}): p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, loss ${r.lossPct.toFixed(2)} %, relay+agent ${cells.cpu.xnat.toFixed(0)} % of a core`,
            );
          } finally {
            await path.close();
          }
        } catch (err) {
          options.log(
            `${env} xnat (${variant.label}) failed: ${err instanceof Error ? err.message : String(err)}`,
          );
          for (const c of [cells.p50, cells.p99, cells.loss, cells.cpu]) c.xnat = 'failed';
        }
      }
    });
  } finally {
    await echo.stop();
  }
  const game = `${PLAYERS} players x ${RATE_PER_S}/s x ${DATAGRAM_BYTES} B, ${env}`;
  for (const [i, variant] of XNAT_VARIANTS.entries()) {
    const c = variants[i]!;
    const m = (what: string): string => `${game}, xnat ${variant.label}: ${what}`;
    rows.push(
      {
        measure: 'udp-game',
        metric: m('p50 RTT'),
        unit: 'ms',
        better: 'lower',
        values: { ...direct.p50, ...c.p50 },
      },
      {
        measure: 'udp-game',
        metric: m('p99 RTT'),
        unit: 'ms',
        better: 'lower',
        values: { ...direct.p99, ...c.p99 },
      },
      {
        measure: 'udp-game',
        metric: m('loss'),
        unit: '%',
        better: 'lower',
        values: { ...direct.loss, ...c.loss },
      },
      { measure: 'udp-game', metric: m('CPU relay+agent'), unit: '% core', better: 'lower', values: c.cpu },
    );
  }
  return rows;
}

export async function run(options: MeasureOptions): Promise<Row[]> {
  const seconds = options.quick ? QUICK_SECONDS : SECONDS;
  const rows = await measureOn('loopback', options, seconds);
  if (process.argv.includes('--no-impaired') || options.quick) return rows;
  if (!canImpair()) {
    options.log('impaired wire skipped: needs root, iproute2, python3 and /dev/net/tun');
    return rows;
  }
  const pair = await startImpairedPair(IMPAIRMENT);
  try {
    const env = `impaired ${2 * IMPAIRMENT.delayMs} ms RTT ${100 * IMPAIRMENT.loss} % loss each way`;
    rows.push(...(await measureOn(env, options, seconds, pair)));
  } finally {
    await pair.close();
  }
  return rows;
}

if (isMain(import.meta.url)) await main('udp-game', run);
