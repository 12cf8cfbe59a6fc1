#!/usr/bin/env node
// `npm run sea`: a single executable (dist/xnat, this machine's node with xnat inside) from the bundle,
// through Node's single executable applications and postject. Node 20: the blob's main is CommonJS,
// bin/sea-main.cjs, which runs the bundle (an asset). The executable runs only where this node would.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'postject';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = process.argv[2] ?? join(ROOT, 'dist', 'xnat');
/** The bundle, config and blob; beside the output, so `npm run sea -- FILE` writes nothing in dist/. */
const WORK = join(dirname(OUT), '.sea-build');
/** The fuse Node's binary carries for SEA (documented in Node's single-executable-applications page). */
const SENTINEL_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

rmSync(WORK, { recursive: true, force: true });
mkdirSync(WORK, { recursive: true });
execFileSync(
  process.execPath,
  [join(ROOT, 'scripts', 'build.mjs'), '--bundle', join(WORK, 'xnat.mjs'), '--quiet'],
  {
    stdio: 'inherit',
  },
);
const config = join(WORK, 'sea-config.json');
writeFileSync(
  config,
  JSON.stringify({
    main: join(ROOT, 'bin', 'sea-main.cjs'),
    output: join(WORK, 'sea-prep.blob'),
    disableExperimentalSEAWarning: true,
    assets: { 'xnat.mjs': join(WORK, 'xnat.mjs') },
  }),
);
execFileSync(process.execPath, ['--experimental-sea-config', config], {
  stdio: ['ignore', 'ignore', 'inherit'],
});
mkdirSync(dirname(OUT), { recursive: true });
copyFileSync(process.execPath, OUT);
chmodSync(OUT, 0o755);
await inject(OUT, 'NODE_SEA_BLOB', readFileSync(join(WORK, 'sea-prep.blob')), {
  sentinelFuse: SENTINEL_FUSE,
});
rmSync(WORK, { recursive: true, force: true });
process.stdout.write(`wrote ${OUT}\n`);
