#!/usr/bin/env node
// Entry point of the `xnat` command: runs the TypeScript sources through tsx in a checkout, dist/ when installed.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = `${root}src/cli/main.ts`;
let main;
if (existsSync(src)) {
  const { register } = await import('tsx/esm/api');
  register();
  main = await import(pathToFileURL(src).href);
} else {
  main = await import(pathToFileURL(`${root}dist/cli/main.js`).href);
}
await main.run(process.argv.slice(2));
