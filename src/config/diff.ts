// Which keys differ between two parsed profiles of one kind, named as the profile writes them
// ("relay.listen", "tuning.replayBuffer"). It knows nothing of what a reload can apply live.
import { isDeepStrictEqual } from 'node:util';
import type { Profile } from './types.ts';

/** Parsed keys carry their unit (resumeWindowMs, replayBufferBytes); the profile's key has none. */
function profileKey(key: string): string {
  return key.replace(/(Ms|Bytes)$/, '');
}

function isBlock(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/**
 * Keys whose values differ between `a` and `b`, one level into blocks (`relay.listen`, `admin`), except
 * the top-level keys in `skip` (what the caller applies live). `privateKeySource` counts as privateKey.
 */
export function changedKeys(a: Profile, b: Profile, skip: ReadonlySet<string>): string[] {
  const out = new Set<string>();
  const ra = a as unknown as Record<string, unknown>;
  const rb = b as unknown as Record<string, unknown>;
  for (const top of new Set([...Object.keys(ra), ...Object.keys(rb)])) {
    if (top === 'kind' || top === 'source' || top === 'warnings' || skip.has(top)) continue;
    const va = ra[top];
    const vb = rb[top];
    if (isDeepStrictEqual(va, vb)) continue;
    if (!isBlock(va) || !isBlock(vb)) {
      out.add(top);
      continue;
    }
    for (const key of new Set([...Object.keys(va), ...Object.keys(vb)])) {
      if (isDeepStrictEqual(va[key], vb[key])) continue;
      out.add(`${top}.${profileKey(key === 'privateKeySource' ? 'privateKey' : key)}`);
    }
  }
  return [...out];
}
