// A token bucket of bytes: `rate` bytes per second on average, at most `burst` at once after a quiet spell.
// It knows nothing of sockets; a caller takes what it just moved and waits the time it is told.
import type { Clock } from './clock.ts';

export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private rate: number,
    private burst: number,
    private readonly clock: Clock,
  ) {
    this.tokens = burst;
    this.at = clock.now();
  }

  /** New limits (profile reload); the current balance is kept, capped at the new burst. */
  setLimits(rate: number, burst: number): void {
    if (this.rate !== Infinity) this.refill();
    else this.at = this.clock.now();
    this.rate = rate;
    this.burst = burst;
    this.tokens = Math.min(this.tokens, burst);
  }

  /**
   * Takes `n` bytes that were just moved (a chunk may be larger than the balance: the bucket goes into
   * debt) and returns how long the mover should pause before the next one, in ms; 0 when within budget.
   */
  take(n: number): number {
    if (this.rate === Infinity) return 0;
    this.refill();
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.rate);
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) * this.rate) / 1000);
    this.at = now;
  }
}

/** The longest pause any of `buckets` asks for after moving `n` bytes (each is charged). */
export function takeAll(buckets: readonly TokenBucket[], n: number): number {
  let wait = 0;
  for (const b of buckets) wait = Math.max(wait, b.take(n));
  return wait;
}
