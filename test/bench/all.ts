// Runs every benchmark script one after another (never in parallel: the machine has 2 cores), prints one
// table with ratios and writes docs/benchmarks.md. Run: npm run bench [-- --quick] [-- --only bulk,idle]
import { loadavg } from 'node:os';
import { run as bulk } from './bulk.ts';
import { run as connrate } from './connrate.ts';
import { run as dashboard } from './dashboard-rss.ts';
import { run as idle } from './idle.ts';
import { formatTable, parseArgs, type Measure, type Row } from './lib/measure.ts';
import { stopAll } from './lib/procs.ts';
import { renderReport, writeReport } from './lib/report.ts';
import { run as pingpong } from './pingpong.ts';
import { run as resume } from './resume.ts';
import { run as udpGame } from './udp-game.ts';

const MEASURES: ReadonlyArray<readonly [string, Measure]> = [
  ['bulk', bulk],
  ['pingpong', pingpong],
  ['connrate', connrate],
  ['idle', idle],
  ['resume', resume],
  ['udp-game', udpGame],
  ['dashboard', dashboard],
];

const argv = process.argv.slice(2);
const args = parseArgs(argv);
for (const name of args.only)
  if (!MEASURES.some(([n]) => n === name))
    throw new Error(`unknown measure ${name} (known: ${MEASURES.map(([n]) => n).join(', ')})`);
const started = performance.now();
const loadAtStart = loadavg()[0]!;
const rows: Row[] = [];
const notes: string[] = [];
try {
  for (const [name, measure] of MEASURES) {
    if (args.only.length > 0 && !args.only.includes(name)) continue;
    const log = (line: string): void => {
      process.stderr.write(`[${name}] ${line}\n`);
    };
    log(`start (${args.paths.join(', ')})`);
    try {
      rows.push(...(await measure({ quick: args.quick, paths: args.paths, log })));
    } catch (err) {
      // One broken measure must not hide the others' numbers.
      const text = err instanceof Error ? err.message.split('\n')[0]! : String(err);
      notes.push(`${name} failed: ${text}`);
      log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exitCode = 1;
    }
  }
} finally {
  await stopAll();
}
const seconds = (performance.now() - started) / 1000;
// Other work on the machine skews every figure; the load average says how much there was.
notes.push(
  `1-minute load average ${loadAtStart.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end (2 cores; above 2, other processes shared the CPU)`,
);
process.stdout.write(`${formatTable(rows)}\n`);
for (const n of notes) process.stdout.write(`${n}\n`);
// A full run documents itself; a quick or partial run would overwrite the real numbers with worse ones.
const write = args.write ?? (!args.quick && args.only.length === 0 && args.paths.length === 3);
if (write) {
  const command = `npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`;
  process.stderr.write(`wrote ${writeReport(renderReport(rows, command, notes, seconds))}\n`);
}
