// Per-second byte rates of each session, computed between two consecutive snapshots.
// It knows nothing of where snapshots come from; the caller measures the time between them.
import { sessionsOf, type Status } from '../observe/status.ts';

/** Bytes per second of one session over the last interval; undefined when there is no earlier sample. */
export interface SessionRate {
  readonly sentPerSec: number | undefined;
  readonly receivedPerSec: number | undefined;
}

export { sessionsOf };

const perSec = (before: number, after: number, dtMs: number): number | undefined =>
  // A counter that went down belongs to a new session object: no honest rate for this interval.
  after >= before ? ((after - before) * 1000) / dtMs : undefined;

/**
 * Rates keyed by session id, from `prev` to `next` taken `dtMs` ms apart. A session absent from `prev`
 * (or any session when there is no `prev` or dtMs <= 0) gets undefined rates.
 */
export function computeRates(
  prev: Status | undefined,
  next: Status,
  dtMs: number,
): ReadonlyMap<string, SessionRate> {
  const before = new Map(prev ? sessionsOf(prev).map((s) => [s.id, s] as const) : []);
  const out = new Map<string, SessionRate>();
  for (const s of sessionsOf(next)) {
    const b = before.get(s.id);
    out.set(
      s.id,
      b && dtMs > 0
        ? {
            sentPerSec: perSec(b.bytesSent, s.bytesSent, dtMs),
            receivedPerSec: perSec(b.bytesReceived, s.bytesReceived, dtMs),
          }
        : { sentPerSec: undefined, receivedPerSec: undefined },
    );
  }
  return out;
}
