// Entry point of the single-file bundle (dist/xnat.mjs) and the single executable: runs the CLI from argv.
// Unlike bin/xnat.js it never looks for sources or dist/: esbuild inlines everything it imports.
import { run } from '../src/cli/main.ts';

await run(process.argv.slice(2));
