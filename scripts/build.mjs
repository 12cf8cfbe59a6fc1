#!/usr/bin/env node
// Builds what the package runs: dist/cli/ (the CLI, one chunk per lazily loaded command) and dist/xnat.mjs
// (the same in one file); both carry their npm dependencies, so neither needs node_modules at run time.
// It does not typecheck: `npm run typecheck` (tsc) does; esbuild only strips types, in about a second.
//   node scripts/build.mjs                  dist/cli/ and dist/xnat.mjs
//   node scripts/build.mjs --bundle FILE    only the single file, written to FILE (tests, npm run sea)
import { build } from 'esbuild';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
/** Written last: bin/xnat.js runs dist/ only while this stamp is newer than every file under src/. */
const STAMP = join(DIST, '.build-stamp');

/**
 * CommonJS dependencies (pino, yaml, commander...) call require() on Node built-ins, which an ES module
 * lacks: every output file gets one.
 */
const REQUIRE_BANNER = [
  "import { createRequire as __xnatCreateRequire } from 'node:module';",
  'const require = __xnatCreateRequire(import.meta.url);',
].join('\n');

/**
 * ink imports the optional react-devtools-core (not installed) only when DEV=true. Left external, its
 * import would be hoisted to the top of a chunk and fail at start: it becomes a stub that says so.
 */
const devtoolsStub = {
  name: 'react-devtools-core-stub',
  setup(b) {
    b.onResolve({ filter: /^react-devtools-core$/ }, () => ({
      path: 'react-devtools-core',
      namespace: 'stub',
    }));
    b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
      contents:
        "const no = () => { throw new Error('react-devtools-core is not part of the xnat build'); };\n" +
        'export default { initialize: no, connectToDevTools: no };\n',
      loader: 'js',
    }));
  },
};

/**
 * yaml's ES module build (the package's "browser" entry: the same version and code as its CommonJS "node"
 * entry, which logs warnings with console.warn rather than process.emitWarning) lets esbuild drop what xnat
 * does not use: 50 KB less for every command that reads a profile, about 4 ms of `xnat check`.
 */
const YAML_ESM = './node_modules/yaml/browser/index.js';

/**
 * ink's frame-to-string step goes through scripts/ansi-tokenize-lean.mjs (the same results as
 * @alcalzone/ansi-tokenize with a fraction of the garbage: it keeps the dashboard's memory down; that
 * module imports the package by path), and its text widths through scripts/ink-text-width-lean.mjs.
 */
const leanAnsiTokenize = {
  name: 'ansi-tokenize-lean',
  setup(b) {
    b.onResolve({ filter: /^@alcalzone\/ansi-tokenize$/ }, () => ({
      path: join(ROOT, 'scripts', 'ansi-tokenize-lean.mjs'),
    }));
    // Widths of ink's texts, kept for recent frames only (scripts/ink-text-width-lean.mjs).
    b.onResolve({ filter: /^widest-line$/ }, () => ({
      path: join(ROOT, 'scripts', 'ink-widest-line-lean.mjs'),
    }));
    b.onResolve({ filter: /^\.\/measure-text\.js$/ }, (args) =>
      args.importer.includes(`${join('node_modules', 'ink')}`)
        ? { path: join(ROOT, 'scripts', 'ink-measure-text-lean.mjs') }
        : undefined,
    );
  },
};

/**
 * yoga-layout's Emscripten loader turns its embedded wasm (a data: URL) into bytes with fetch() wherever a
 * global fetch exists, as on Node 18+: that first call loads Node's undici and with it http, tls, http2,
 * zlib, worker_threads and web streams, about 6 MiB of a dashboard that never makes an HTTP request. The
 * loader's own synchronous decoder (its fallback when fetch fails) gives the same bytes: the build makes it
 * take that path. The text is matched exactly; a yoga-layout whose loader reads differently fails the build.
 */
const YOGA_FETCH = 'function ya(){return w||"function"!=typeof fetch?';
const yogaWithoutFetch = {
  name: 'yoga-without-fetch',
  setup(b) {
    b.onLoad({ filter: /yoga-layout[\\/]dist[\\/]binaries[\\/]yoga-wasm-base64-esm\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes(YOGA_FETCH)) {
        throw new Error(`${args.path}: its wasm loader changed; see yogaWithoutFetch in scripts/build.mjs`);
      }
      return { contents: text.replace(YOGA_FETCH, 'function ya(){return true?'), loader: 'js' };
    });
  },
};

