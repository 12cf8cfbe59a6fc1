// Injectable time: every timer in xnat goes through a Clock so tests can drive time by hand.
// It knows nothing of what the timers are for.

/** A cancellable timer handle. */
export interface TimerHandle {
  cancel(): void;
}

/** The source of time and timers. `now()` is in milliseconds, monotonic for the real clock. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  setInterval(fn: () => void, ms: number): TimerHandle;
}

/** The process clock: performance.now() and Node timers, unref'd so they never hold the process open. */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
  setInterval(fn, ms) {
    const t = setInterval(fn, ms);
    t.unref();
    return { cancel: () => clearInterval(t) };
  },
};

/** A clock that moves only when told to; timers fire in deadline order during advance(). */
export class FakeClock implements Clock {
  private time = 0;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void; every: number }>();

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, ms, 0);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, ms, Math.max(1, ms));
  }

  /** Moves time forward by `ms`, firing every timer whose deadline falls inside, in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let nextId = -1;
      let nextAt = Infinity;
      for (const [id, t] of this.timers) {
        if (t.at <= end && t.at < nextAt) {
          nextAt = t.at;
          nextId = id;
        }
      }
      if (nextId < 0) break;
      const timer = this.timers.get(nextId)!;
      this.time = Math.max(this.time, timer.at);
      if (timer.every > 0) timer.at += timer.every;
      else this.timers.delete(nextId);
      timer.fn();
    }
    this.time = end;
  }

  /** Number of pending timers, for tests that check nothing leaks. */
  get pending(): number {
    return this.timers.size;
  }

  private add(fn: () => void, ms: number, every: number): TimerHandle {
    const id = ++this.seq;
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn, every });
    return { cancel: () => this.timers.delete(id) };
  }
}
