// Admission to the admin endpoint: connection slots, the unauthenticated stage's caps (total and per
// source, oldest dropped first) and deadline, the counters, and one aggregated log line per interval.
// It knows nothing of tokens or commands: the server tells it when a connection authenticated or failed.
import type { Logger } from '../observe/log.ts';
import type { AdminEndpointStatus } from '../observe/status.ts';
import type { Clock, TimerHandle } from '../util/clock.ts';

/** Admin connections at once, authenticated or not; the endpoint is local and for a few operators. */
export const MAX_ADMIN_CONNECTIONS = 32;
/**
 * Unauthenticated connections at once. Below MAX_ADMIN_CONNECTIONS so strangers can never fill every
 * slot; a newcomer over the cap drops the oldest unauthenticated one, so an operator always gets in.
 */
export const MAX_UNAUTHENTICATED = 16;
/** Unauthenticated connections from one source address; over it, that source's oldest is dropped. */
export const MAX_UNAUTHENTICATED_PER_SOURCE = 8;
/** Time a connection has to authenticate, in ms; a real client does it in one round trip. */
export const ADMIN_AUTH_TIMEOUT_MS = 5_000;
/** Interval of the aggregated refusal log line, in ms (at most one line per interval). */
export const ADMIN_REFUSAL_LOG_INTERVAL_MS = 10_000;

export interface AdmissionLimits {
  readonly maxConnections: number;
  readonly maxUnauthenticated: number;
  readonly maxUnauthenticatedPerSource: number;
  readonly authTimeoutMs: number;
  readonly logIntervalMs: number;
}

export const DEFAULT_ADMISSION_LIMITS: AdmissionLimits = {
  maxConnections: MAX_ADMIN_CONNECTIONS,
  maxUnauthenticated: MAX_UNAUTHENTICATED,
  maxUnauthenticatedPerSource: MAX_UNAUTHENTICATED_PER_SOURCE,
  authTimeoutMs: ADMIN_AUTH_TIMEOUT_MS,
  logIntervalMs: ADMIN_REFUSAL_LOG_INTERVAL_MS,
};

/** Why admission closed a connection, or an event the refusal log line counts. */
type Refusal = 'refused' | 'evicted' | 'timedOut' | 'authFailures' | 'closedAfterFailures' | 'badMessages';
const REFUSALS: readonly Refusal[] = [
  'refused',
  'evicted',
  'timedOut',
  'authFailures',
  'closedAfterFailures',
  'badMessages',
];

/** One admitted connection; `kill` closes its socket (admission calls it when evicting or timing out). */
export class AdmissionTicket {
  authed = false;
  released = false;
  timer: TimerHandle | undefined;

  constructor(
    readonly source: string,
    readonly kill: () => void,
  ) {}
}

