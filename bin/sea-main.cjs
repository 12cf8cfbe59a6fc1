// Main script of the single executable (npm run sea). Node 20 runs a single executable's main script as
// CommonJS and gives it no import(), while xnat is one ES module with top-level await: so this writes the
// embedded ES module (asset xnat.mjs) once to a private folder, named by its hash, and imports it from
// there through a one-line CommonJS file loaded with a real require. It knows nothing of xnat's commands.
/* global require -- CommonJS is what a Node 20 executable runs */
/* eslint-disable @typescript-eslint/no-require-imports */
const { getAsset } = require('node:sea');
const { createHash } = require('node:crypto');
const { mkdirSync, readFileSync, writeFileSync, renameSync, lstatSync } = require('node:fs');
const { createRequire } = require('node:module');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

const code = Buffer.from(getAsset('xnat.mjs'));
const hash = createHash('sha256').update(code).digest('hex').slice(0, 16);
const base = process.env.XNAT_SEA_CACHE || process.env.XDG_CACHE_HOME || tmpdir();
const dir = join(base, `xnat-sea-${typeof process.getuid === 'function' ? process.getuid() : 'user'}`);
mkdirSync(dir, { recursive: true, mode: 0o700 });
// Another user must not be able to plant code here: the folder must be ours and closed to others.
const st = lstatSync(dir);
if (
  !st.isDirectory() ||
  (typeof process.getuid === 'function' && st.uid !== process.getuid()) ||
  st.mode & 0o022
) {
  process.stderr.write(`error: ${dir} is not a private folder of this user; set XNAT_SEA_CACHE\n`);
  process.exit(1);
}

/** Writes `name` with `content` unless it already holds exactly that (atomic: write aside, rename). */
function ensure(name, content) {
  const file = join(dir, name);
  try {
    if (readFileSync(file).equals(content)) return file;
  } catch {
    // not there yet
  }
  const aside = `${file}.${process.pid}`;
  writeFileSync(aside, content, { mode: 0o600 });
  renameSync(aside, file);
  return file;
}

const bundleFile = ensure(`xnat-${hash}.mjs`, code);
const loader = ensure('import.cjs', Buffer.from('module.exports = (url) => import(url);\n'));
createRequire(loader)(loader)(pathToFileURL(bundleFile).href).catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(70);
});
