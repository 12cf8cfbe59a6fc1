// Idle-timed, capped table of UDP flows keyed by any string; each side of a UDP mapping keeps one.
// It knows nothing of sockets: it remembers entries, touches them on traffic and expires idle ones.
import type { Clock, TimerHandle } from '../util/clock.ts';

export class FlowTable<V> {
  private readonly map = new Map<string, { value: V; lastSeen: number }>();
  private sweeper: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    /** Entries idle this long are expired, in ms. */
    private readonly idleMs: number,
    /** Most entries at once; `add` refuses beyond it (a flood of source addresses cannot grow memory). */
    private readonly max: number,
    private readonly onExpire: (key: string, value: V) => void,
  ) {}

  get size(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (e) e.lastSeen = this.clock.now();
    return e?.value;
  }

  /** Adds an entry; false when the table is full. */
  add(key: string, value: V): boolean {
    if (this.map.size >= this.max) return false;
    this.map.set(key, { value, lastSeen: this.clock.now() });
    // Sweep at a quarter of the idle time: a flow lives between idleMs and 1.25 x idleMs without traffic.
    this.sweeper ??= this.clock.setInterval(() => this.sweep(), Math.max(250, this.idleMs / 4));
    return true;
  }

  delete(key: string): V | undefined {
    const e = this.map.get(key);
    this.map.delete(key);
    if (this.map.size === 0) this.stopSweeper();
    return e?.value;
  }

  /** Snapshot of [key, value] pairs (safe to delete while iterating it). */
  entries(): Array<[string, V]> {
    return [...this.pairs()];
  }

  values(): V[] {
    return [...this.map.values()].map((e) => e.value);
  }

  private *pairs(): Iterable<[string, V]> {
    for (const [k, e] of this.map) yield [k, e.value];
  }

  /** Drops everything without calling onExpire. */
  clear(): void {
    this.map.clear();
    this.stopSweeper();
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [key, e] of this.map) {
      if (now - e.lastSeen >= this.idleMs) {
        this.map.delete(key);
        this.onExpire(key, e.value);
      }
    }
    if (this.map.size === 0) this.stopSweeper();
  }

  private stopSweeper(): void {
    this.sweeper?.cancel();
    this.sweeper = undefined;
  }
}
