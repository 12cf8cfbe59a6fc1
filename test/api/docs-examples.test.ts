// Runs every `ts` block of docs/api.md as a program (importing 'xnat' from src/api/) and compares its
// output with the `text` block under it. It knows nothing of what the examples do.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/procs.ts';

const run = promisify(execFile);
const DOC = join(REPO_ROOT, 'docs', 'api.md');
// Inside node_modules so the examples resolve zod and friends as the package's own code does.
const WORK = join(REPO_ROOT, 'node_modules', '.cache', 'xnat-docs-examples');
const API = pathToFileURL(resolve(REPO_ROOT, 'src', 'api', 'index.ts')).href;

interface Example {
  readonly line: number;
  readonly code: string;
  readonly output: string | undefined;
}

function examples(): Example[] {
  const text = readFileSync(DOC, 'utf8');
  const blocks = [...text.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].map((m) => ({
    lang: m[1]!,
    body: m[2]!,
    line: text.slice(0, m.index).split('\n').length,
  }));
  const out: Example[] = [];
  blocks.forEach((b, i) => {
    if (b.lang !== 'ts') return;
    const next = blocks[i + 1];
    out.push({ line: b.line, code: b.body, output: next?.lang === 'text' ? next.body : undefined });
  });
  return out;
}

test('docs/api.md has examples', (t) => {
  t.true(examples().length >= 4);
});

for (const ex of examples()) {
  test(`docs/api.md example at line ${ex.line} runs and prints what the doc says`, async (t) => {
    mkdirSync(WORK, { recursive: true });
    const file = join(WORK, `example-${ex.line}.mts`);
    writeFileSync(file, ex.code.replaceAll(`from 'xnat'`, `from '${API}'`));
    const { stdout } = await run(process.execPath, ['--import=tsx', file], {
      cwd: REPO_ROOT,
      timeout: 120_000,
    });
    if (ex.output === undefined) return t.fail('each example is followed by its output');
    t.is(stdout, ex.output);
  });
}
