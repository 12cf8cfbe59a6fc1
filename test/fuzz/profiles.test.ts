// Fuzzing profiles: random YAML documents, YAML token soup, and random text and structure mutations of the
// example profiles in profiles/, with random environment overrides. Every outcome is a valid profile or a
// typed XNAT_ERR_CONFIG_* error, never another exception, and no secret (private key, psk, admin token, of
// the profile or the environment) in the error's text. Budget: XNAT_FUZZ_SECONDS / XNAT_FUZZ_RUNS (see
// fuzz-kit.ts); cases kept in test/fixtures/fuzz/profiles/.
import test from 'ava';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { parseProfile, redactProfile } from '../../src/config/index.ts';
import type { ErrorCode, XnatError } from '../../src/errors.ts';
import { applyEdits, byteEditArb } from '../wire/arbitraries.ts';
import { fuzzParams, fuzzTimeoutMs, loadFixtures, outcome } from './fuzz-kit.ts';

const CONFIG_CODES: readonly ErrorCode[] = [
  'XNAT_ERR_CONFIG_READ',
  'XNAT_ERR_CONFIG_YAML',
  'XNAT_ERR_CONFIG_INVALID',
  'XNAT_ERR_CONFIG_KEY_TEXT',
];

const PROFILES_DIR = join(import.meta.dirname, '..', '..', 'profiles');
const EXAMPLES = readdirSync(PROFILES_DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => readFileSync(join(PROFILES_DIR, f), 'utf8'));

/** Keys whose values are secrets, at any depth. */
const SECRET_KEYS = new Set(['privateKey', 'psk', 'token']);

/** The secret strings of a parsed document (values under SECRET_KEYS, at any depth). */
/** Secret values in a parsed document; `seen` because yaml turns a self-referencing alias (`&a [*a`) into a cycle. */
function secretsOf(doc: unknown, out: string[] = [], seen = new WeakSet<object>()): string[] {
  if (doc === null || typeof doc !== 'object' || seen.has(doc)) return out;
  seen.add(doc);
  if (Array.isArray(doc)) for (const v of doc) secretsOf(v, out, seen);
  else
    for (const [k, v] of Object.entries(doc)) {
      if (SECRET_KEYS.has(k) && typeof v === 'string') out.push(v);
      else secretsOf(v, out, seen);
    }
  return out;
}

const EXAMPLE_SECRETS = EXAMPLES.flatMap((text) => secretsOf(parse(text)));

// A folder with key files for privateKeyFile (relative paths resolve next to the profile's source).
const DIR = mkdtempSync(join(tmpdir(), 'xnat-fuzz-profiles-'));
const FILE_KEY = Buffer.alloc(32, 9).toString('base64');
writeFileSync(join(DIR, 'good.key'), `${FILE_KEY}\n`);
writeFileSync(join(DIR, 'bad.key'), 'not a key at all, but long enough to be mistaken for one\n');
const SOURCE = join(DIR, 'fuzzed.yaml');
test.after.always(() => rmSync(DIR, { recursive: true, force: true }));

/** The secrets a parsed profile holds, as text: its private key and psks (base64) and its admin token. */
function secretsOfProfile(p: unknown, out: string[] = []): string[] {
  if (Array.isArray(p)) for (const v of p) secretsOfProfile(v, out);
  else if (p !== null && typeof p === 'object' && !Buffer.isBuffer(p))
    for (const [k, v] of Object.entries(p)) {
      if (SECRET_KEYS.has(k) && Buffer.isBuffer(v)) out.push(...secretForms(v.toString('base64')));
      else if (SECRET_KEYS.has(k) && typeof v === 'string') out.push(...secretForms(v));
      else secretsOfProfile(v, out);
    }
  return out;
}

/** All text an error exposes, causes included. */
function errorText(err: XnatError): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let i = 0; e instanceof Error && i < 5; i++) {
    parts.push(e.message, String((e as XnatError).detail ?? ''), String((e as XnatError).hint ?? ''));
    e = e.cause;
  }
  return parts.join('\n');
}

/** The forms of a secret that must not show: itself and its base64 body without padding. */
function secretForms(s: string): string[] {
  const t = s.trim();
  return t.length < 8 ? [] : [t, t.replace(/=+$/, '')];
}

/**
 * Parses `text` with `env`: a valid profile (whose redacted form holds no secret) or a typed CONFIG error
 * without any secret in its text. Throws (for fast-check) otherwise.
 */
