// Admission of incoming command invocations: at most `maxRunning` at once, `maxQueued` waiting, and
// serial commands one at a time in arrival order. It knows nothing of messages or handlers.

/** One admitted invocation. `serialKey` set: no two jobs with the same key run at once. */
export interface Job {
  readonly serialKey?: string | undefined;
  /** Called once when the job may run; the owner calls done(job) when it has finished. */
  start(): void;
}

/** A bounded queue: memory stays flat however many invocations the peer sends. */
export class JobQueue {
  private readonly waiting: Job[] = [];
  private readonly active = new Set<Job>();
  private readonly serialBusy = new Set<string>();
  private pumping = false;

  constructor(
    private readonly maxRunning: number,
    private readonly maxQueued: number,
  ) {}

  get running(): number {
    return this.active.size;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Admits `job`; false when both the running slots and the queue are full (the caller answers BUSY). */
  submit(job: Job): boolean {
    if (this.waiting.length >= this.maxQueued && !this.canStart(job)) return false;
    this.waiting.push(job);
    this.pump();
    return true;
  }

  /** Removes a job that has not started; returns true if it was waiting. */
  withdraw(job: Job): boolean {
    const i = this.waiting.indexOf(job);
    if (i < 0) return false;
    this.waiting.splice(i, 1);
    return true;
  }

  /** Frees the slot of a started job (idempotent) and starts whatever may run next. */
  done(job: Job): void {
    if (!this.active.delete(job)) return;
    if (job.serialKey !== undefined) this.serialBusy.delete(job.serialKey);
    this.pump();
  }

  /** Drops every waiting job (on close); running ones finish through done(). */
  clear(): Job[] {
    return this.waiting.splice(0);
  }

  private canStart(job: Job): boolean {
    return (
      this.active.size < this.maxRunning &&
      (job.serialKey === undefined || !this.serialBusy.has(job.serialKey))
    );
  }

  private pump(): void {
    // start() may finish synchronously and call done(); the loop below picks up what that freed.
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.active.size < this.maxRunning) {
        const i = this.waiting.findIndex((j) => this.canStart(j));
        if (i < 0) break;
        const [job] = this.waiting.splice(i, 1);
        this.active.add(job!);
        if (job!.serialKey !== undefined) this.serialBusy.add(job!.serialKey);
        job!.start();
      }
    } finally {
      this.pumping = false;
    }
  }
}
