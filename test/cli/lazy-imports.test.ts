// Start-up cost of the CLI: `xnat --version` loads no heavy module (ink, react, zod, pino, not even
// commander), neither from the sources (tsx) nor from the compiled dist/cli/; `xnat check` loads the
// profile's parser and schema but no logger, crypto, protocol or UI; `xnat dashboard --help` does load ink
// (the control).
// A module-load trace (test/fixtures/load-trace.mjs) records what each process loads.
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/procs.ts';
import { modulesFor, COMMANDS } from '../../src/cli/main.ts';

const run = promisify(execFile);
const HEAVY = /node_modules\/(ink|react|react-reconciler|zod|pino|pino-pretty|prom-client|yaml|commander)\//;
/** What `xnat check` has no use for: it parses and validates a profile, it logs, dials and draws nothing. */
const NOT_FOR_CHECK =
  /node_modules\/(ink|react|react-reconciler|pino|pino-pretty|sonic-boom|thread-stream|prom-client|@msgpack|@noble)\/|src\/(observe|crypto|link|mux|session|relay|agent|protocol|command|tui)\//;

/** A valid relay profile in a fresh folder (0600); returns its path and a cleanup. */
function relayProfile(): { file: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'xnat-trace-profile-'));
  const file = join(dir, 'relay.yaml');
  const key = Buffer.alloc(32, 7).toString('base64');
  writeFileSync(
    file,
    `relay:\n  listen: "127.0.0.1:0"\n  privateKey: "${key}"\nagents:\n  - name: a\n    publicKey: "${key}"\n    allow: ["20000/tcp"]\n`,
    { mode: 0o600 },
  );
  return { file, done: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs bin/xnat.js with the load trace on; returns the loaded URLs and stdout. */
async function traced(args: string[], env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'xnat-trace-'));
  const file = join(dir, 'trace');
  try {
    const { stdout } = await run(
      process.execPath,
      ['--import', './test/fixtures/load-trace.mjs', 'bin/xnat.js', ...args],
      { cwd: REPO_ROOT, env: { ...process.env, ...env, XNAT_LOAD_TRACE: file } },
    );
    return { stdout, urls: existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The npm-package sources inside the compiled files that were loaded (from esbuild's metafile). */
function compiledInputs(urls: string[]): string[] {
  const meta = JSON.parse(readFileSync(join(REPO_ROOT, 'dist', 'cli-meta.json'), 'utf8')) as {
    outputs: Record<string, { inputs: Record<string, unknown> }>;
  };
  const loaded = urls
    .filter((u) => u.startsWith('file:') && u.includes('/dist/cli/'))
    .map((u) => relative(REPO_ROOT, fileURLToPath(u)));
  return loaded.flatMap((out) => Object.keys(meta.outputs[out]?.inputs ?? {}));
}

test('modulesFor picks the one module of a subcommand, none for --version, all for help', (t) => {
  t.deepEqual(modulesFor(['--version']), []);
  t.deepEqual(modulesFor(['-V']), []);
  t.deepEqual(
    modulesFor(['agent', '--profile', 'x.yaml']).map((m) => m.names),
    [['relay', 'agent']],
  );
  t.is(modulesFor(['--help']), COMMANDS);
  t.is(modulesFor([]), COMMANDS);
  t.is(modulesFor(['no-such-command']), COMMANDS);
  const names = COMMANDS.flatMap((m) => m.names);
  t.is(new Set(names).size, names.length, 'a command name is registered twice');
});

test('xnat --version from the sources loads no ink, react, zod, pino or commander', async (t) => {
  const { stdout, urls } = await traced(['--version'], { XNAT_FROM_SOURCE: '1' });
  t.regex(stdout, /^\d+\.\d+\.\d+/);
  t.true(
    urls.some((u) => u.endsWith('/src/cli/main.ts')),
    'the trace saw the sources',
  );
  t.deepEqual(
    urls.filter((u) => HEAVY.test(u)),
    [],
  );
});

test('xnat dashboard --help from the sources does load ink (the trace sees heavy modules)', async (t) => {
  const { urls } = await traced(['dashboard', '--help'], { XNAT_FROM_SOURCE: '1' });
  t.true(urls.some((u) => /node_modules\/ink\//.test(u)));
});

test('xnat --version from dist/cli/ loads no chunk with ink, react, zod, pino or commander in it', async (t) => {
  if (!existsSync(join(REPO_ROOT, 'dist', 'cli-meta.json'))) {
    t.fail('dist/ is not built: run `npm run build` (npm test does)');
    return;
  }
  // XNAT_FROM_SOURCE unset: bin/xnat.js runs dist/ when it is fresh (npm test builds before ava).
  const { stdout, urls } = await traced(['--version']);
  t.regex(stdout, /^\d+\.\d+\.\d+/);
  if (!urls.some((u) => u.includes('/dist/cli/main.js'))) {
    t.log('dist/ is older than src/: bin/xnat.js ran the sources; run `npm run build` to check dist/');
    t.pass();
    return;
  }
  const inputs = compiledInputs(urls);
  t.true(
    inputs.some((i) => i.includes('src/cli/main.ts')),
    'the metafile names the chunks',
  );
  t.deepEqual(
    inputs.filter((i) => HEAVY.test(i)),
    [],
  );
  const dash = compiledInputs((await traced(['dashboard', '--help'])).urls);
  t.true(
    dash.some((i) => /node_modules\/ink\//.test(i)),
    'dashboard chunks carry ink',
  );
});

test('xnat check loads yaml and zod but no logger, crypto, protocol or UI (sources and dist/cli/)', async (t) => {
  const profile = relayProfile();
  try {
    const src = await traced(['check', profile.file], { XNAT_FROM_SOURCE: '1' });
    t.regex(src.stdout, /^ok: /);
    t.true(src.urls.some((u) => u.includes('/node_modules/yaml/')));
    t.deepEqual(
      src.urls.filter((u) => NOT_FOR_CHECK.test(u)),
      [],
    );
    if (!existsSync(join(REPO_ROOT, 'dist', 'cli-meta.json'))) {
      t.fail('dist/ is not built: run `npm run build` (npm test does)');
      return;
    }
    const dist = await traced(['check', profile.file]);
    t.regex(dist.stdout, /^ok: /);
    if (!dist.urls.some((u) => u.includes('/dist/cli/main.js'))) {
      t.log('dist/ is older than src/: bin/xnat.js ran the sources; run `npm run build` to check dist/');
      return;
    }
    const inputs = compiledInputs(dist.urls);
    t.true(inputs.some((i) => i.includes('node_modules/zod/')));
    t.deepEqual(
      inputs.filter((i) => NOT_FOR_CHECK.test(i)),
      [],
    );
  } finally {
    profile.done();
  }
});

test('the relay and agent chunk loads ink, react, prom-client, pino-pretty and @noble only through dynamic imports', (t) => {
  const file = join(REPO_ROOT, 'dist', 'cli-meta.json');
  if (!existsSync(file)) {
    t.fail('dist/ is not built: run `npm run build` (npm test does)');
    return;
  }
  const meta = JSON.parse(readFileSync(file, 'utf8')) as {
    outputs: Record<
      string,
      { inputs: Record<string, unknown>; imports?: Array<{ path: string; kind: string; external?: boolean }> }
    >;
  };
  const serve = Object.keys(meta.outputs).find((k) => /\/serve-[^/]+\.js$/.test(k));
  t.truthy(serve, 'a chunk for src/cli/serve.ts');
  // The chunks `xnat relay` loads before it runs anything: serve's static import closure.
  const closure = new Set<string>();
  const queue = [serve!];
  while (queue.length > 0) {
    const out = queue.pop()!;
    if (closure.has(out)) continue;
    closure.add(out);
    for (const i of meta.outputs[out]?.imports ?? []) {
      if (i.kind === 'import-statement' && !i.external) queue.push(i.path);
    }
  }
  const inputs = [...closure].flatMap((o) => Object.keys(meta.outputs[o]?.inputs ?? {}));
  t.deepEqual(
    inputs.filter((i) =>
      /node_modules\/(ink|react|react-reconciler|prom-client|pino-pretty|@noble)\//.test(i),
    ),
    [],
  );
});

/**
 * What `xnat dashboard` has no use for: a logger (pino, through the command endpoint's default) and the
 * profile code (yaml, the schema; --profile imports it when given) but for the limits it shares with the wire.
 */
const NOT_FOR_DASHBOARD =
  /node_modules\/(pino|pino-pretty|sonic-boom|thread-stream|yaml|prom-client)\/|src\/config\/(?!limits\.ts)/;

test('xnat dashboard loads ink but no pino, yaml or profile code (sources and dist/cli/)', async (t) => {
  const src = await traced(['dashboard', '--help'], { XNAT_FROM_SOURCE: '1' });
  t.true(src.urls.some((u) => /node_modules\/ink\//.test(u)));
  t.deepEqual(
    src.urls.filter((u) => NOT_FOR_DASHBOARD.test(u)),
    [],
  );
  if (!existsSync(join(REPO_ROOT, 'dist', 'cli-meta.json'))) {
    t.fail('dist/ is not built: run `npm run build` (npm test does)');
    return;
  }
  const dist = await traced(['dashboard', '--help']);
  if (!dist.urls.some((u) => u.includes('/dist/cli/main.js'))) {
    t.log('dist/ is older than src/: bin/xnat.js ran the sources; run `npm run build` to check dist/');
    return;
  }
  const inputs = compiledInputs(dist.urls);
  t.true(inputs.some((i) => /node_modules\/ink\//.test(i)));
  t.deepEqual(
    inputs.filter((i) => NOT_FOR_DASHBOARD.test(i)),
    [],
  );
});

test("dist/cli/'s dashboard chunks load none of Node's HTTP stack (yoga-layout's wasm is decoded without fetch)", async (t) => {
  const file = join(REPO_ROOT, 'dist', 'cli-meta.json');
  if (!existsSync(file)) {
    t.fail('dist/ is not built: run `npm run build` (npm test does)');
    return;
  }
  const meta = JSON.parse(readFileSync(file, 'utf8')) as { outputs: Record<string, { entryPoint?: string }> };
  const chunk = Object.keys(meta.outputs).find((k) => meta.outputs[k]?.entryPoint === 'src/cli/dashboard.ts');
  t.truthy(chunk, 'a chunk for src/cli/dashboard.ts');
  // Importing the chunk evaluates ink and yoga-layout (which instantiates its wasm at import).
  const script =
    `const before = new Set(process.moduleLoadList);` +
    `await import(${JSON.stringify(join(REPO_ROOT, chunk!))});` +
    `process.stdout.write(process.moduleLoadList.filter((m) => !before.has(m)).join('\\n'));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO_ROOT });
  const loaded = stdout.split('\n');
  t.true(
    loaded.some((m) => m === 'NativeModule tty'),
    'the list names the builtins the chunk loaded',
  );
  t.deepEqual(
    loaded.filter((m) =>
      /^NativeModule (http|https|http2|tls|zlib|worker_threads|internal\/deps\/undici)/.test(m),
    ),
    [],
  );
});
