// One warning per interval for a cap that is hit again and again (a flood would otherwise write a line per
// packet): counts by cause are kept and written together. It knows nothing of what the causes mean.
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../util/clock.ts';

/** Default interval between two lines of one CapLog, in milliseconds. */
export const CAP_LOG_INTERVAL_MS = 10_000;

/**
 * Aggregates `hit(cause)` calls: the first hit of a quiet period is written at once, later ones within the
 * interval are counted and written as one line (`{ counts: { cause: n } }`) when it ends.
 */
export class CapLog {
  private counts = new Map<string, number>();
  private timer: TimerHandle | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
    /** The line's message, e.g. 'stream replies dropped'. */
    private readonly msg: string,
    private readonly intervalMs = CAP_LOG_INTERVAL_MS,
  ) {}

  /** Counts one hit of `cause`; `fields` go on the line only when it is written at once. */
  hit(cause: string, fields?: Record<string, unknown>): void {
    if (!this.timer) {
      this.logger.warn({ cause, ...fields }, this.msg);
      this.timer = this.clock.setTimeout(() => this.flush(), this.intervalMs);
      return;
    }
    this.counts.set(cause, (this.counts.get(cause) ?? 0) + 1);
  }

  /** Stops the timer (the owner is closing); counts not yet written are dropped. */
  close(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.counts.clear();
  }

  private flush(): void {
    this.timer = undefined;
    if (this.counts.size === 0) return;
    const counts = Object.fromEntries(this.counts);
    this.counts = new Map();
    this.logger.warn({ counts, intervalMs: this.intervalMs }, this.msg);
    this.timer = this.clock.setTimeout(() => this.flush(), this.intervalMs);
  }
}
