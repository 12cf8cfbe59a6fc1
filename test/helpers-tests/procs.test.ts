// Tests of test/helpers/procs.ts against the fixture test/fixtures/json-lines.mjs.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { createConnection } from 'node:net';
import { REPO_ROOT, killAll, runningProcesses, startProcess, waitFor } from '../helpers/procs.ts';

const FIXTURE = 'test/fixtures/json-lines.mjs';
const run = (...steps: string[]) => startProcess(steps, { script: FIXTURE, name: 'fixture' });

test.after.always(() => killAll());

test('parses JSON lines, keeps other lines apart, captures stderr and the exit code', async (t) => {
  const p = run(
    'log:{"msg":"a","n":1}',
    'text:not json',
    'split:{"msg":"b","deep":{"x":[1,2]}}',
    'stderr:oops',
    'exit:3',
  );
  t.deepEqual(await p.exited, { code: 3, signal: null });
  t.deepEqual(
    p.logs.map((l) => l.msg),
    ['a', 'b'],
  );
  t.deepEqual(p.otherLines, ['not json']);
  t.is(p.stderr, 'oops\n');
});

test('waitForLog matches fields deeply, including lines already seen', async (t) => {
  const p = run('log:{"msg":"ready","role":"relay","ports":[1,2]}', 'stay');
  const first = await p.waitForLog({ msg: 'ready' }, 10_000);
  t.is(first.role, 'relay');
  // Already seen: resolves again from the kept lines.
  const again = await p.waitForLog({ msg: 'ready', ports: [1, 2] }, 10_000);
  t.is(again, first);
  const byPredicate = await p.waitForLog((l) => Array.isArray(l.ports), 10_000);
  t.is(byPredicate, first);
  p.kill('SIGTERM');
  await p.waitForLog({ msg: 'stopping' }, 10_000);
  t.deepEqual(await p.exited, { code: 0, signal: null });
});

test('waitForLog rejects when the process exits first, quoting stderr', async (t) => {
  const p = run('log:{"msg":"a"}', 'stderr:boom here', 'exit:2');
  const err = await t.throwsAsync(p.waitForLog({ msg: 'never' }, 10_000));
  t.regex(err!.message, /exited \(code 2\)/);
  t.regex(err!.message, /boom here/);
});

test('waitForLog rejects on timeout; a field with a different value does not match', async (t) => {
  const p = run('log:{"msg":"ready","port":1}', 'stay');
  await p.waitForLog({ msg: 'ready' }, 10_000);
  const err = await t.throwsAsync(p.waitForLog({ msg: 'ready', port: 2 }, 50));
  t.regex(err!.message, /no \{"msg":"ready","port":2\} within 50 ms/);
  await p.stop();
});

test('the listening line gives a usable port; env has XNAT_LOG_FORMAT=json and extra values', async (t) => {
  const p = startProcess(['env:XNAT_LOG_FORMAT', 'env:EXTRA', 'listen', 'stay'], {
    script: FIXTURE,
    env: { EXTRA: 'yes' },
  });
  t.is((await p.waitForLog({ msg: 'env', name: 'XNAT_LOG_FORMAT' }, 10_000)).value, 'json');
  t.is((await p.waitForLog({ msg: 'env', name: 'EXTRA' }, 10_000)).value, 'yes');
  const { port } = await p.waitForLog({ msg: 'listening' }, 10_000);
  const text = await new Promise<string>((resolve, reject) => {
    let got = '';
    createConnection({ port: port as number, host: '127.0.0.1' })
      .setEncoding('utf8')
      .on('data', (d: string) => (got += d))
      .on('end', () => resolve(got))
      .on('error', reject);
  });
  t.is(text, 'hello\n');
  t.deepEqual(await p.stop('SIGKILL'), { code: null, signal: 'SIGKILL' });
});

test.serial('killAll kills every running process and they leave the running list', async (t) => {
  const a = run('stay');
  const b = run('stay');
  await waitFor(() => a.pid !== undefined && b.pid !== undefined, 10_000, 'pids');
  t.true(runningProcesses().includes(a) && runningProcesses().includes(b));
  killAll();
  t.is((await a.exited).signal, 'SIGKILL');
  t.is((await b.exited).signal, 'SIGKILL');
  t.false(runningProcesses().includes(a));
});

test('processes started by a test process are killed when it exits', async (t) => {
  // test/fixtures/procs-parent.ts starts a long-running child through startProcess, prints its pid, exits.
  const parent = spawnSync(process.execPath, ['--import=tsx', 'test/fixtures/procs-parent.ts'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 30_000,
  });
  t.is(parent.status, 0, parent.stderr);
  const match = /^child (\d+)$/m.exec(parent.stdout);
  t.truthy(match, parent.stdout);
  const pid = Number(match![1]);
  await waitFor(() => !isAlive(pid), 10_000, `child ${pid} to be gone`);
  t.false(isAlive(pid));
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('waitFor resolves on a true condition and fails with its description on timeout', async (t) => {
  let n = 0;
  await waitFor(() => ++n >= 3, 10_000, 'three polls');
  t.is(n, 3);
  await waitFor(async () => Promise.resolve(true), 10_000, 'async');
  const err = await t.throwsAsync(waitFor(() => false, 30, 'the impossible'));
  t.regex(err!.message, /waiting for the impossible/);
});