const common = {
  absWorkingDir: ROOT,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  bundle: true,
  jsx: 'automatic',
  logLevel: 'warning',
  legalComments: 'none',
  plugins: [devtoolsStub, leanAnsiTokenize, yogaWithoutFetch],
  alias: { yaml: YAML_ESM },
  define: { 'process.env.NODE_ENV': '"production"' },
};

/**
 * dist/cli/main.js plus chunks: each command module that main.ts imports lazily becomes its own chunk, so
 * `xnat --version` parses a few kilobytes, not ink. Built beside and swapped in, so a bin/ process
 * starting during a build sees the old tree or the new one, never half of one.
 */
async function buildCli() {
  const next = join(DIST, '.cli-next');
  rmSync(next, { recursive: true, force: true });
  const result = await build({
    ...common,
    entryPoints: { main: 'src/cli/main.ts' },
    outdir: next,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    banner: { js: REQUIRE_BANNER },
    // Whitespace and syntax minified, names kept: a stack trace still names its functions, and
    // `node --enable-source-maps` maps it to src/ file:line through the .map files beside the chunks.
    // The source text stays resident in every relay and agent: 0.9 MiB less RSS at rest than unminified.
    minifySyntax: true,
    minifyWhitespace: true,
    sourcemap: 'linked',
    sourcesContent: false,
    metafile: true,
  });
  const old = join(DIST, '.cli-old');
  rmSync(old, { recursive: true, force: true });
  try {
    renameSync(join(DIST, 'cli'), old);
  } catch {
    // first build: nothing to move aside
  }
  renameSync(next, join(DIST, 'cli'));
  rmSync(old, { recursive: true, force: true });
  // The metafile names the folder the build wrote to; name the one it now lives in.
  return JSON.parse(JSON.stringify(result.metafile).replaceAll('dist/.cli-next/', 'dist/cli/'));
}

/** One ES module with everything in it, minified (it is copied to small devices). */
async function buildBundle(outfile) {
  const result = await build({
    ...common,
    entryPoints: ['bin/bundle-entry.ts'],
    outfile,
    banner: { js: `#!/usr/bin/env node\n${REQUIRE_BANNER}` },
    minify: true,
    metafile: true,
  });
  return result.metafile;
}

/** The license text of every npm package in the build (MIT and friends require the notice to travel). */
function thirdPartyNotices(metafile) {
  const packages = new Map();
  for (const input of Object.keys(metafile.inputs)) {
    const m = /^(?:.*\/)?node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) packages.set(m[1], join(ROOT, input.slice(0, m.index + m[0].length)));
  }
  const parts = [...packages]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, dir]) => {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      return `## ${name} ${pkg.version} (${pkg.license ?? 'see text'})\n\n${licenseText(dir) ?? '(no license file in the package)'}\n`;
    });
  return `# Third-party notices\n\nxnat's build (dist/cli/, dist/xnat.mjs) contains these npm packages.\n\n${parts.join('\n')}`;
}

function licenseText(dir) {
  for (const name of [
    'LICENSE',
    'LICENSE.md',
    'LICENSE.txt',
    'license',
    'license.md',
    'LICENCE',
    'LICENSE-MIT',
  ]) {
    try {
      return readFileSync(join(dir, name), 'utf8').trim();
    } catch {
      // try the next spelling
    }
  }
  return undefined;
}

const started = Date.now();
const at = process.argv.indexOf('--bundle');
if (at !== -1) {
  const outfile = resolve(process.argv[at + 1] ?? join(DIST, 'xnat.mjs'));
  mkdirSync(dirname(outfile), { recursive: true });
  const meta = await buildBundle(outfile);
  writeFileSync(join(dirname(outfile), 'THIRD-PARTY-NOTICES.md'), thirdPartyNotices(meta));
} else {
  mkdirSync(DIST, { recursive: true });
  rmSync(STAMP, { force: true });
  const meta = await buildCli();
  // Which sources and packages went into which chunk (outside dist/cli/: not shipped); tests read it.
  writeFileSync(join(DIST, 'cli-meta.json'), JSON.stringify(meta));
  await buildBundle(join(DIST, 'xnat.mjs'));
  writeFileSync(join(DIST, 'THIRD-PARTY-NOTICES.md'), thirdPartyNotices(meta));
  writeFileSync(STAMP, `${new Date().toISOString()}\n`);
}
if (!process.argv.includes('--quiet')) process.stdout.write(`built in ${Date.now() - started} ms\n`);
