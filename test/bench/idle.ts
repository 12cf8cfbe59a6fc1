// Measure: memory at rest: RSS of each side with one session and no stream (the footprint of an idle relay
// and agent), and per idle stream: the RSS growth from 1 000 to 10 000 idle visitor connections through one
// mapping, divided by 9 000. The direct column is the floor of any Node tunnel: a plain Node process at rest, and what one idle
// socket costs it accepted (relay row) or dialed (agent row). Run: node --import=tsx test/bench/idle.ts
// [--quick] [--paths ...]
import { execFileSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { isMain, main, type MeasureOptions, type Row } from './lib/measure.ts';
import { waitForEcho } from './lib/net.ts';
import { startFloorProcess, type FloorProcess } from './lib/node-floor.ts';
import { memOf } from './lib/proc-stats.ts';
import { startPath, startService, type PathName } from './lib/paths.ts';

/** Idle visitor connections held open at once. */
const IDLE_STREAMS = 10_000;
const QUICK_IDLE_STREAMS = 200;
/**
 * Open-files limit wanted for every process of the measure (visitor, path and service each hold one fd per
 * stream); capped at the hard limit where raising it is not permitted (containers without CAP_SYS_RESOURCE).
 */
const WANTED_NOFILE = 65_536;
/** Connections being set up at once (a burst of 10 000 SYNs would overflow accept backlogs). */
const OPEN_CONCURRENCY = 64;
/** Attempts per stream: a connection reset while opening is retried and counted, not fatal at once. */
const OPEN_ATTEMPTS = 3;
/** Opening fails when no stream has completed its echo for this long, in milliseconds. */
const OPEN_STALL_MS = 30_000;
/** RSS samples taken this far apart must agree before a reading counts as settled, in milliseconds. */
const SETTLE_INTERVAL_MS = 500;
/** Relative RSS change under which two samples agree. */
const SETTLE_TOLERANCE = 0.01;
/**
 * At rest means this long after the path came up, in milliseconds: V8's memory reducer shrinks the heap
 * about 8-13 s after the last activity, and what an idle process does later (a keepalive a second) is
 * what it keeps doing for days; a reading right after start-up shows neither.
 */
const REST_MS = 20_000;
const QUICK_REST_MS = 1_000;
/** Give up waiting for RSS to settle after this long and take the last sample, in milliseconds. */
const SETTLE_MAX_MS = 10_000;

/** The hard open-files limit of this process (children inherit it and may not exceed it unprivileged). */
function hardFdLimit(): number {
  const text = execFileSync(
    'prlimit',
    ['--pid', String(process.pid), '--nofile', '--output=HARD', '--noheadings'],
    {
      encoding: 'utf8',
    },
  ).trim();
  return text === 'unlimited' ? Infinity : Number(text);
}

/**
 * Raises this process's own open-files limit (it holds the visitor end of every stream) to WANTED_NOFILE,
 * or to the hard limit when raising that is not permitted; returns the limit the path's processes get.
 */
function raiseFdLimits(): number {
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${WANTED_NOFILE}:${WANTED_NOFILE}`], {
      stdio: 'ignore',
    });
    return WANTED_NOFILE;
  } catch {
    const hard = Math.min(hardFdLimit(), WANTED_NOFILE);
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${hard}:${hard}`]);
    return hard;
  }
}

/**
 * Opens `count` connections that each complete one 1-byte echo and then stay open and silent. Fails when
 * no connection completes for OPEN_STALL_MS (a stuck path; a slow one, like ssh's per-channel loop, is fine).
 */
async function openIdle(port: number, count: number): Promise<{ sockets: Socket[]; retries: number }> {
  const sockets: Socket[] = [];
  let next = 0;
  let retries = 0;
  let lastProgress = performance.now();
  let failure: Error | undefined;
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1', noDelay: true });
      s.once('connect', () => s.write('x'));
      s.once('data', () => {
        lastProgress = performance.now();
        sockets.push(s);
        resolve();
      });
      s.once('error', reject);
      s.once('close', () =>
        reject(new Error(`stream ${sockets.length + 1} of ${count} closed before its echo`)),
      );
    });
  const worker = async (): Promise<void> => {
    while (next < count && !failure) {
      next++;
      for (let attempt = 1; ; attempt++) {
        try {
          await one();
          break;
        } catch (err) {
          if (attempt >= OPEN_ATTEMPTS) throw err;
          retries++;
        }
      }
    }
  };
  let watchdog: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    watchdog = setInterval(() => {
      if (performance.now() - lastProgress <= OPEN_STALL_MS) return;
      failure = new Error(`no stream opened for ${OPEN_STALL_MS} ms (${sockets.length} of ${count} open)`);
      reject(failure);
    }, 1000);
  });
  try {
    await Promise.race([
      Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, count) }, worker)),
      stalled,
    ]);
  } catch (err) {
    for (const s of sockets) s.destroy();
    throw err;
  } finally {
    clearInterval(watchdog);
  }
  return { sockets, retries };
}

/** RSS of `pids` once two samples SETTLE_INTERVAL_MS apart agree (lazy frees and GC have run). */
async function settledRss(pids: () => number[]): Promise<number> {
  const deadline = performance.now() + SETTLE_MAX_MS;
  let last = memOf(pids()).rssBytes;
  for (;;) {
    await new Promise((r) => setTimeout(r, SETTLE_INTERVAL_MS));
    const now = memOf(pids()).rssBytes;
    if (Math.abs(now - last) <= SETTLE_TOLERANCE * last || performance.now() > deadline) return now;
    last = now;
  }
}

