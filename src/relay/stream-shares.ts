// Fair shares of one session's stream cap among its TCP mappings: idle or hostile visitors of one mapping
// cannot take the slots the others need. It knows counts only, not streams or sockets.

/**
 * Whether one more stream of `mapping` fits. Every mapping is guaranteed `cap / (2 x mappings)` streams
 * (half the cap, split evenly); the other half, and whatever guarantees go unused, is shared first come
 * first served. So a flood on one mapping takes at most `cap - unused guarantees of the others`, and each
 * other mapping can still open its guaranteed streams. With one mapping the whole cap is its own.
 */
export function admitStream(
  used: ReadonlyMap<string, number>,
  mappings: Iterable<string>,
  mapping: string,
  cap: number,
): boolean {
  const names = new Set(mappings);
  names.add(mapping);
  let total = 0;
  for (const n of used.values()) total += n;
  if (total >= cap) return false;
  const guaranteed = Math.floor(cap / (2 * names.size));
  const own = used.get(mapping) ?? 0;
  if (own < guaranteed) return true;
  let reservedForOthers = 0;
  for (const name of names) {
    if (name !== mapping) reservedForOthers += Math.max(0, guaranteed - (used.get(name) ?? 0));
  }
  return total + 1 + reservedForOthers <= cap;
}
