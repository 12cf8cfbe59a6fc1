// Smoke test of the benchmark scripts: each runs in --quick mode on the direct and xnat paths, completes
// and prints a table with numbers. It never asserts a timing; ssh -R is left to real runs.
import test from 'ava';
import { execFile, execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const REPO_ROOT = resolve(import.meta.dirname, '..');
/** A quick script run that takes longer than this is stuck, not slow, in milliseconds. */
const SCRIPT_TIMEOUT_MS = 100_000;

function hasIperf3(): boolean {
  try {
    execFileSync('iperf3', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface TableRow {
  measure: string;
  metric: string;
  direct: string;
  xnat: string;
}

/** Rows of the markdown table a script prints (header and rule dropped). */
function parseTable(stdout: string): TableRow[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('|') && !l.startsWith('|-'))
    .slice(1)
    .map((l) => {
      const c = l.split('|').map((x) => x.trim());
      return { measure: c[1]!, metric: c[2]!, direct: c[5]!, xnat: c[7]! };
    });
}

const isNumber = (text: string): boolean => text !== '' && Number.isFinite(Number(text));

async function runScript(script: string): Promise<TableRow[]> {
  const { stdout } = await execFileP(
    process.execPath,
    ['--import=tsx', `test/bench/${script}.ts`, '--quick', '--paths', 'direct,xnat'],
    { cwd: REPO_ROOT, timeout: SCRIPT_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 },
  );
  return parseTable(stdout);
}

// Serial: each script already keeps both cores busy.
for (const script of ['bulk', 'pingpong', 'connrate', 'idle', 'resume', 'udp-game', 'dashboard-rss']) {
  test.serial(`bench ${script} --quick completes and prints numbers`, async (t) => {
    if (script === 'bulk' && !hasIperf3()) {
      if (process.env.CI) t.fail('iperf3 is not installed (apt-get install -y iperf3)');
      else t.pass('iperf3 is not installed here; bulk not run');
      return;
    }
    const rows = await runScript(script);
    t.true(rows.length > 0, 'a table was printed');
    for (const row of rows) {
      t.is(row.measure, script.replace(/-rss$/, ''));
      if (row.metric.includes('SHA-256')) {
        t.is(row.xnat, 'intact', `${row.metric}: the download survived the cut intact`);
        continue;
      }
      t.true(isNumber(row.xnat), `${row.metric}: xnat value "${row.xnat}" is a number`);
      // The direct path has no middle processes (idle, CPU, RSS) and no link to cut (resume).
      t.true(
        isNumber(row.direct) || row.direct === 'n/a' || row.direct === '-',
        `${row.metric}: direct "${row.direct}"`,
      );
    }
  });
}
