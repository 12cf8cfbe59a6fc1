#!/usr/bin/env node
// Entry point of the `xnat` command. An installed package runs the compiled dist/cli/ (no src/ there); a
// checkout runs dist/cli/ while `npm run build` is newer than every source file, else the sources via tsx.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = `${root}src`;
const dist = `${root}dist/cli/main.js`;

/** The build stamp's mtime exceeds every source file's: dist/ is what the sources say (a few ms to check). */
function distIsFresh() {
  let built;
  try {
    built = statSync(`${root}dist/.build-stamp`).mtimeMs;
  } catch {
    return false;
  }
  for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && statSync(`${entry.parentPath}/${entry.name}`).mtimeMs > built) return false;
  }
  return true;
}

let main;
if (!existsSync(src) || (process.env.XNAT_FROM_SOURCE !== '1' && distIsFresh())) {
  main = await import(pathToFileURL(dist).href);
} else {
  // A checkout with edits since the last build: tsx (a devDependency) compiles the sources as they load.
  const { register } = await import('tsx/esm/api');
  register();
  main = await import(pathToFileURL(`${src}/cli/main.ts`).href);
}
await main.run(process.argv.slice(2));
