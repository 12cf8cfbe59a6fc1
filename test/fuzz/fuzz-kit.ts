// Shared kit of the fuzz tests: run counts and time budgets from the environment, outcome checks, fixtures.
// It knows no decoder. Not a test file itself (the *.test.ts files under test/fuzz/ use it).
//
// Budget: by default each property stops after its share of FUZZ_DEFAULT_MS or its run count, whichever
// comes first, so the whole set stays within ~20-30 s on 2 cores. To hunt for real cases locally:
//   XNAT_FUZZ_SECONDS=60 npx ava test/fuzz/   each property runs for 60 s (times its share), no run cap
//   XNAT_FUZZ_RUNS=100000 npx ava test/fuzz/  each property runs exactly that many times, no time cap
//   XNAT_FUZZ_SEED=1234                       replays a seed fast-check printed (with the path it printed)
// A case found this way is kept as a fixture under test/fixtures/fuzz/<decoder>/ (see loadFixtures).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type fc from 'fast-check';
import { ERRORS, XnatError, isErrorCode, type ErrorCode } from '../../src/errors.ts';

/** Default time budget of one property with share 1, in ms. */
export const FUZZ_DEFAULT_MS = 1000;
/** Default run cap of one property with share 1. */
export const FUZZ_DEFAULT_RUNS = 2000;

function envNumber(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${v}`);
  return n;
}

const SECONDS = envNumber('XNAT_FUZZ_SECONDS');
const RUNS = envNumber('XNAT_FUZZ_RUNS');
const SEED = envNumber('XNAT_FUZZ_SEED');
const PATH = process.env['XNAT_FUZZ_PATH'];

/** True when the environment asked for a longer run than CI's. */
export const FUZZ_LONG = SECONDS !== undefined || RUNS !== undefined;

/**
 * fast-check parameters for one property. `share` scales the default budget (a slow async property
 * gets fewer runs, a cheap pure one more); the environment overrides as described in the header.
 */
export function fuzzParams<T>(share = 1): fc.Parameters<T> {
  const seed = {
    // The failing input's own error in the report, not only the counterexample.
    includeErrorInReport: true,
    ...(SEED === undefined ? {} : { seed: SEED, ...(PATH === undefined ? {} : { path: PATH }) }),
  };
  if (RUNS !== undefined) return { numRuns: Math.ceil(RUNS * share), ...seed };
  const ms = (SECONDS === undefined ? FUZZ_DEFAULT_MS : SECONDS * 1000) * share;
  const runs = SECONDS === undefined ? Math.ceil(FUZZ_DEFAULT_RUNS * share) : Number.MAX_SAFE_INTEGER;
  return { numRuns: runs, interruptAfterTimeLimit: Math.ceil(ms), ...seed };
}

/** ava's timeout (t.timeout) for a fuzz test of `share` budgets: well above the budget, never in CI's way. */
export function fuzzTimeoutMs(shares: number): number {
  if (RUNS !== undefined) return 2 ** 31 - 1;
  const ms = (SECONDS === undefined ? FUZZ_DEFAULT_MS : SECONDS * 1000) * shares;
  return Math.ceil(ms * 4 + 30_000);
}

/**
 * Checks that `err` is what a decoder may throw: an XnatError with a catalogue code, not XNAT_ERR_INTERNAL
 * (that is a bug surfacing as an error), and one of `allowed` when given. Throws a plain Error otherwise, so
 * fast-check reports and shrinks the input. Returns the error.
 */
export function expectTyped(err: unknown, allowed?: readonly ErrorCode[], what = 'decoder'): XnatError {
  if (!(err instanceof XnatError)) {
    const desc = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    throw new Error(`${what} threw a non-XnatError: ${desc}`, { cause: err });
  }
  if (!isErrorCode(err.code) || !Object.hasOwn(ERRORS, err.code))
    throw new Error(`${what} threw an unknown code ${String(err.code)}`);
  if (err.code === 'XNAT_ERR_INTERNAL')
    throw new Error(`${what} failed internally: ${err.message}`, { cause: err.cause ?? err });
  if (allowed && !allowed.includes(err.code))
    throw new Error(`${what} threw ${err.code} (${err.message}), expected one of ${allowed.join(', ')}`);
  return err;
}

/** Runs `fn`; returns {ok: value} or {err: typed error} (anything else throws, see expectTyped). */
export function outcome<T>(
  fn: () => T,
  allowed?: readonly ErrorCode[],
  what?: string,
): { ok: T; err?: undefined } | { ok?: undefined; err: XnatError } {
  try {
    return { ok: fn() };
  } catch (err) {
    return { err: expectTyped(err, allowed, what) };
  }
}

/** One kept case: what it is, its input (hex bytes or text), and what the decoder must do with it. */
export interface Fixture {
  readonly file: string;
  readonly note: string;
  /** Input bytes as hex (whitespace ignored), for byte decoders. */
  readonly hex?: string;
  /** Input text, for text decoders (profiles). */
  readonly text?: string;
  /** Input chunks as hex, when the cut matters. */
  readonly chunks?: readonly string[];
  /** "ok", or the error code the decoder must throw. */
  readonly expect: string;
  /** Any extra the replaying test understands (e.g. which parser). */
  readonly [key: string]: unknown;
}

const FIXTURES_DIR = join(import.meta.dirname, '..', 'fixtures', 'fuzz');

/** The fixtures of `decoder` (test/fixtures/fuzz/<decoder>/*.json), sorted by file name. */
export function loadFixtures(decoder: string): Fixture[] {
  const dir = join(FIXTURES_DIR, decoder);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, ...(JSON.parse(readFileSync(join(dir, file), 'utf8')) as object) }) as Fixture);
}

/** The bytes of a fixture's hex field. */
export function fixtureBytes(hex: string): Buffer {
  return Buffer.from(hex.replace(/\s+/g, ''), 'hex');
}
