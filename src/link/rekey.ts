// When a link's sending key changes: after a budget of plaintext bytes or an age, whichever comes first.
// It knows nothing of ciphers or frames: it says "now", the link sends REKEY and switches its key.
import type { Clock, TimerHandle } from '../util/clock.ts';

export class RekeySchedule {
  private bytesSinceRekey = 0;
  private timer: TimerHandle | undefined;
  private stopped = false;

  /**
   * `rekey` is called when the budget is spent: from sent() (synchronously, after the record that spent it)
   * or from the age timer. It must call rekeyed() once the key has changed.
   */
  constructor(
    private readonly clock: Clock,
    private readonly afterBytes: number,
    private readonly afterMs: number,
    private readonly rekey: () => void,
  ) {
    this.arm();
  }

  /** `bytes` of plaintext went out under the current key. */
  sent(bytes: number): void {
    this.bytesSinceRekey += bytes;
    if (this.bytesSinceRekey >= this.afterBytes && !this.stopped) this.rekey();
  }

  /** The key changed: both budgets start again. */
  rekeyed(): void {
    this.bytesSinceRekey = 0;
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  private arm(): void {
    this.timer?.cancel();
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(this.rekey, this.afterMs);
  }
}
