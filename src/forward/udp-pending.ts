// Datagrams of flows not (yet) opened, held a short while so that the first datagram of a flow is
// delivered whichever arrives first, it or its flow.open. It knows flow ids and bytes, not sockets.
import type { Clock, TimerHandle } from '../util/clock.ts';

/** Limits of the pending queue; counts and bytes are for the whole queue unless named per flow. */
export interface PendingLimits {
  /** A datagram waits at most this long for its flow.open, in ms. */
  readonly ttlMs: number;
  /** Datagrams held per flow id (the first few of a flow; more would be stale). */
  readonly perFlow: number;
  /** Flow ids waiting at once. */
  readonly flows: number;
  /** Bytes held at once. */
  readonly bytes: number;
}

/**
 * Defaults: 2 s covers a command lane behind a congested link or a datagram path that beats the command
 * path by far more than any real reordering; 8 x 256 flows and 1 MiB bound it.
 */
export const PENDING_DEFAULTS: PendingLimits = { ttlMs: 2_000, perFlow: 8, flows: 256, bytes: 1024 * 1024 };

interface Waiting {
  readonly since: number;
  readonly datagrams: Buffer[];
}

/**
 * Events are callbacks: `onDrop(n)` counts datagrams that left without their flow opening (expired or
 * refused for room). Insertion order of the map is arrival order of each flow's first datagram, so the
 * timer only ever looks at the oldest.
 */
export class PendingDatagrams {
  private readonly waiting = new Map<number, Waiting>();
  private bytes = 0;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly onDrop: (datagrams: number) => void,
    private readonly limits: PendingLimits = PENDING_DEFAULTS,
  ) {}

  /** Flow ids waiting. */
  get size(): number {
    return this.waiting.size;
  }

  get heldBytes(): number {
    return this.bytes;
  }

  /** Holds a datagram of unknown flow `flowId`; false (and counted) when there is no room. */
  hold(flowId: number, data: Buffer): boolean {
    let w = this.waiting.get(flowId);
    if (
      this.bytes + data.length > this.limits.bytes ||
      (w ? w.datagrams.length >= this.limits.perFlow : this.waiting.size >= this.limits.flows)
    ) {
      this.onDrop(1);
      return false;
    }
    if (!w) {
      w = { since: this.clock.now(), datagrams: [] };
      this.waiting.set(flowId, w);
    }
    // A copy: the payload is a view of its whole decrypted record, which the byte cap would not see.
    w.datagrams.push(Buffer.from(data));
    this.bytes += data.length;
    this.timer ??= this.clock.setTimeout(() => this.expire(), this.limits.ttlMs);
    return true;
  }

  /** Takes the datagrams held for `flowId`, oldest first (empty when none). */
  take(flowId: number): Buffer[] {
    const w = this.waiting.get(flowId);
    if (!w) return [];
    this.waiting.delete(flowId);
    for (const d of w.datagrams) this.bytes -= d.length;
    if (this.waiting.size === 0) this.stopTimer();
    return w.datagrams;
  }

  /** Drops everything, uncounted (the session ended). */
  clear(): void {
    this.waiting.clear();
    this.bytes = 0;
    this.stopTimer();
  }

  private expire(): void {
    this.timer = undefined;
    const now = this.clock.now();
    let dropped = 0;
    for (const [id, w] of this.waiting) {
      if (now - w.since < this.limits.ttlMs) {
        this.timer = this.clock.setTimeout(() => this.expire(), w.since + this.limits.ttlMs - now);
        break;
      }
      dropped += this.take(id).length;
    }
    if (dropped > 0) this.onDrop(dropped);
  }

  private stopTimer(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }
}
