// The npm package as a user gets it: `npm pack` in a copy of the checkout (its prepare script builds
// dist/), `npm install -g --prefix EMPTY --offline` of the tarball, then the installed `xnat demo
// --no-dashboard` serves curl. The install must pull no package: no tsx, no esbuild, nothing to fetch.
import ava from 'ava';
import { cpSync, existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, waitFor } from '../helpers/procs.ts';
import { TestEnv, programsAvailable, requirePrograms } from '../e2e/lib/env.ts';
import { execFileAsync } from '../e2e/lib/programs.ts';

const test = programsAvailable('curl', 'npm') ? ava.serial : ava.skip;

/** What `npm pack` needs of a checkout (tests, git metadata and node_modules stay behind). */
const PACKED_FROM = [
  'package.json',
  'package-lock.json',
  'README.md',
  'LICENSE',
  'bin',
  'src',
  'scripts',
  'profiles',
  'docs',
  'tsconfig.json',
];

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: Array<{ path: string }>;
}

test('npm pack, installed into an empty prefix offline, runs xnat demo and curl reaches the service', async (t) => {
  requirePrograms('curl', 'npm');
  t.timeout(180_000);
  const env = new TestEnv(t);
  const checkout = env.path('checkout');
  mkdirSync(checkout);
  for (const p of PACKED_FROM) cpSync(join(REPO_ROOT, p), join(checkout, p), { recursive: true });
  // The build tools come from the real checkout; the copy keeps this test off the checkout's own dist/.
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(checkout, 'node_modules'));

  const npmEnv = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false' };
  const { stdout: packJson } = await execFileAsync('npm', ['pack', '--json', '--pack-destination', env.dir], {
    cwd: checkout,
    env: npmEnv,
    maxBuffer: 16 << 20,
  });
  const [pack] = JSON.parse(packJson.slice(packJson.indexOf('['))) as PackResult[];
  const files = pack!.files.map((f) => f.path);
  t.log(
    `${pack!.filename}: ${(pack!.size / 1024).toFixed(0)} KiB packed, ${(pack!.unpackedSize / 1024).toFixed(0)} KiB unpacked, ${files.length} files`,
  );
  t.true(files.includes('dist/cli/main.js'));
  t.true(files.includes('dist/xnat.mjs'));
  t.true(files.includes('LICENSE'));
  t.false(
    files.some((f) => f.startsWith('src/') || f.startsWith('test/')),
    'sources stay out of the package',
  );

  const prefix = env.path('prefix');
  mkdirSync(prefix);
  await execFileAsync(
    'npm',
    [
      'install',
      '-g',
      '--prefix',
      prefix,
      '--offline',
      '--no-audit',
      '--no-fund',
      join(env.dir, pack!.filename),
    ],
    { cwd: env.dir, env: npmEnv },
  );
  const installed = join(prefix, 'lib', 'node_modules', 'xnat');
  t.true(existsSync(join(installed, 'dist', 'cli', 'main.js')));
  const pulled = existsSync(join(installed, 'node_modules'))
    ? readdirSync(join(installed, 'node_modules'))
    : [];
  t.deepEqual(pulled, [], 'the installed package depends on nothing (tsx and esbuild included)');

  // The shim npm wrote (shebang and all), as a user's shell runs it.
  const xnat = join(prefix, 'bin', 'xnat');
  const { stdout: version } = await execFileAsync(xnat, ['--version'], { cwd: env.dir });
  t.regex(version, /^\d+\.\d+\.\d+\n$/);

  const demo = env.start(['demo', '--no-dashboard', '--log-level', 'info'], {
    script: xnat,
    cwd: env.dir,
    name: 'installed demo',
  });
  let url = '';
  await waitFor(
    () => {
      const line = demo.otherLines.find((l) => l.includes('curl http://'));
      url = /curl (http:\/\/127\.0\.0\.1:\d+\/)/.exec(line ?? '')?.[1] ?? '';
      return url !== '' || demo.exit !== undefined;
    },
    30_000,
    'the demo banner',
  );
  t.not(url, '', demo.tail());
  const { stdout } = await execFileAsync('curl', ['-sS', '--max-time', '10', url]);
  t.regex(stdout, /hello from the LAN service behind xnat/);
  demo.kill('SIGINT');
  t.is((await demo.exited).code, 0);
});
