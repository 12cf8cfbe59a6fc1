// One outage of the agent's session, from its start (the link went suspect or was lost) to a link again:
// when it began, the dials it took, its last failure, and the one summary that ends it ('restored').
// Bookkeeping only; the redial loop (session-client.ts) says when each of these happens.
import type { XnatError } from '../errors.ts';
import type { OutageSummary } from './client-options.ts';

export class OutageTracker {
  /** When the outage began (clock ms), until a session has a link again. */
  private since: number | undefined;
  /** When the attached link went suspect (clock ms), while it is still attached. */
  private suspectAt: number | undefined;
  private attempts = 0;
  private lastError: XnatError | undefined;

  /** A session lost its link and none has one again yet. */
  get active(): boolean {
    return this.since !== undefined;
  }

  /** The attached link is suspect (probe dials run) and no outage began yet. */
  get suspect(): boolean {
    return this.suspectAt !== undefined;
  }

  /** When the outage (or the suspect silence before it) began, in clock ms. */
  get startedAt(): number | undefined {
    return this.since ?? this.suspectAt;
  }

  /** The attached link went silent at `now`: dials from now on count toward the outage it may become. */
  suspected(now: number): void {
    if (this.since === undefined) this.suspectAt ??= now;
  }

  /** The suspect link proved alive: forget the probes. */
  alive(): void {
    if (this.suspectAt === undefined) return;
    this.suspectAt = undefined;
    if (this.since !== undefined) return;
    this.attempts = 0;
    this.lastError = undefined;
  }

  /** The session lost its link at `now` (or has none): the outage begins, at the suspect time if any. */
  begin(now: number): void {
    this.since ??= this.suspectAt ?? now;
    this.suspectAt = undefined;
  }

  /** A dial started. */
  attempt(): void {
    if (this.startedAt !== undefined) this.attempts++;
  }

  /** A dial or handshake failed. */
  failed(err: XnatError): void {
    if (this.startedAt !== undefined) this.lastError = err;
  }

  /** A session has a link again at `now`: the summary of the outage, if one was under way. */
  end(now: number, resumed: boolean): OutageSummary | undefined {
    this.suspectAt = undefined;
    if (this.since === undefined) return undefined;
    const summary: OutageSummary = {
      outageMs: now - this.since,
      attempts: this.attempts,
      resumed,
      lastError: this.lastError,
    };
    this.since = undefined;
    this.attempts = 0;
    this.lastError = undefined;
    return summary;
  }
}
