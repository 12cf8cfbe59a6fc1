// The fair scheduler's queue: each member at most once, served front to back, re-queued at the back.
// It knows nothing of frames or streams: the caller says when to stop and what one turn is.

/** Something that may want turns: `sendable` says whether it has anything to do now. */
export interface Turnable {
  readonly sendable: boolean;
  /** One turn: a bounded amount of work (one chunk). */
  sendNext(): void;
}

export class RoundRobin<T extends Turnable> {
  private queue: T[] = [];
  private head = 0;
  private readonly members = new Set<T>();
  private serving = false;

  /** Members waiting for a turn (during a turn, the member being served is not counted). */
  get waiting(): number {
    return this.members.size;
  }

  /** Puts `item` at the back unless it is already waiting. */
  add(item: T): void {
    if (this.members.has(item)) return;
    this.members.add(item);
    this.queue.push(item);
  }

  /** Forgets `item`; a stale queue slot is skipped when reached. */
  delete(item: T): void {
    this.members.delete(item);
  }

  clear(): void {
    this.queue = [];
    this.head = 0;
    this.members.clear();
  }

  /**
   * Gives turns front to back while `canSend()` holds: one turn each, then back of the queue if it still
   * has work. Re-entrant calls (a turn that schedules) return at once; the running loop picks them up.
   */
  serve(canSend: () => boolean): void {
    if (this.serving) return;
    this.serving = true;
    try {
      while (this.head < this.queue.length && canSend()) {
        const item = this.queue[this.head++]!;
        if (!this.members.delete(item) || !item.sendable) continue;
        item.sendNext();
        if (item.sendable) this.add(item);
      }
      if (this.head === this.queue.length) {
        this.queue = [];
        this.head = 0;
      } else if (this.head > 1024) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
    } finally {
      this.serving = false;
    }
  }
}
