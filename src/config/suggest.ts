// "Did you mean": the keys a profile schema allows at a key path, and the one an unknown key is closest
// to by edit distance. It knows the zod wrappers the schema uses, not which keys a profile has.
import type { z } from 'zod';

/** Longest unknown key considered (longer is not a typo of a key; it may be a value in the wrong place). */
const MAX_KEY_CHARS = 32;

/** Optimal string alignment distance (Levenshtein plus adjacent swaps), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const d: number[][] = Array.from({ length: s.length + 1 }, (_, i) => [
    i,
    ...Array<number>(t.length).fill(0),
  ]);
  for (let j = 1; j <= t.length; j++) d[0]![j] = j;
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[s.length]![t.length]!;
}

/**
 * The candidate closest to `key`, if close enough to be a typo: at most 1 edit for keys up to 4
 * characters, 2 up to 8, 3 beyond (a third of a long key), and never the key itself. Ties go to the first.
 */
export function closestKey(key: string, candidates: readonly string[]): string | undefined {
  if (key.length === 0 || key.length > MAX_KEY_CHARS) return undefined;
  const limit = key.length <= 4 ? 1 : key.length <= 8 ? 2 : 3;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const c of candidates) {
    if (c === key) continue;
    const dist = editDistance(key, c);
    if (dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  return best;
}

interface Def {
  readonly type?: string;
  readonly innerType?: z.ZodType;
  readonly in?: z.ZodType;
  readonly out?: z.ZodType;
  readonly element?: z.ZodType;
  readonly shape?: Record<string, z.ZodType>;
}

function defOf(schema: z.ZodType | undefined): Def | undefined {
  return (schema as unknown as { _zod?: { def?: Def } } | undefined)?._zod?.def;
}

/** Through default, optional, prefault and pipes (preprocess: the schema is `out`; transform: `in`). */
function unwrap(schema: z.ZodType | undefined): z.ZodType | undefined {
  let s = schema;
  for (let i = 0; i < 16 && s; i++) {
    const def = defOf(s);
    if (!def || def.type === 'object' || def.type === 'array') return s;
    if (def.type === 'pipe') s = defOf(def.out)?.type === 'transform' ? def.in : def.out;
    else if (def.innerType) s = def.innerType;
    else return s;
  }
  return s;
}

/** The keys the object at `path` of `schema` allows (empty when the path leads to no object). */
export function schemaKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let s = unwrap(schema);
  for (const seg of path) {
    const def = defOf(s);
    if (def?.type === 'array' && typeof seg === 'number') s = unwrap(def.element);
    else if (def?.type === 'object' && typeof seg === 'string') s = unwrap(def.shape?.[seg]);
    else return [];
  }
  const def = defOf(s);
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}
