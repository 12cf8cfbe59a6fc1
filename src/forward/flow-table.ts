// Idle-timed, capped table of UDP flows keyed by any string; each side of a UDP mapping keeps one. Full, it
// evicts the least-recently-active flow (a flood cannot lock it); a group (visitor address) has its own cap.
// It knows nothing of sockets: it remembers entries, touches them on traffic, expires and evicts them.
import type { Clock, TimerHandle } from '../util/clock.ts';

/** Why an entry left the table through onExpire. */
export type FlowEndReason = 'idle' | 'table-full' | 'per-source';

/** Which side a datagram came from: the visitor (towards the LAN service) or the service (a reply). */
export type FlowDirection = 'visitor' | 'service';

export interface FlowTableOptions<V> {
  /** Entries idle this long are expired, in ms. */
  readonly idleMs: number;
  /** Most entries at once; a new one beyond it evicts the least-recently-active entry. */
  readonly max: number;
  /** The group of a key (the visitor's address, without its port); with maxPerGroup, caps each group. */
  readonly groupOf?: (key: string) => string;
  /** Most entries per group; a new one beyond it evicts that group's least-recently-active entry. */
  readonly maxPerGroup?: number;
  /** An entry left by expiry or eviction (not by delete or clear). */
  readonly onExpire: (key: string, value: V, reason: FlowEndReason) => void;
}

/** One entry as `list()` shows it. */
export interface FlowTableItem<V> {
  readonly key: string;
  readonly value: V;
  /** clock.now() of the last datagram either way. */
  readonly lastSeen: number;
  /** The visitor spoke again after the service answered (see the header of `FlowTable`). */
  readonly assured: boolean;
}

const FRESH = 0;
const ANSWERED = 1;
const ASSURED = 2;

interface Entry<V> {
  readonly key: string;
  readonly value: V;
  readonly group: string | undefined;
  lastSeen: number;
  state: typeof FRESH | typeof ANSWERED | typeof ASSURED;
}

/**
 * Entries live in two maps kept in least-recently-active order (a touched entry is moved to the end):
 * fresh ones, and assured ones, where the visitor spoke again after the service answered (Linux
 * conntrack's ASSURED rule). Eviction takes the oldest fresh entry first, so a flood of one-shot source
 * addresses (spoofed or not) churns among itself while the flows of real players, which talk both ways,
 * stay. Each group keeps its own map in the same order for the per-group cap. Every operation is O(1)
 * but a per-group eviction, which scans that group (at most maxPerGroup entries).
 */