function check(text: string, env: NodeJS.ProcessEnv, extraSecrets: readonly string[] = []): 'ok' | ErrorCode {
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 100, logLevel: 'silent' });
  } catch {
    doc = undefined;
  }
  const secrets = [
    ...EXAMPLE_SECRETS,
    ...secretsOf(doc),
    ...[env['XNAT_PRIVATE_KEY'], env['XNAT_ADMIN_TOKEN']].filter((v): v is string => typeof v === 'string'),
    FILE_KEY,
    ...extraSecrets,
  ].flatMap(secretForms);
  // Nothing may go around the typed error: a process warning prints to stderr, source lines and all.
  const warnings: unknown[] = [];
  const emitWarning = process.emitWarning;
  process.emitWarning = ((w: unknown) => void warnings.push(w)) as typeof process.emitWarning;
  let r: ReturnType<typeof outcome<ReturnType<typeof parseProfile>>>;
  try {
    r = outcome(() => parseProfile(text, SOURCE, env), CONFIG_CODES, 'parseProfile');
  } finally {
    process.emitWarning = emitWarning;
  }
  if (warnings.length > 0) throw new Error(`parsing emitted a process warning: ${String(warnings[0])}`);
  if (r.ok) {
    const kind = (r.ok as { kind: string }).kind;
    if (kind !== 'relay' && kind !== 'agent') throw new Error(`profile of kind ${kind}`);
    const printed = JSON.stringify(redactProfile(r.ok));
    for (const s of secretsOfProfile(r.ok))
      if (printed.includes(s)) throw new Error('a secret survived redaction');
    return 'ok';
  }
  const shown = errorText(r.err);
  for (const s of secrets)
    if (shown.includes(s)) throw new Error(`${r.err.code} shows a secret: ${r.err.message.slice(0, 300)}`);
  return r.err.code;
}

// ---- arbitraries

const KEYS = [
  'relay',
  'agent',
  'agents',
  'relays',
  'mappings',
  'listen',
  'privateKey',
  'privateKeyFile',
  'resumeWindow',
  'publicHost',
  'handshakeTimeout',
  'maxPendingHandshakes',
  'name',
  'publicKey',
  'psk',
  'allow',
  'address',
  'protocol',
  'remotePort',
  'local',
  'idleTimeout',
  'reconnect',
  'initialDelay',
  'maxDelay',
  'admin',
  'token',
  'metrics',
  'tuning',
  'replayBuffer',
  'streamWindow',
  'maxStreams',
  'keepaliveInterval',
  'keepaliveTimeout',
  'cipher',
  'log',
  'level',
  '__proto__',
  'constructor',
  '<<',
];

const scalarArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    FILE_KEY,
    'AAAA',
    '',
    '0.0.0.0:7000',
    '[::1]:0',
    '127.0.0.1:99999',
    'host:',
    ':80',
    '8080/tcp',
    '20000-20100/udp',
    '5-1/tcp',
    '120s',
    '0ms',
    '25h',
    '8MiB',
    '1GiB',
    '64KiB',
    'tcp',
    'udp',
    'auto',
    'noble',
    'debug',
    'good.key',
    'bad.key',
    'missing.key',
    '.',
    'home',
    'a'.repeat(33),
    'x'.repeat(5000),
  ),
  fc.constantFrom(
    0,
    -1,
    1,
    65535,
    65536,
    2 ** 53,
    1.5,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    true,
    false,
    null,
  ),
  fc.string({ maxLength: 40 }),
  fc.integer(),
);

const valueArb: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalarArb,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 10 })), tie('value'), {
      maxKeys: 5,
    }),
  ),
})).value;

/** Random documents: a top-level relay or agent block with random insides, or anything at all. */
const randomDocArb: fc.Arbitrary<string> = fc
  .oneof(
    fc.record({ relay: valueArb, agents: valueArb }, { requiredKeys: ['relay'] }),
    fc.record(
      { agent: valueArb, relays: valueArb, mappings: valueArb, admin: valueArb, tuning: valueArb },
      { requiredKeys: ['agent'] },
    ),
    valueArb,
  )
  .map((doc) => {
    try {
      return stringify(doc);
    } catch {
      return String(doc);
    }
  });

const TOKENS = [
  ':',
  ': ',
  '-',
  '- ',
  '  ',
  '\n',
  '\t',
  '{',
  '}',
  '[',
  ']',
  ',',
  "'",
  '"',
  '&a ',
  '*a',
  '*b',
  '!!binary ',
  '!!str ',
  '!!int ',
  '!!map ',
  '!x ',
  '<<: *a',
  '? ',
  '|',
  '>',
  '#',
  '%YAML 1.2\n',
  '---\n',
  '...\n',
  'relay',
  'agent',
  'privateKey',
  FILE_KEY,
  '\\x00',
  '\\u',
  '\r',
  '\u00a0',
  '\uFEFF',
  'a',
  '1',
  '.inf',
  '~',
];
const soupArb: fc.Arbitrary<string> = fc
  .array(fc.constantFrom(...TOKENS), { maxLength: 60 })
  .map((t) => t.join(''));

/** A line edit of a text: delete, duplicate, swap with the next, re-indent, or replace a value. */
const lineEditArb = fc.record({
  op: fc.constantFrom('delete', 'dup', 'swap', 'indent', 'dedent', 'value'),
  at: fc.nat(),
  value: scalarArb.map((v) => (typeof v === 'string' ? JSON.stringify(v) : String(v))),
});

