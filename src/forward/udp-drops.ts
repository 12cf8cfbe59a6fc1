// Counters of UDP drops by cause, and the one rate-limited log line that reports them when caps are hit.
// It knows no flow or socket: callers count, this sums and speaks at most once per interval.
import type { Logger } from '../observe/log.ts';
import type { Clock, TimerHandle } from '../util/clock.ts';
import type { UdpDrops } from '../observe/status.ts';

export type UdpDropCause = keyof UdpDrops;
/** Mutable drop counters, as their owner keeps them. */
export type DropCounts = { -readonly [K in UdpDropCause]: number };

/** At most one `udp drops` line per this interval, in ms, however many drops it sums. */
export const UDP_DROP_LOG_INTERVAL_MS = 10_000;

export function emptyDrops(): DropCounts {
  return {
    tableFull: 0,
    perSource: 0,
    noAgent: 0,
    sessionRefused: 0,
    unknownFlow: 0,
    tooLarge: 0,
    noLink: 0,
  };
}

/**
 * Logs `udp drops` (warn) with the counts by cause since the last line, at most once per interval: the
 * first drop after a quiet interval is reported within UDP_DROP_LOG_INTERVAL_MS, never one line per drop.
 */
export class DropLog {
  private pending = emptyDrops();
  private pendingAny = false;
  private readonly mappings = new Set<string>();
  private lastAt = -Infinity;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly fields: Record<string, unknown> = {},
    private readonly intervalMs = UDP_DROP_LOG_INTERVAL_MS,
  ) {}

  /** Notes `n` drops of `cause` towards the next line. */
  note(cause: UdpDropCause, n = 1, mapping?: string): void {
    this.pending[cause] += n;
    this.pendingAny = true;
    if (mapping !== undefined) this.mappings.add(mapping);
    if (this.timer) return;
    const wait = this.lastAt + this.intervalMs - this.clock.now();
    if (wait <= 0) this.flush();
    else this.timer = this.clock.setTimeout(() => this.flush(), wait);
  }

  /** Stops the timer; a pending line is dropped (the counters stay in status and metrics). */
  close(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private flush(): void {
    this.timer = undefined;
    if (!this.pendingAny) return;
    const counts = Object.fromEntries(Object.entries(this.pending).filter(([, v]) => v > 0));
    const mappings = [...this.mappings].slice(0, 8);
    this.log.warn({ ...this.fields, ...(mappings.length ? { mappings } : {}), ...counts }, 'udp drops');
    this.pending = emptyDrops();
    this.pendingAny = false;
    this.mappings.clear();
    this.lastAt = this.clock.now();
  }
}
