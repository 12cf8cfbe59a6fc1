// Files the profile loader reads are checked before they are read: not a regular file (/dev/zero, a
// FIFO, a directory) and over the cap (1 MiB profile, 4 KiB key file) each get their own typed error,
// with the path and never the content; `xnat check` exits 3 with it.
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProfile, MAX_PROFILE_BYTES } from '../../src/config/index.ts';
import { readBoundedFile } from '../../src/config/read-file.ts';
import { isXnatError, type ErrorCode, type XnatError } from '../../src/errors.ts';
import { TestEnv } from '../e2e/lib/env.ts';

const KEY_A = Buffer.alloc(32, 1).toString('base64');
const KEY_B = Buffer.alloc(32, 2).toString('base64');

/** A valid agent profile whose key comes from `keyLine` (line 3). */
const agentYaml = (keyLine = `  privateKey: "${KEY_A}"`) =>
  [
    'agent:',
    '  name: home',
    keyLine,
    'relays:',
    `  - { address: "relay.example.com:7000", publicKey: "${KEY_B}" }`,
    'mappings:',
    '  - { name: web, remotePort: 8080, local: "127.0.0.1:80" }',
    '',
  ].join('\n');

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'xnat-files-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function mkfifo(path: string): void {
  const r = spawnSync('mkfifo', [path]);
  if (r.status !== 0) throw new Error(`mkfifo failed: ${r.stderr.toString()}`);
}

function fails(t: ExecutionContext, fn: () => unknown, code: ErrorCode): XnatError {
  const err = t.throws(fn);
  t.true(
    isXnatError(err, code),
    `expected ${code}, got ${(err as XnatError | undefined)?.code}: ${err?.message}`,
  );
  return err as XnatError;
}

test('a profile that is /dev/zero, a FIFO or a directory: NOT_FILE, before a byte is read', (t) => {
  const dir = tempDir(t);
  const fifo = join(dir, 'fifo.yaml');
  mkfifo(fifo);
  const rssBefore = process.memoryUsage().rss;
  t.is(
    fails(t, () => loadProfile('/dev/zero', {}), 'XNAT_ERR_CONFIG_NOT_FILE').detail,
    '/dev/zero: a character device',
  );
  // A FIFO with no writer: refused at once, not a hang waiting for one.
  t.is(fails(t, () => loadProfile(fifo, {}), 'XNAT_ERR_CONFIG_NOT_FILE').detail, `${fifo}: a FIFO`);
  t.is(fails(t, () => loadProfile(dir, {}), 'XNAT_ERR_CONFIG_NOT_FILE').detail, `${dir}: a directory`);
  t.true(process.memoryUsage().rss - rssBefore < 64 * 1024 * 1024);
});

test('a profile over 1 MiB: TOO_LARGE without its content; exactly 1 MiB loads', (t) => {
  const dir = tempDir(t);
  const body = agentYaml();
  const exact = join(dir, 'exact.yaml');
  writeFileSync(exact, body + '#'.repeat(MAX_PROFILE_BYTES - body.length));
  t.is(loadProfile(exact, {}).kind, 'agent');
  const big = join(dir, 'big.yaml');
  writeFileSync(big, body + '# SECRET-MARKER\n'.repeat(MAX_PROFILE_BYTES / 16 + 1));
  const err = fails(t, () => loadProfile(big, {}), 'XNAT_ERR_CONFIG_TOO_LARGE');
  t.is(err.detail, `${big}: larger than ${MAX_PROFILE_BYTES} bytes`);
  t.false(err.message.includes('SECRET-MARKER'));
});

test('a privateKeyFile that is /dev/zero, a FIFO, a directory or over 4 KiB: its code, path and line', (t) => {
  const dir = tempDir(t);
  mkfifo(join(dir, 'fifo.key'));
  mkdirSync(join(dir, 'keys'));
  writeFileSync(join(dir, 'big.key'), `${KEY_A}\n${'#'.repeat(4096)}`);
  writeFileSync(join(dir, 'good.key'), `${KEY_A}\n`);
  const profile = (keyFile: string) => {
    const file = join(dir, 'agent.yaml');
    writeFileSync(file, agentYaml(`  privateKeyFile: "${keyFile}"`));
    return () => loadProfile(file, {});
  };
  const at = `${join(dir, 'agent.yaml')}:3 agent.privateKeyFile`;
  t.is(
    fails(t, profile('/dev/zero'), 'XNAT_ERR_CONFIG_NOT_FILE').detail,
    `${at}: /dev/zero is a character device`,
  );
  t.is(
    fails(t, profile('fifo.key'), 'XNAT_ERR_CONFIG_NOT_FILE').detail,
    `${at}: ${join(dir, 'fifo.key')} is a FIFO`,
  );
  t.is(
    fails(t, profile('keys'), 'XNAT_ERR_CONFIG_NOT_FILE').detail,
    `${at}: ${join(dir, 'keys')} is a directory`,
  );
  const big = fails(t, profile('big.key'), 'XNAT_ERR_CONFIG_TOO_LARGE');
  t.is(big.detail, `${at}: ${join(dir, 'big.key')} is larger than 4096 bytes`);
  t.false(big.message.includes(KEY_A));
  t.is(profile('good.key')().kind, 'agent');
});

test('readBoundedFile: a file whose size lies (/proc) is read whole up to the cap, no further', (t) => {
  const maps = readBoundedFile('/proc/self/maps', 1 << 20);
  t.true(maps.ok && maps.bytes.length > 4097, 'read past the first buffer');
  const small = readBoundedFile('/proc/self/maps', 1000);
  t.like(small, { ok: false, kind: 'too-large' });
  t.like(readBoundedFile('/nonexistent/xnat.yaml', 10), { ok: false, kind: 'io' });
});

test('xnat check exits 3 with NOT_FILE for /dev/zero and a FIFO, TOO_LARGE for a 2 MiB profile', async (t) => {
  const env = new TestEnv(t);
  const fifo = env.path('fifo.yaml');
  mkfifo(fifo);
  const big = env.write('big.yaml', agentYaml() + '#'.repeat(2 * 1024 * 1024));
  for (const [file, code] of [
    ['/dev/zero', 'XNAT_ERR_CONFIG_NOT_FILE'],
    [fifo, 'XNAT_ERR_CONFIG_NOT_FILE'],
    [big, 'XNAT_ERR_CONFIG_TOO_LARGE'],
  ] as const) {
    const p = await env.run(['check', '--profile', file]);
    t.is(p.exit?.code, 3, `${file}: ${p.stderr}`);
    t.true(p.stderr.startsWith(`error ${code}: `), p.stderr);
    t.true(p.stderr.includes(file), p.stderr);
  }
});