function editLines(text: string, edits: ReadonlyArray<{ op: string; at: number; value: string }>): string {
  const lines = text.split('\n');
  for (const e of edits) {
    if (lines.length === 0) break;
    const i = e.at % lines.length;
    const line = lines[i]!;
    if (e.op === 'delete') lines.splice(i, 1);
    else if (e.op === 'dup') lines.splice(i, 0, line);
    else if (e.op === 'swap' && i + 1 < lines.length) [lines[i], lines[i + 1]] = [lines[i + 1]!, line];
    else if (e.op === 'indent') lines[i] = `  ${line}`;
    else if (e.op === 'dedent') lines[i] = line.replace(/^ {1,2}/, '');
    else if (e.op === 'value') lines[i] = line.replace(/:\s.*$/, `: ${e.value}`);
  }
  return lines.join('\n');
}

const exampleArb = fc.constantFrom(...EXAMPLES);

/** Text mutations of the examples: line edits and byte edits. */
const textMutationArb: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(exampleArb, fc.array(lineEditArb, { minLength: 1, maxLength: 4 }))
    .map(([t, e]) => editLines(t, e)),
  fc
    .tuple(exampleArb, fc.array(byteEditArb, { minLength: 1, maxLength: 4 }))
    .map(([t, e]) => applyEdits(Buffer.from(t, 'utf8'), e).toString('utf8')),
);

/** A structure edit: at a path found by walking `steps`, set a value, delete the key, or add an unknown key. */
interface StructEdit {
  steps: number[];
  op: 'set' | 'delete' | 'add';
  value: unknown;
  key: string;
}

const structEditArb: fc.Arbitrary<StructEdit> = fc.record({
  steps: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
  op: fc.constantFrom('set' as const, 'delete' as const, 'add' as const),
  value: valueArb,
  key: fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 8 })),
});

function editStructure(text: string, edits: readonly StructEdit[]): string {
  const root = parse(text) as unknown;
  for (const e of edits) {
    let parent: Record<string | number, unknown> | undefined;
    let key: string | number | undefined;
    let node: unknown = root;
    for (const step of e.steps) {
      if (node === null || typeof node !== 'object') break;
      const keys: Array<string | number> = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
      if (keys.length === 0) break;
      parent = node as Record<string | number, unknown>;
      key = keys[step % keys.length]!;
      node = parent[key];
    }
    if (!parent || key === undefined) continue;
    if (e.op === 'set') parent[key] = e.value;
    else if (e.op === 'delete') {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
    } else if (!Array.isArray(parent)) {
      Object.defineProperty(parent, e.key, {
        value: e.value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  try {
    return stringify(root);
  } catch {
    return text;
  }
}

const structMutationArb: fc.Arbitrary<string> = fc
  .tuple(exampleArb, fc.array(structEditArb, { minLength: 1, maxLength: 3 }))
  .map(([t, e]) => editStructure(t, e));

const envArb: fc.Arbitrary<NodeJS.ProcessEnv> = fc.record(
  {
    XNAT_PRIVATE_KEY: fc.oneof(fc.constant(FILE_KEY), fc.constant(''), fc.string({ maxLength: 50 })),
    XNAT_ADMIN_TOKEN: fc.oneof(
      fc.constant('an-environment-token-0123'),
      fc.constant(''),
      fc.string({ maxLength: 30 }),
    ),
  },
  { requiredKeys: [] },
);

// ---- properties

test('random YAML documents and token soup: a profile or a typed CONFIG error without secrets', (t) => {
  t.timeout(fuzzTimeoutMs(1.5));
  fc.assert(
    fc.property(fc.oneof(randomDocArb, soupArb), envArb, (text, env) => {
      check(text, env);
    }),
    fuzzParams(1.5),
  );
  t.pass();
});

test('mutated example profiles (text and structure): a profile or a typed CONFIG error without secrets', (t) => {
  t.timeout(fuzzTimeoutMs(2));
  fc.assert(
    fc.property(fc.oneof(textMutationArb, structMutationArb), envArb, (text, env) => {
      check(text, env);
    }),
    fuzzParams(2),
  );
  t.pass();
});

test('sanity: every example profile parses, and its secrets are known to the checks', (t) => {
  for (const text of EXAMPLES) t.is(check(text, {}), 'ok');
  t.true(EXAMPLE_SECRETS.length >= 5);
});

// ---- kept cases

for (const fx of loadFixtures('profiles')) {
  test(`kept case ${fx.file}: ${fx.note}`, (t) => {
    const env = (fx['env'] as NodeJS.ProcessEnv | undefined) ?? {};
    t.is(check(fx.text ?? '', env, (fx['secrets'] as string[] | undefined) ?? []) as string, fx.expect);
  });
}