export class FlowTable<V> {
  private readonly fresh = new Map<string, Entry<V>>();
  private readonly assured = new Map<string, Entry<V>>();
  private readonly groups = new Map<string, Map<string, Entry<V>>>();
  private readonly max: number;
  private readonly maxPerGroup: number;
  private sweeper: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly opts: FlowTableOptions<V>,
  ) {
    this.max = Math.max(1, opts.max);
    this.maxPerGroup = opts.groupOf ? Math.max(1, opts.maxPerGroup ?? Infinity) : Infinity;
  }

  get size(): number {
    return this.fresh.size + this.assured.size;
  }

  get idleMs(): number {
    return this.opts.idleMs;
  }

  /** The entry's value, without counting it as traffic. */
  peek(key: string): V | undefined {
    return (this.fresh.get(key) ?? this.assured.get(key))?.value;
  }

  /** Counts one datagram of the entry (it stays alive and becomes the most recently active); its value. */
  touch(key: string, from: FlowDirection = 'visitor'): V | undefined {
    const e = this.fresh.get(key) ?? this.assured.get(key);
    if (!e) return undefined;
    e.lastSeen = this.clock.now();
    if (from === 'service') {
      if (e.state === FRESH) e.state = ANSWERED;
    } else if (e.state === ANSWERED) {
      e.state = ASSURED;
      this.fresh.delete(key);
    }
    const tier = e.state === ASSURED ? this.assured : this.fresh;
    tier.delete(key);
    tier.set(key, e);
    if (e.group !== undefined) {
      const g = this.groups.get(e.group)!;
      g.delete(key);
      g.set(key, e);
    }
    return e.value;
  }

  /**
   * Adds an entry (an existing one under `key` is replaced, without onExpire). Makes room first: evicts the
   * group's least-recently-active entry when the group is at its cap, then the table's when it is full.
   */
  add(key: string, value: V): void {
    this.remove(key);
    const group = this.opts.groupOf?.(key);
    if (group !== undefined) {
      const g = this.groups.get(group);
      if (g && g.size >= this.maxPerGroup) this.evict(pickInGroup(g), 'per-source');
    }
    if (this.size >= this.max) this.evictOne('table-full');
    const e: Entry<V> = { key, value, group, lastSeen: this.clock.now(), state: FRESH };
    this.fresh.set(key, e);
    if (group !== undefined) {
      let g = this.groups.get(group);
      if (!g) this.groups.set(group, (g = new Map()));
      g.set(key, e);
    }
    // Sweep at a quarter of the idle time: a flow lives between idleMs and 1.25 x idleMs without traffic.
    this.sweeper ??= this.clock.setInterval(() => this.sweep(), Math.max(250, this.opts.idleMs / 4));
  }

  /** Evicts the least-recently-active entry (fresh ones first) with `reason`; false when empty. */
  evictOne(reason: FlowEndReason = 'table-full'): boolean {
    const e = first(this.fresh) ?? first(this.assured);
    if (!e) return false;
    this.evict(e, reason);
    return true;
  }

  /** Entries of one group now (0 without groupOf). */
  groupSize(group: string): number {
    return this.groups.get(group)?.size ?? 0;
  }

  /** Removes an entry without calling onExpire; its value. */
  delete(key: string): V | undefined {
    const e = this.remove(key);
    if (this.size === 0) this.stopSweeper();
    return e?.value;
  }

  /** Snapshot of [key, value] pairs (safe to delete while iterating it). */
  entries(): Array<[string, V]> {
    return [...this.fresh.values(), ...this.assured.values()].map((e) => [e.key, e.value]);
  }

  values(): V[] {
    return [...this.fresh.values(), ...this.assured.values()].map((e) => e.value);
  }

  /** Up to `limit` entries, the most recently active first (for status). */
  list(limit = Infinity): FlowTableItem<V>[] {
    return [...this.fresh.values(), ...this.assured.values()]
      .sort((a, b) => b.lastSeen - a.lastSeen)
      .slice(0, limit)
      .map((e) => ({ key: e.key, value: e.value, lastSeen: e.lastSeen, assured: e.state === ASSURED }));
  }

  /** Drops everything without calling onExpire. */
  clear(): void {
    this.fresh.clear();
    this.assured.clear();
    this.groups.clear();
    this.stopSweeper();
  }

  private evict(e: Entry<V>, reason: FlowEndReason): void {
    this.remove(e.key);
    this.opts.onExpire(e.key, e.value, reason);
  }

  private remove(key: string): Entry<V> | undefined {
    const e = this.fresh.get(key) ?? this.assured.get(key);
    if (!e) return undefined;
    this.fresh.delete(key);
    this.assured.delete(key);
    if (e.group !== undefined) {
      const g = this.groups.get(e.group);
      g?.delete(key);
      if (g?.size === 0) this.groups.delete(e.group);
    }
    return e;
  }

  /** Each map is in lastSeen order, so a sweep stops at the first live entry: it costs what it expires. */
  private sweep(): void {
    const now = this.clock.now();
    for (const tier of [this.fresh, this.assured]) {
      for (const e of tier.values()) {
        if (now - e.lastSeen < this.opts.idleMs) break;
        this.evict(e, 'idle');
      }
    }
    if (this.size === 0) this.stopSweeper();
  }

  private stopSweeper(): void {
    this.sweeper?.cancel();
    this.sweeper = undefined;
  }
}

function first<T>(map: Map<string, T>): T | undefined {
  for (const v of map.values()) return v;
  return undefined;
}

/** A group's victim: its least-recently-active entry that is not assured, else its least-recently-active. */
function pickInGroup<V>(g: Map<string, Entry<V>>): Entry<V> {
  for (const e of g.values()) if (e.state !== ASSURED) return e;
  return first(g)!;
}
