// Idle timeout of tunnelled TCP connections: a stream that moved no byte either way for its mapping's
// idle time is reset. One sweep timer per owner (not a timer per connection: idle streams are many).
import type { Clock, TimerHandle } from '../util/clock.ts';
import type { ErrorCode } from '../errors.ts';

/** What the sweeper needs of a stream: its byte counters and a way to abort it. */
export interface IdleWatched {
  readonly stats: { readonly bytesIn: number; readonly bytesOut: number };
  reset(code: ErrorCode): void;
}

/** Sweeps run at a quarter of the shortest idle time watched, within these bounds (ms). */
const SWEEP_MIN_MS = 250;
const SWEEP_MAX_MS = 60_000;

/**
 * Watches streams for silence. A stream is reset with XNAT_ERR_FORWARD_IDLE_TIMEOUT between idleMs and
 * 1.25 x idleMs after its last byte. `timedOut` counts the resets.
 */
export class IdleStreams {
  private readonly watched = new Map<IdleWatched, { idleMs: number; bytes: number; since: number }>();
  private timer: TimerHandle | undefined;
  private sweepMs = SWEEP_MAX_MS;
  timedOut = 0;

  constructor(private readonly clock: Clock) {}

  /** Watches `stream` with `idleMs` (0 or Infinity: never times out). */
  add(stream: IdleWatched, idleMs: number): void {
    if (!(idleMs > 0) || !Number.isFinite(idleMs)) return;
    const { bytesIn, bytesOut } = stream.stats;
    this.watched.set(stream, { idleMs, bytes: bytesIn + bytesOut, since: this.clock.now() });
    const want = Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, Math.floor(idleMs / 4)));
    if (!this.timer || want < this.sweepMs) {
      this.timer?.cancel();
      this.sweepMs = want;
      this.timer = this.clock.setInterval(() => this.sweep(), want);
    }
  }

  delete(stream: IdleWatched): void {
    // The sweep stops itself once it finds none left: stopping here would cancel and re-create the
    // interval timer per connection when visitors come one at a time.
    this.watched.delete(stream);
  }

  /** Stops watching everything. */
  stop(): void {
    this.watched.clear();
    this.timer?.cancel();
    this.timer = undefined;
    this.sweepMs = SWEEP_MAX_MS;
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [stream, w] of [...this.watched]) {
      const bytes = stream.stats.bytesIn + stream.stats.bytesOut;
      if (bytes !== w.bytes) {
        w.bytes = bytes;
        w.since = now;
      } else if (now - w.since >= w.idleMs) {
        this.watched.delete(stream);
        this.timedOut++;
        stream.reset('XNAT_ERR_FORWARD_IDLE_TIMEOUT');
      }
    }
    if (this.watched.size === 0) this.stop();
  }
}