export async function run(options: MeasureOptions): Promise<Row[]> {
  const count = options.quick ? QUICK_IDLE_STREAMS : IDLE_STREAMS;
  const restMs = options.quick ? QUICK_REST_MS : REST_MS;
  // Per stream is the marginal cost from `warm` to `count` streams: the first streams also pay one-time
  // costs (the stream path's first compilation, young-generation growth) that are no stream's own.
  const warm = count / 10;
  const nofile = raiseFdLimits();
  options.log(`open-files limit ${nofile}`);
  const perRelay: Row['values'] = {};
  const perAgent: Row['values'] = {};
  const restRelay: Row['values'] = {};
  const restAgent: Row['values'] = {};
  const service = await startService('echo', { nofile });
  try {
    for (const name of options.paths) {
      if (name === 'direct') {
        // No process sits between visitor and service; the column shows the floor a Node tunnel pays.
        try {
          await measureFloor();
        } catch (err) {
          options.log(`node floor failed: ${err instanceof Error ? err.message : String(err)}`);
          for (const values of [perRelay, perAgent, restRelay, restAgent]) values[name] = 'failed';
        }
        continue;
      }
      try {
        await measurePath(name);
      } catch (err) {
        options.log(`${name} failed: ${err instanceof Error ? err.message : String(err)}`);
        for (const values of [perRelay, perAgent, restRelay, restAgent]) values[name] = 'failed';
      }
    }
  } finally {
    await service.close();
  }
  /** Plain Node processes: one at rest, then one accepting and one dialing `count` idle sockets. */
  async function measureFloor(): Promise<void> {
    const accepting = await startFloorProcess(nofile);
    const dialing = await startFloorProcess(nofile);
    try {
      const one = (p: FloorProcess) => settledRss(() => [p.pid]);
      await new Promise((r) => setTimeout(r, restMs));
      const before = { relay: await one(accepting), agent: await one(dialing) };
      restRelay.direct = before.relay / MIB;
      restAgent.direct = before.agent / MIB;
      const hold = async (total: number, more: number) => {
        const accepted = accepting.accept(total);
        await dialing.dial(more, accepting.port);
        await accepted;
        return { relay: await one(accepting), agent: await one(dialing) };
      };
      const mid = await hold(warm, warm);
      const after = await hold(count, count - warm);
      perRelay.direct = (after.relay - mid.relay) / (count - warm);
      perAgent.direct = (after.agent - mid.agent) / (count - warm);
      options.log(
        `node floor: at rest ${mib(before.relay)} MiB; per idle socket accepted ${perRelay.direct.toFixed(0)} B, ` +
          `dialed ${perAgent.direct.toFixed(0)} B`,
      );
    } finally {
      await accepting.close();
      await dialing.close();
    }
  }
  async function measurePath(name: PathName): Promise<void> {
    const path = await startPath(name, service.port, { nofile });
    try {
      await waitForEcho(path.publicPort, 10_000);
      await new Promise((r) => setTimeout(r, restMs));
      const before = { relay: await settledRss(path.relayPids), agent: await settledRss(path.agentPids) };
      restRelay[name] = before.relay / MIB;
      restAgent[name] = before.agent / MIB;
      const started = performance.now();
      const first = await openIdle(path.publicPort, warm);
      const mid = { relay: await settledRss(path.relayPids), agent: await settledRss(path.agentPids) };
      const rest = await openIdle(path.publicPort, count - warm).catch((err: unknown) => {
        for (const s of first.sockets) s.destroy();
        throw err;
      });
      const sockets = [...first.sockets, ...rest.sockets];
      const retries = first.retries + rest.retries;
      const openSeconds = (performance.now() - started) / 1000;
      try {
        const after = { relay: await settledRss(path.relayPids), agent: await settledRss(path.agentPids) };
        perRelay[name] = (after.relay - mid.relay) / (count - warm);
        perAgent[name] = (after.agent - mid.agent) / (count - warm);
        options.log(
          `${name}: ${count} idle streams opened in ${openSeconds.toFixed(1)} s; RSS relay ${mib(before.relay)} -> ${mib(mid.relay)} (${warm}) -> ${mib(after.relay)} MiB, ` +
            `agent ${mib(before.agent)} -> ${mib(mid.agent)} -> ${mib(after.agent)} MiB; bytes/stream from ${warm} to ${count}: relay ${perRelay[name]!.toFixed(0)}, agent ${perAgent[name]!.toFixed(0)}; ${retries} opens retried after a reset`,
        );
      } finally {
        for (const s of sockets) s.destroy();
      }
    } finally {
      await path.close();
    }
  }
  const metric = (side: string): string => `RSS per idle stream, ${warm} to ${count} streams, ${side} side`;
  const rest = (side: string): string => `RSS at rest, one session and no stream, ${side} side`;
  return [
    { measure: 'idle', metric: rest('relay'), unit: 'MiB', better: 'lower', values: restRelay },
    { measure: 'idle', metric: rest('agent'), unit: 'MiB', better: 'lower', values: restAgent },
    { measure: 'idle', metric: metric('relay'), unit: 'bytes', better: 'lower', values: perRelay },
    { measure: 'idle', metric: metric('agent'), unit: 'bytes', better: 'lower', values: perAgent },
  ];
}

const MIB = 1024 * 1024;

function mib(bytes: number): string {
  return (bytes / MIB).toFixed(1);
}

if (isMain(import.meta.url)) await main('idle', run);
