#!/usr/bin/env node
// Start-up benchmark (issue 10): median of 10 runs, from spawn to the first byte on stdout, of
// `xnat --version` and `xnat check`, and from spawn to a relay's `listening` line. Runs bin/xnat.js (the
// compiled dist/ once `npm run build` is fresh) or, with --bin FILE, another build (dist/xnat.mjs).
// Also runs hyperfine for the two one-shot commands when it is installed. A script, not a test.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = 10;
const at = process.argv.indexOf('--bin');
const bin = at === -1 ? join(ROOT, 'bin', 'xnat.js') : process.argv[at + 1];

/**
 * CPU time (user + system, ms) a live process has used, from /proc (Linux; undefined elsewhere): on a
 * loaded machine it says more than the wall clock. Clock ticks are 10 ms on Linux.
 */
function cpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** Milliseconds from spawn until `done(text so far)` is true on stdout; the process is then killed. */
function timeUntil(args, done, argv = [bin, ...args]) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, argv, {
      cwd: ROOT,
      env: { ...process.env, XNAT_LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let text = '';
    let ms;
    child.stdout.on('data', (b) => {
      text += b;
      if (ms === undefined && done(text)) {
        ms = Number(process.hrtime.bigint() - started) / 1e6;
        lastCpuMs = cpuMs(child.pid);
        child.kill('SIGKILL');
      }
    });
    child.on('close', () =>
      ms === undefined ? reject(new Error(`${args.join(' ')}: ${text}`)) : resolve(ms),
    );
  });
}

let lastCpuMs;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2;
};

async function bench(name, args, done, argv) {
  await timeUntil(args, done, argv); // warm-up: file cache
  const times = [];
  const cpu = [];
  for (let i = 0; i < RUNS; i++) {
    times.push(await timeUntil(args, done, argv));
    if (lastCpuMs !== undefined) cpu.push(lastCpuMs);
  }
  const cpuText = cpu.length === RUNS ? `, CPU median ${median(cpu).toFixed(0)} ms` : '';
  process.stdout.write(
    `${name.padEnd(28)} median ${median(times).toFixed(0)} ms  (min ${Math.min(...times).toFixed(0)}, max ${Math.max(...times).toFixed(0)}, ${RUNS} runs${cpuText})\n`,
  );
}

const dir = mkdtempSync(join(tmpdir(), 'xnat-startup-'));
try {
  const keys = JSON.parse(
    spawnSync(process.execPath, [bin, 'keygen', '--json'], { encoding: 'utf8' }).stdout,
  );
  const relay = join(dir, 'relay.yaml');
  writeFileSync(
    relay,
    `relay:\n  listen: "127.0.0.1:0"\n  privateKey: "${keys.privateKey}"\nagents:\n  - name: a\n    publicKey: "${keys.publicKey}"\n    allow: ["20000/tcp"]\n`,
    { mode: 0o600 },
  );
  process.stdout.write(`node ${process.version}, ${bin}\n`);
  await bench('node printing one byte', [], () => true, ['-e', 'process.stdout.write("x")']);
  await bench('xnat --version', ['--version'], (t) => t.length > 0);
  await bench('xnat check', ['check', '--profile', relay], (t) => t.length > 0);
  await bench('xnat relay until listening', ['relay', '--profile', relay], (t) => t.includes('"listening"'));
  if (spawnSync('hyperfine', ['--version']).status === 0) {
    const cmd = (a) => `${process.execPath} ${bin} ${a}`;
    spawnSync(
      'hyperfine',
      [
        '-N',
        '--warmup',
        '2',
        '--runs',
        String(RUNS),
        '--style',
        'basic',
        cmd('--version'),
        cmd(`check --profile ${relay}`),
      ],
      { stdio: 'inherit' },
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
