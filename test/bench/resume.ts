// Measure: a visitor download running while the agent-relay link is cut and restored through a fault
// proxy; time from restore to bytes flowing again at the visitor, and a SHA-256 check of the whole transfer.
// Run: node --import=tsx test/bench/resume.ts [--quick] [--paths ssh,xnat]
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

/** Cuts the link: every live proxied connection is reset and new ones are reset as they come, for `outageMs`. */
async function outage(path: Path, outageMs: number): Promise<void> {
  const proxy = path.proxy!;
  proxy.blackhole();
  proxy.reset();
  const resetter = setInterval(() => proxy.reset(), OUTAGE_RESET_INTERVAL_MS);
  await new Promise((r) => setTimeout(r, outageMs));
  clearInterval(resetter);
  proxy.heal();
}

async function resumeRun(
  path: Path,
  sourceHash: () => Promise<string>,
  total: number,
  cuts: number,
  outageMs: number,
): Promise<ResumeResult> {
  const proxy = path.proxy!;
  const dl = new Download(await dial(path.publicPort));
  const results: CutResult[] = [];
  try {
    for (let k = 1; k <= cuts; k++) {
      const mark = Math.floor((total * k) / (cuts + 1));
      if (!(await dl.until(() => dl.received >= mark, STALL_TIMEOUT_MS)))
        return { cuts: results, outcome: dl.closed ? 'connection lost' : 'stalled' };
      await outage(path, outageMs);
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

export async function run(options: MeasureOptions): Promise<Row[]> {
  const total = options.quick ? QUICK_TRANSFER_BYTES : TRANSFER_BYTES;
  const cuts = options.quick ? QUICK_CUTS : CUTS;
  const outageMs = options.quick ? QUICK_OUTAGE_MS : OUTAGE_MS;
  const restoreMedian: Row['values'] = {};
  const restoreMax: Row['values'] = {};
  const relinkMedian: Row['values'] = {};
  const outcome: Row['values'] = {};
  await eachPath(options, [restoreMedian, restoreMax, relinkMedian, outcome], async (name) => {
    if (name === 'direct') {
      // No link between visitor and service to cut.
      for (const v of [restoreMedian, restoreMax, relinkMedian, outcome]) v[name] = 'n/a';
      return;
    }
    // One service per path: its only connection is the visitor's download, so its one hash line is ours.
    const service = await startService('source', { bytes: total });
    try {
      const path = await startPath(name, service.port, { faultProxy: true });
      try {
        const sourceHash = async (): Promise<string> => {
          const line = await service.proc.waitForJson(
            (o) => typeof o.sha256 === 'string',
            STALL_TIMEOUT_MS,
            'source hash',
          );
          return String(line.sha256);
        };
        const r = await resumeRun(path, sourceHash, total, cuts, outageMs);
        outcome[name] = r.outcome;
        if (name === 'xnat' && r.outcome !== 'intact') {
          // What the two sides said is the first thing anyone will ask for.
          for (const p of path.procs)
            options.log(`${p.name} output:\n${p.lines.slice(-15).join('\n')}\n${p.stderr.slice(-1500)}`);
        }
        const restore = r.cuts.map((c) => c.restoreToBytesMs);
        const relink = r.cuts.map((c) => c.relinkToBytesMs).filter((v) => Number.isFinite(v));
        if (restore.length > 0) {
          restoreMedian[name] = median(restore);
          restoreMax[name] = Math.max(...restore);
        } else {
          restoreMedian[name] = r.outcome;
          restoreMax[name] = r.outcome;
        }
        relinkMedian[name] = relink.length > 0 ? median(relink) : r.outcome;
        options.log(
          `${name}: ${r.cuts.length} of ${cuts} cuts of ${outageMs} ms resumed; restore -> bytes ` +
            `${restore.map((v) => v.toFixed(0)).join(', ') || '-'} ms; relink -> bytes ${relink.map((v) => v.toFixed(0)).join(', ') || '-'} ms; ${r.outcome}; the proxy accepted ${path.proxy!.accepted} links`,
        );
      } finally {
        await path.close();
      }
    } finally {
      await service.close();
    }
  });
  const what = `${cuts} cut${cuts > 1 ? 's' : ''} of ${outageMs} ms`;
  return [
    {
      measure: 'resume',
      metric: `link restored -> bytes at visitor, median of ${what}`,
      unit: 'ms',
      better: 'lower',
      values: restoreMedian,
    },
    {
      measure: 'resume',
      metric: `link restored -> bytes at visitor, worst of ${what}`,
      unit: 'ms',
      better: 'lower',
      values: restoreMax,
    },
    {
      measure: 'resume',
      metric: `new link accepted -> bytes at visitor, median`,
      unit: 'ms',
      better: 'lower',
      values: relinkMedian,
    },
    {
      measure: 'resume',
      metric: `${total / MIB} MiB download, SHA-256`,
      unit: '',
      better: 'higher',
      values: outcome,
    },
  ];
}

if (isMain(import.meta.url)) await main('resume', run);
