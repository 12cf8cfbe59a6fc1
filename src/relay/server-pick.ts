// Which session of a mapping gets its next visitor (TCP) or new flow (UDP): attached before detached,
// healthy before unhealthy, then weighted least-loaded. It knows counts and flags only, not sockets.

/** What the pick needs of one session serving a mapping. */
export interface PickCandidate {
  /** A link is attached now: a detached session inside its resume window keeps its live streams, but
   * gets no new visitor while any other session of the mapping is attached. */
  readonly attached: boolean;
  /** Its visitors of this mapping open now (streams, or flows for udp). */
  loadOf(mapping: string): number;
  /** Its weight for this mapping, 1..1000 (the agent's `weight:`, the seed's MaxWorkload). */
  weightOf(mapping: string): number;
  /** false while the agent reported the mapping's LAN target as refusing, for its back-off period. */
  healthyOf(mapping: string, now: number): boolean;
  /** Streams plus flows of the whole session: breaks ties between equally loaded candidates. */
  readonly sessionLoad: number;
}

/** Ranks a candidate: lower wins. Attached and healthy come first; then (load + 1) / weight. */
function rank(c: PickCandidate, mapping: string, now: number): [number, number, number] {
  const tier = (c.attached ? 0 : 2) + (c.healthyOf(mapping, now) ? 0 : 1);
  // (load + 1) / weight: the share this visitor would bring, so weights 3:1 split visitors 3:1 from zero.
  return [tier, (c.loadOf(mapping) + 1) / Math.max(1, c.weightOf(mapping)), c.sessionLoad];
}

/**
 * The candidate for the next visitor of `mapping`; undefined when there is none. An unhealthy one is still
 * picked when every attached candidate is unhealthy (its visitor is the probe that ends the back-off).
 * Ties go to the first in iteration order (the first registered).
 */
export function pickServer<T extends PickCandidate>(
  candidates: Iterable<T>,
  mapping: string,
  now: number,
): T | undefined {
  let best: T | undefined;
  let bestRank: [number, number, number] | undefined;
  for (const c of candidates) {
    const r = rank(c, mapping, now);
    if (!bestRank || less(r, bestRank)) {
      best = c;
      bestRank = r;
    }
  }
  return best;
}

function less(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}
