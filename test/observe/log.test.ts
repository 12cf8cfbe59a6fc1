// The root logger's readable output: pino-pretty is imported only when readable lines are wanted, and a
// logger made before loadPrettyLogs() loses no line (queued until the import, raw JSON if the process exits
// first). Each case runs in a child process: the module's pretty state is per process.
import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/procs.ts';

const run = promisify(execFile);

/** Runs `body` as an ES module (with createRootLogger and loadPrettyLogs in scope); returns its stdout. */
async function child(body: string, env: Record<string, string> = {}): Promise<string> {
  const code = `import { createRootLogger, loadPrettyLogs } from './src/observe/log.ts';\n${body}`;
  const { stdout } = await run(process.execPath, ['--import=tsx', '--input-type=module', '-e', code], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env, NO_COLOR: '1', FORCE_COLOR: '0' },
    timeout: 60_000,
  });
  return stdout;
}

const jsonLines = (out: string): Array<Record<string, unknown>> =>
  out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test('loadPrettyLogs first: every line readable, in order, none JSON', async (t) => {
  const out = await child(
    `await loadPrettyLogs({ pretty: true });
     const log = createRootLogger({ pretty: true });
     log.info('one'); log.warn('two'); log.info({ privateKey: 'SECRET' }, 'three');`,
  );
  t.deepEqual(jsonLines(out), []);
  t.regex(out, /INFO.*one[\s\S]*WARN.*two[\s\S]*INFO.*three/);
  t.notRegex(out, /SECRET/);
});

test('a pretty logger made before the import queues its first lines and writes them readable, in order', async (t) => {
  const out = await child(
    `const log = createRootLogger({ pretty: true });
     log.info('one'); log.info('two');
     setTimeout(() => log.info('three'), 200);`,
  );
  t.deepEqual(jsonLines(out), []);
  t.regex(out, /INFO.*one[\s\S]*INFO.*two[\s\S]*INFO.*three/);
});

test('a process that exits before the import loaded still writes its queued lines (as JSON)', async (t) => {
  const out = await child(
    `const log = createRootLogger({ pretty: true });
     log.error({ token: 'SECRET' }, 'fatal before pretty loaded');
     process.exit(0);`,
  );
  const lines = jsonLines(out);
  t.is(lines.length, 1);
  t.is(lines[0]!.msg, 'fatal before pretty loaded');
  t.is(lines[0]!.token, '[redacted]');
});

test('JSON output never imports pino-pretty', async (t) => {
  const out = await child(
    `await loadPrettyLogs();
     createRootLogger().info('json');
     const { createRequire } = await import('node:module');
     const req = createRequire(import.meta.url);
     const loaded = Object.keys(req.cache).some((k) => k.includes('/node_modules/pino-pretty/'));
     console.log(JSON.stringify({ msg: 'loaded', loaded }));`,
    { XNAT_LOG_FORMAT: 'json' },
  );
  const lines = jsonLines(out);
  t.true(lines.some((l) => l.msg === 'json'));
  t.deepEqual(
    lines.find((l) => l.msg === 'loaded'),
    { msg: 'loaded', loaded: false },
  );
});
