// What every measure script shares: its options, the rows it reports, argument parsing and the table.
// It knows no measure; each script exports `run(options)` and calls `main()` when run on its own.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ALL_PATHS, type PathName } from './paths.ts';
import { stopAll } from './procs.ts';

export interface MeasureOptions {
  /** Tiny sizes and durations (the smoke test); numbers are then meaningless, only the plumbing is checked. */
  readonly quick: boolean;
  /** Paths to measure, in this order. */
  readonly paths: readonly PathName[];
  /** Progress lines (stderr). */
  readonly log: (line: string) => void;
}

/** One line of the results table: one metric measured on each path. */
export interface Row {
  /** The measure (script) name, e.g. "bulk". */
  readonly measure: string;
  /** What was measured, e.g. "1 stream, visitor -> service". */
  readonly metric: string;
  /** Unit of the values, e.g. "Gbit/s". */
  readonly unit: string;
  /** Which way is better; ratios are plain value ratios either way. */
  readonly better: 'higher' | 'lower';
  /** A number, or a text such as "connection lost" or "n/a". */
  readonly values: Partial<Record<PathName, number | string>>;
}

export type Measure = (options: MeasureOptions) => Promise<Row[]>;

/** Parses `--quick`, `--paths a,b` and `--only x` (the latter for all.ts) from argv. */
export function parseArgs(argv: readonly string[]): {
  quick: boolean;
  paths: PathName[];
  only: string[];
  write?: boolean;
} {
  const quick = argv.includes('--quick');
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    if (i >= 0) return argv[i + 1];
    return argv.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);
  };
  const pathsText = value('--paths');
  const paths = pathsText ? (pathsText.split(',') as PathName[]) : [...ALL_PATHS];
  for (const p of paths)
    if (!ALL_PATHS.includes(p)) throw new Error(`unknown path ${p} (known: ${ALL_PATHS.join(', ')})`);
  const onlyText = value('--only');
  const only = onlyText ? onlyText.split(',') : [];
  const write = argv.includes('--write') ? true : argv.includes('--no-write') ? false : undefined;
  return { quick, paths, only, write };
}

function fmt(v: number | string | undefined): string {
  if (v === undefined) return '-';
  if (typeof v === 'string') return v;
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (abs >= 100) return v.toFixed(0);
  if (abs >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function ratio(a: number | string | undefined, b: number | string | undefined): string {
  if (typeof a !== 'number' || typeof b !== 'number' || b === 0) return '-';
  return `${(a / b).toFixed(2)}x`;
}

/** The results as a markdown table with the ratios xnat/direct and xnat/ssh. */
export function formatTable(rows: readonly Row[]): string {
  const head = ['measure', 'metric', 'unit', 'better', 'direct', 'ssh -R', 'xnat', 'xnat/direct', 'xnat/ssh'];
  const body = rows.map((r) => [
    r.measure,
    r.metric,
    r.unit,
    r.better,
    fmt(r.values.direct),
    fmt(r.values.ssh),
    fmt(r.values.xnat),
    ratio(r.values.xnat, r.values.direct),
    ratio(r.values.xnat, r.values.ssh),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

/** Runs one measure as a script: parses argv, prints its table, stops every process, sets the exit code. */
export async function main(name: string, measure: Measure): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  try {
    const rows = await measure({
      quick: args.quick,
      paths: args.paths,
      log: (l) => process.stderr.write(`[${name}] ${l}\n`),
    });
    process.stdout.write(`${formatTable(rows)}\n`);
  } catch (err) {
    process.stderr.write(
      `[${name}] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  } finally {
    await stopAll();
  }
}

/** True when the module at `url` is the script node was started with. */
export function isMain(url: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && url === pathToFileURL(resolve(entry)).href;
}

/**
 * Runs `body` for each path in order; a path that throws is logged and gets "failed" in every one of
 * `cells`, and the next path still runs (one broken path must not hide the others' numbers).
 */
export async function eachPath(
  options: MeasureOptions,
  cells: ReadonlyArray<Row['values']>,
  body: (name: PathName) => Promise<void>,
): Promise<void> {
  for (const name of options.paths) {
    try {
      await body(name);
    } catch (err) {
      options.log(`${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      for (const c of cells) c[name] = 'failed';
    }
  }
}
