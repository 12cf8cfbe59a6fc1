// Enforces design.md section 4: a module imports only from layers below it and from its own folder.
import test from 'ava';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';

const SRC = resolve(import.meta.dirname, '..', 'src');

/** Level of each top-level entry of src/ (folders and root files). */
const LEVEL: Record<string, number> = {
  'errors.ts': 0,
  util: 0,
  wire: 1,
  config: 1,
  observe: 1,
  crypto: 2,
  transport: 2,
  // One Noise-secured link: handshake, records, keepalive, rekey (design.md section 4, L2.5).
  link: 2.5,
  session: 3,
  mux: 4,
  command: 5,
  protocol: 5.5,
  forward: 6,
  relay: 7,
  agent: 7,
  // The public API (embedding): above relay and agent, below admin, tui and cli (design.md section 4).
  api: 7.5,
  admin: 8,
  tui: 8,
  cli: 9,
};

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : /\.tsx?$/.test(name) ? [p] : [];
  });
}

function area(file: string): string {
  return relative(SRC, file).split(/[\\/]/)[0]!;
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(
    /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g,
  )) {
    out.push((m[1] ?? m[2])!);
  }
  return out.filter((s) => s.startsWith('.'));
}

test('every src area has a level', (t) => {
  for (const name of readdirSync(SRC))
    t.true(name in LEVEL, `src/${name} has no level in design.md section 4`);
});

test('no upward imports, and relay and agent never import each other', (t) => {
  const violations: string[] = [];
  for (const file of walk(SRC)) {
    const from = area(file);
    for (const spec of importsOf(file)) {
      const target = resolve(dirname(file), spec);
      if (!target.startsWith(SRC)) {
        violations.push(`${relative(SRC, file)} imports outside src: ${spec}`);
        continue;
      }
      const to = area(target);
      if (to === from) continue;
      const lf = LEVEL[from] ?? -1;
      const lt = LEVEL[to] ?? 99;
      if (lt > lf || (lt === lf && from !== to))
        violations.push(`${relative(SRC, file)} (L${lf}) imports ${to} (L${lt})`);
    }
  }
  t.deepEqual(violations, []);
});

test('the link layer sits between crypto and session: crypto never imports link, link never imports session', (t) => {
  const wrong: string[] = [];
  for (const file of walk(SRC)) {
    const from = area(file);
    for (const spec of importsOf(file)) {
      const to = area(resolve(dirname(file), spec));
      if ((from === 'crypto' && to === 'link') || (from === 'link' && (to === 'session' || to === 'mux')))
        wrong.push(`${relative(SRC, file)} imports ${to}`);
    }
  }
  t.deepEqual(wrong, []);
  t.true(walk(join(SRC, 'link')).length >= 5, 'src/link/ holds the link');
  t.false(
    walk(join(SRC, 'crypto')).some((f) => /link/.test(relative(SRC, f))),
    'no link file left in crypto/',
  );
});
