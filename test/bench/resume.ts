// Measure: a visitor download running while the agent-relay link is cut and restored through a fault
// proxy; time from restore to bytes flowing again at the visitor, and a SHA-256 check of the whole transfer.
// Two scenarios: cuts (links reset, new dials reset too) and blackholes (nothing passes, sockets stay open,
// new dials hang: a dead uplink), with the time from the blackhole to the agent's first redial (detection).
// Run: node --import=tsx test/bench/resume.ts [--quick] [--paths ssh,xnat] [--blackholes 1000,7000,30000]
// [--reverse] (xnat in reverse mode: the relay dials the agent, the blackholes are on that path)
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { eachPath, isMain, main, type MeasureOptions, type Row } from './lib/measure.ts';
import { dial } from './lib/net.ts';
import { startPath, startService, type Path } from './lib/paths.ts';

const MIB = 1024 * 1024;
/** Bytes the LAN service sends to the visitor. */
const TRANSFER_BYTES = 64 * MIB;
const QUICK_TRANSFER_BYTES = 8 * MIB;
/** Link cuts per transfer, spread evenly over it. */
const CUTS = 3;
const QUICK_CUTS = 1;
/** How long the link stays down per cut, in milliseconds: the scenario itself (an uplink outage). */
const OUTAGE_MS = 1000;
const QUICK_OUTAGE_MS = 300;
/** While the link is down, connections the agent dials through the proxy are reset this often (ms). */
const OUTAGE_RESET_INTERVAL_MS = 5;
/** Blackhole lengths in ms (one each, in this order, on one download); --blackholes overrides. */
const BLACKHOLES_MS = [1000, 7000, 30000];
const QUICK_BLACKHOLES_MS = [300];
/** No byte at the visitor this long after a restore: the transfer is declared stalled (ms). */
const STALL_TIMEOUT_MS = 30_000;

/** The visitor side of the download: hashes what arrives and notes when it arrived. */
class Download {
  received = 0;
  lastDataAt = 0;
  closed = false;
  readonly hash = createHash('sha256');
  private readonly waiters = new Set<() => void>();

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.hash.update(chunk);
      this.received += chunk.length;
      this.lastDataAt = performance.now();
      this.notify();
    });
    socket.on('error', () => {});
    socket.once('close', () => {
      this.closed = true;
      this.notify();
    });
  }

  /** Resolves true once `test` holds, false when the connection closes first or after `timeoutMs`. */
  until(test: () => boolean, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (test()) return done(true);
        if (this.closed) done(false);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      const done = (v: boolean): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(v);
      };
      this.waiters.add(check);
      check();
    });
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

interface CutResult {
  /** From the outage's start to the agent's first new link at the proxy (detection and first redial), ms. */
  readonly redialAfterMs: number;
  /** From the link's restore to the first byte at the visitor, ms. */
  readonly restoreToBytesMs: number;
  /** From the proxy accepting the agent's new link to the first byte at the visitor, ms. */
  readonly relinkToBytesMs: number;
}

interface ResumeResult {
  readonly cuts: CutResult[];
  /** 'intact', 'connection lost', 'stalled' or 'corrupt'. */
  readonly outcome: string;
}

type Outage = (path: Path, outageMs: number) => Promise<void>;

/** Cuts the link: every live proxied connection is reset and new ones are reset as they come, for `outageMs`. */
async function cut(path: Path, outageMs: number): Promise<void> {
  const proxy = path.proxy!;
  proxy.blackhole();
  proxy.reset();
  const resetter = setInterval(() => proxy.reset(), OUTAGE_RESET_INTERVAL_MS);
  await new Promise((r) => setTimeout(r, outageMs));
  clearInterval(resetter);
  proxy.heal();
}

/** Blackholes the link for `outageMs`: bytes are dropped both ways, sockets stay open, new dials hang. */
async function blackhole(path: Path, outageMs: number): Promise<void> {
  const proxy = path.proxy!;
  proxy.blackhole();
  await new Promise((r) => setTimeout(r, outageMs));
  proxy.heal();
}