/** `::ffff:127.0.0.1` and `127.0.0.1` are one source. */
function sourceOf(address: string | undefined): string {
  if (address === undefined) return 'unknown';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

export class AdminAdmission {
  private open = 0;
  /** Unauthenticated tickets by source, each set in arrival order (oldest first). */
  private readonly pending = new Map<string, Set<AdmissionTicket>>();
  private pendingCount = 0;
  private readonly totals: Record<Refusal | 'accepted' | 'authenticated', number> = {
    accepted: 0,
    authenticated: 0,
    refused: 0,
    evicted: 0,
    timedOut: 0,
    authFailures: 0,
    closedAfterFailures: 0,
    badMessages: 0,
  };
  private readonly unlogged = new Map<Refusal, number>();
  private logTimer: TimerHandle | undefined;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly limits: AdmissionLimits = DEFAULT_ADMISSION_LIMITS,
  ) {}

  /**
   * Admits a new connection from `address`, dropping older unauthenticated ones to make room; returns
   * undefined (counted as refused) only when every slot is held by an authenticated connection.
   */
  admit(address: string | undefined, kill: () => void): AdmissionTicket | undefined {
    const source = sourceOf(address);
    const mine = this.pending.get(source);
    if (mine && mine.size >= this.limits.maxUnauthenticatedPerSource) this.evict(first(mine)!);
    else if (this.pendingCount >= this.limits.maxUnauthenticated) this.evictFromBusiestSource();
    if (this.open >= this.limits.maxConnections) {
      if (this.pendingCount === 0) {
        this.note('refused');
        return undefined;
      }
      this.evictFromBusiestSource();
    }
    const ticket = new AdmissionTicket(source, kill);
    this.open++;
    this.totals.accepted++;
    let set = this.pending.get(source);
    if (!set) this.pending.set(source, (set = new Set()));
    set.add(ticket);
    this.pendingCount++;
    ticket.timer = this.clock.setTimeout(() => {
      if (ticket.authed || ticket.released) return;
      this.note('timedOut');
      this.drop(ticket);
    }, this.limits.authTimeoutMs);
    return ticket;
  }

  /** The connection authenticated: it leaves the unauthenticated stage (its deadline and caps). */
  authenticated(ticket: AdmissionTicket): void {
    if (ticket.authed || ticket.released) return;
    this.unpend(ticket);
    ticket.authed = true;
    this.totals.authenticated++;
  }

  /** A wrong token was evaluated on the connection. */
  authFailed(): void {
    this.note('authFailures');
  }

  /** The server closes the connection for `why`: counted and logged, its slot free at once. */
  reject(ticket: AdmissionTicket, why: 'closedAfterFailures' | 'badMessages'): void {
    if (ticket.released) return;
    this.note(why);
    this.release(ticket);
  }

  /** The connection's socket closed (idempotent; also after admission dropped it). */
  release(ticket: AdmissionTicket): void {
    if (ticket.released) return;
    ticket.released = true;
    this.unpend(ticket);
    this.open--;
  }

  snapshot(): AdminEndpointStatus {
    return { connections: this.open, unauthenticated: this.pendingCount, ...this.totals };
  }

  /** Logs what is still unlogged and stops the timers (the server is closing). */
  stop(): void {
    this.stopped = true;
    this.logTimer?.cancel();
    this.logTimer = undefined;
    this.flushLog();
    for (const set of this.pending.values()) for (const t of set) t.timer?.cancel();
  }

  private evictFromBusiestSource(): void {
    let busiest: Set<AdmissionTicket> | undefined;
    for (const set of this.pending.values()) if (!busiest || set.size > busiest.size) busiest = set;
    const oldest = busiest && first(busiest);
    if (oldest) {
      this.note('evicted');
      this.drop(oldest);
    }
  }

  private evict(ticket: AdmissionTicket): void {
    this.note('evicted');
    this.drop(ticket);
  }

  /** Releases the slot now (the socket's 'close' comes later) and closes the socket. */
  private drop(ticket: AdmissionTicket): void {
    this.release(ticket);
    ticket.kill();
  }

  private unpend(ticket: AdmissionTicket): void {
    ticket.timer?.cancel();
    const set = this.pending.get(ticket.source);
    if (!set?.delete(ticket)) return;
    this.pendingCount--;
    if (set.size === 0) this.pending.delete(ticket.source);
  }

  /**
   * Counts one refusal; the first after a quiet interval is logged at once, later ones are summed into
   * at most one line per interval, so a flood costs a few log lines, not one per connection.
   */
  private note(what: Refusal): void {
    this.totals[what]++;
    this.unlogged.set(what, (this.unlogged.get(what) ?? 0) + 1);
    if (this.logTimer || this.stopped) return;
    this.flushLog();
    this.armLog();
  }

  private armLog(): void {
    this.logTimer = this.clock.setTimeout(() => {
      this.logTimer = undefined;
      if (this.unlogged.size === 0 || this.stopped) return;
      this.flushLog();
      this.armLog();
    }, this.limits.logIntervalMs);
  }

  private flushLog(): void {
    if (this.unlogged.size === 0) return;
    const counts: Record<string, number> = {};
    for (const r of REFUSALS) counts[r] = this.unlogged.get(r) ?? 0;
    this.unlogged.clear();
    this.log.warn({ ...counts, intervalMs: this.limits.logIntervalMs }, 'admin connections refused');
  }
}

function first<T>(set: Set<T>): T | undefined {
  for (const v of set) return v;
  return undefined;
}
