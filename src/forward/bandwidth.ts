// The token buckets of one bandwidth limit (a mapping's on the agent, an agent's total on the relay), up
// and down, shared by every pipe under it. It knows nothing of sockets; pipes charge the buckets.
import type { BandwidthLimit } from '../config/index.ts';
import type { Clock } from '../util/clock.ts';
import { TokenBucket } from '../util/token-bucket.ts';

/** Smallest default burst: one pipe chunk (64 KiB) must pass without a pause at any rate. */
const MIN_BURST_BYTES = 64 * 1024;

/** Default burst of a rate: a quarter second's worth, at least 64 KiB. */
export function defaultBurst(bytesPerSec: number): number {
  return Math.max(MIN_BURST_BYTES, Math.round(bytesPerSec / 4));
}

export class BandwidthBuckets {
  /** Visitor -> LAN service; undefined when not limited. */
  up: TokenBucket | undefined;
  /** LAN service -> visitor; undefined when not limited. */
  down: TokenBucket | undefined;
  private last: BandwidthLimit | undefined;

  constructor(
    limit: BandwidthLimit | undefined,
    private readonly clock: Clock,
  ) {
    this.update(limit);
  }

  /** New limits (reload): changed rates apply to open pipes too; a direction newly limited, to new ones. */
  update(limit: BandwidthLimit | undefined): void {
    if (limit === this.last) return;
    this.last = limit;
    this.up = this.bucket(this.up, limit?.upBytesPerSec, limit?.burstBytes);
    this.down = this.bucket(this.down, limit?.downBytesPerSec, limit?.burstBytes);
  }

  private bucket(old: TokenBucket | undefined, rate: number | undefined, burst: number | undefined) {
    if (rate === undefined) {
      // Open pipes keep the object: make it pass everything.
      old?.setLimits(Infinity, Infinity);
      return undefined;
    }
    const b = burst ?? defaultBurst(rate);
    if (old) {
      old.setLimits(rate, b);
      return old;
    }
    return new TokenBucket(rate, b, this.clock);
  }
}