async function resumeRun(
  path: Path,
  sourceHash: () => Promise<string>,
  total: number,
  outages: readonly number[],
  outage: Outage,
): Promise<ResumeResult> {
  const cuts = outages.length;
  const proxy = path.proxy!;
  const dl = new Download(await dial(path.publicPort));
  const results: CutResult[] = [];
  try {
    for (let k = 1; k <= cuts; k++) {
      const mark = Math.floor((total * k) / (cuts + 1));
      if (!(await dl.until(() => dl.received >= mark, STALL_TIMEOUT_MS)))
        return { cuts: results, outcome: dl.closed ? 'connection lost' : 'stalled' };
      const startedAt = performance.now();
      let redialAt = NaN;
      void proxy.waitForConnections(proxy.accepted + 1, STALL_TIMEOUT_MS + outages[k - 1]!).then(
        () => (redialAt = performance.now()),
        () => {},
      );
      await outage(path, outages[k - 1]!);
      const restoredAt = performance.now();
      let relinkAt = NaN;
      const accepted = proxy.accepted;
      void proxy.waitForConnections(accepted + 1, STALL_TIMEOUT_MS).then(
        () => (relinkAt = performance.now()),
        () => {},
      );
      if (!(await dl.until(() => dl.lastDataAt > restoredAt, STALL_TIMEOUT_MS)))
        return { cuts: results, outcome: dl.closed ? 'connection lost' : 'stalled' };
      results.push({
        redialAfterMs: redialAt - startedAt,
        restoreToBytesMs: dl.lastDataAt - restoredAt,
        relinkToBytesMs: dl.lastDataAt - relinkAt,
      });
    }
    if (!(await dl.until(() => dl.received >= total, STALL_TIMEOUT_MS * 2)))
      return { cuts: results, outcome: dl.closed ? 'connection lost' : 'stalled' };
    await dl.until(() => dl.closed, STALL_TIMEOUT_MS);
    const intact = dl.received === total && dl.hash.digest('hex') === (await sourceHash());
    return { cuts: results, outcome: intact ? 'intact' : 'corrupt' };
  } finally {
    dl.socket.destroy();
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** --blackholes 1000,7000,30000 (ms) from argv, else the defaults. */
function blackholeLengths(quick: boolean): number[] {
  const i = process.argv.indexOf('--blackholes');
  const text =
    i >= 0 ? process.argv[i + 1] : process.argv.find((a) => a.startsWith('--blackholes='))?.slice(13);
  if (!text) return quick ? QUICK_BLACKHOLES_MS : BLACKHOLES_MS;
  const ms = text.split(',').map(Number);
  if (ms.some((v) => !Number.isFinite(v) || v <= 0))
    throw new Error(`--blackholes ${text}: ms, comma-separated`);
  return ms;
}

/** One scenario on every path: a download through `outages` (ms) of the `outage` kind. */
async function scenario(
  options: MeasureOptions,
  kind: string,
  outage: Outage,
  outages: readonly number[],
  total: number,
): Promise<{ cuts: Map<string, CutResult[]>; outcome: Row['values'] }> {
  const cuts = new Map<string, CutResult[]>();
  const outcome: Row['values'] = {};
  await eachPath(options, [outcome], async (name) => {
    if (name === 'direct') {
      // No link between visitor and service to cut.
      outcome[name] = 'n/a';
      return;
    }
    // One service per path: its only connection is the visitor's download, so its one hash line is ours.
    const service = await startService('source', { bytes: total });
    try {
      const path = await startPath(name, service.port, {
        faultProxy: true,
        reverse: process.argv.includes('--reverse'),
      });
      try {
        const sourceHash = async (): Promise<string> => {
          const line = await service.proc.waitForJson(
            (o) => typeof o.sha256 === 'string',
            STALL_TIMEOUT_MS,
            'source hash',
          );
          return String(line.sha256);
        };
        const r = await resumeRun(path, sourceHash, total, outages, outage);
        outcome[name] = r.outcome;
        cuts.set(name, r.cuts);
        if (name === 'xnat' && r.outcome !== 'intact') {
          // What the two sides said is the first thing anyone will ask for.
          for (const p of path.procs)
            options.log(`${p.name} output:\n${p.lines.slice(-15).join('\n')}\n${p.stderr.slice(-1500)}`);
        }
        const ms = (xs: number[]): string => xs.map((v) => v.toFixed(0)).join(', ') || '-';
        options.log(
          `${name}: ${kind} ${r.cuts.length} of ${outages.length} (${outages.join(', ')} ms) resumed; ` +
            `first redial after ${ms(r.cuts.map((c) => c.redialAfterMs))} ms; ` +
            `restore -> bytes ${ms(r.cuts.map((c) => c.restoreToBytesMs))} ms; ` +
            `relink -> bytes ${ms(r.cuts.map((c) => c.relinkToBytesMs))} ms; ${r.outcome}; ` +
            `the proxy accepted ${path.proxy!.accepted} links`,
        );
      } finally {
        await path.close();
      }
    } finally {
      await service.close();
    }
  });
  return { cuts, outcome };
}

export async function run(options: MeasureOptions): Promise<Row[]> {
  const total = options.quick ? QUICK_TRANSFER_BYTES : TRANSFER_BYTES;
  const cutCount = options.quick ? QUICK_CUTS : CUTS;
  const outageMs = options.quick ? QUICK_OUTAGE_MS : OUTAGE_MS;
  const rows: Row[] = [];
  const pick = (
    cuts: Map<string, CutResult[]>,
    outcome: Row['values'],
    f: (c: CutResult[]) => number | undefined,
  ): Row['values'] => {
    const v: Row['values'] = {};
    for (const name of options.paths) {
      const x = cuts.get(name);
      const n = x && x.length > 0 ? f(x) : undefined;
      // NaN: it never happened (a blackhole shorter than the keepalive timeout needs no redial).
      v[name] = n !== undefined ? (Number.isNaN(n) ? 'none' : n) : (outcome[name] ?? '-');
    }
    return v;
  };

  const c = await scenario(options, 'cuts', cut, Array<number>(cutCount).fill(outageMs), total);
  const what = `${cutCount} cut${cutCount > 1 ? 's' : ''} of ${outageMs} ms`;
  const restore = (x: CutResult[]) => x.map((r) => r.restoreToBytesMs);
  rows.push(
    {
      measure: 'resume',
      metric: `link restored -> bytes at visitor, median of ${what}`,
      unit: 'ms',
      better: 'lower',
      values: pick(c.cuts, c.outcome, (x) => median(restore(x))),
    },
    {
      measure: 'resume',
      metric: `link restored -> bytes at visitor, worst of ${what}`,
      unit: 'ms',
      better: 'lower',
      values: pick(c.cuts, c.outcome, (x) => Math.max(...restore(x))),
    },
    {
      measure: 'resume',
      metric: `new link accepted -> bytes at visitor, median`,
      unit: 'ms',
      better: 'lower',
      values: pick(c.cuts, c.outcome, (x) => median(x.map((r) => r.relinkToBytesMs))),
    },
    {
      measure: 'resume',
      metric: `${total / MIB} MiB download, SHA-256`,
      unit: '',
      better: 'higher',
      values: c.outcome,
    },
  );

  const lengths = blackholeLengths(options.quick);
  const b = await scenario(options, 'blackholes', blackhole, lengths, total);
  lengths.forEach((len, k) => {
    rows.push(
      {
        measure: 'resume',
        metric: `${len} ms blackhole: start -> first redial (detection)`,
        unit: 'ms',
        better: 'lower',
        values: pick(b.cuts, b.outcome, (x) => x[k]?.redialAfterMs),
      },
      {
        measure: 'resume',
        metric: `${len} ms blackhole: path back -> bytes at visitor`,
        unit: 'ms',
        better: 'lower',
        values: pick(b.cuts, b.outcome, (x) => x[k]?.restoreToBytesMs),
      },
    );
  });
  rows.push({
    measure: 'resume',
    metric: `${total / MIB} MiB download through the blackholes, SHA-256`,
    unit: '',
    better: 'higher',
    values: b.outcome,
  });
  return rows;
}

if (isMain(import.meta.url)) await main('resume', run);
