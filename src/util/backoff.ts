// Jittered exponential backoff for redials: a fast first retry, then doubling up to a cap.
// It knows nothing of sockets; the caller asks for the next delay and resets after a stable link.

/** Backoff settings, all in milliseconds. */
export interface BackoffOptions {
  /** First delay; default 200 ms so a blip is retried almost at once. */
  readonly initialMs?: number;
  /** Upper bound of any delay; default 10 000 ms. */
  readonly maxMs?: number;
  /** Growth factor per attempt; default 2. */
  readonly factor?: number;
  /** Fraction of the delay randomised (full jitter below the nominal value); default 0.5. */
  readonly jitter?: number;
  /** Random source in [0, 1); injectable for tests. */
  readonly random?: () => number;
}

export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 200;
    this.maxMs = options.maxMs ?? 10_000;
    this.factor = options.factor ?? 2;
    this.jitter = options.jitter ?? 0.5;
    this.random = options.random ?? Math.random;
  }

  /** The delay before the next attempt; never above maxMs, never below (1 - jitter) of nominal. */
  next(): number {
    const nominal = Math.min(this.maxMs, this.initialMs * this.factor ** this.attempt);
    this.attempt++;
    return Math.round(nominal * (1 - this.jitter * this.random()));
  }

  /** Attempts made since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}
