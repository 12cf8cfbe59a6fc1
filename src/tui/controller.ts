// The dashboard's state outside React: one admin connection (connect, subscribe, notice loss, retry every
// 2 s), the latest snapshot with its rates and trends, recent log lines, actions, and pause. It knows
// nothing of rendering or keys.
import { XnatError, toXnatError } from '../errors.ts';
import type { Status } from '../observe/status.ts';
import { realClock, type Clock, type TimerHandle } from '../util/clock.ts';
import type { LogEntry } from '../observe/log-ring.ts';
import { computeRates, type SessionRate } from './rates.ts';
import { itemRates, TrendBook, type MappingTrend } from './trends.ts';
import type { ConnectSource, DashboardSource } from './source.ts';
import { AgentSidePoller, type AgentSide } from './agent-side.ts';

/** Log lines the dashboard keeps (the panel shows the newest that fit). */
export const MAX_LOG_LINES = 200;

/** Push interval asked of the admin endpoint by default, in ms. */
export const DEFAULT_INTERVAL_MS = 1_000;
/** Delay between reconnect attempts after the admin connection is lost, in ms. */
export const RETRY_MS = 2_000;
/** No push for this many intervals makes the dashboard probe the connection with status(). */
const STALE_INTERVALS = 3;
/** Floor of the staleness deadline, in ms, so a short interval does not probe on every hiccup. */
const MIN_STALE_MS = 3_000;

/** Where the admin connection stands. */
export type ConnectionState = 'connecting' | 'live' | 'lost' | 'closed';

/** Everything the view needs; a new object on every change (safe for useSyncExternalStore). */
export interface DashboardState {
  readonly connection: ConnectionState;
  /** Why the last connection ended or the last attempt failed: code and one sentence (no secret). */
  readonly lastError: { readonly code: string; readonly message: string } | undefined;
  /** Failed connection attempts since the connection was last live. */
  readonly failedAttempts: number;
  /** The snapshot on screen; frozen while paused. */
  readonly status: Status | undefined;
  /** Rates of the snapshot on screen, keyed by session id. */
  readonly rates: ReadonlyMap<string, SessionRate>;
  /** Trends of the snapshot's mappings, keyed by mappingKey(). */
  readonly trends: ReadonlyMap<string, MappingTrend>;
  /** Bytes per second of each stream and flow, keyed by itemKey(). */
  readonly itemRates: ReadonlyMap<string, number>;
  /** Recent log lines of the relay or agent, oldest first (frozen while paused). */
  readonly logs: readonly LogEntry[];
  readonly paused: boolean;
  /** Snapshots received since start (also while paused). */
  readonly received: number;
  /** Relay: each agent's own counters per mapping (stats.query, every few seconds); empty elsewhere. */
  readonly agentSide: AgentSide;
}

/** What the controller derives from each snapshot. */
interface SnapshotView {
  readonly rates: ReadonlyMap<string, SessionRate>;
  readonly trends: ReadonlyMap<string, MappingTrend>;
  readonly itemRates: ReadonlyMap<string, number>;
}

export interface DashboardControllerOptions {
  readonly connect: ConnectSource;
  /** Push interval in ms; default DEFAULT_INTERVAL_MS. */
  readonly intervalMs?: number;
  readonly clock?: Clock;
  /** How often the relay's agents are asked for their own side, in ms; default AGENT_SIDE_INTERVAL_MS. */
  readonly agentSideIntervalMs?: number;
}

const errorInfo = (err: unknown) => {
  const e = err instanceof XnatError ? err : toXnatError(err);
  return { code: e.code, message: e.message };
};

export class DashboardController {
  private readonly connect: ConnectSource;
  private readonly clock: Clock;
  readonly intervalMs: number;
  private readonly listeners = new Set<() => void>();
  private state: DashboardState = {
    connection: 'connecting',
    lastError: undefined,
    failedAttempts: 0,
    status: undefined,
    rates: new Map(),
    trends: new Map(),
    itemRates: new Map(),
    logs: [],
    paused: false,
    received: 0,
    agentSide: new Map(),
  };
  private readonly agentSide: AgentSidePoller;
  private readonly trendBook = new TrendBook();
  private logSeq = 0;
  private allLogs: LogEntry[] = [];
  private fetchingLogs = false;
  private source: DashboardSource | undefined;
  /** Bumped on every new connection attempt, so callbacks of an old source are ignored. */
  private generation = 0;
  private retryTimer: TimerHandle | undefined;
  private watchdog: TimerHandle | undefined;
  private probing = false;
  private lastPushAt = 0;
  /** Latest received snapshot and what derives from it (differs from the state's while paused). */
  private latest: { status: Status; at: number; view: SnapshotView } | undefined;
  private started = false;

  constructor(opts: DashboardControllerOptions) {
    this.connect = opts.connect;
    this.clock = opts.clock ?? realClock;
    this.intervalMs = Math.max(1, opts.intervalMs ?? DEFAULT_INTERVAL_MS);
    this.agentSide = new AgentSidePoller(this.clock, opts.agentSideIntervalMs);
  }

  /** Starts the first connection attempt; later calls do nothing. */
  start(): void {
    if (this.started || this.state.connection === 'closed') return;
    this.started = true;
    const staleMs = Math.max(STALE_INTERVALS * this.intervalMs, MIN_STALE_MS);
    this.watchdog = this.clock.setInterval(() => this.checkStale(staleMs), Math.max(this.intervalMs, 500));
    void this.attempt();
  }

  getState = (): DashboardState => this.state;

  /** Registers a change listener; returns its removal (the useSyncExternalStore contract). */
  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Freezes or unfreezes the snapshot on screen; snapshots keep arriving meanwhile. */
  togglePause(): void {
    const paused = !this.state.paused;
    if (!paused && this.latest) {
      this.update({ paused, status: this.latest.status, ...this.latest.view, logs: this.allLogs });
    } else {
      this.update({ paused });
    }
  }

  /** Kicks an agent through the live connection; rejects with XNAT_ERR_ADMIN_CONNECT when there is none. */
  async kick(agentName: string): Promise<boolean> {
    return this.act((s) => s.kick(agentName));
  }

  /**
   * Runs one action on the live connection (authenticated by its token); rejects with
   * XNAT_ERR_ADMIN_CONNECT when there is none, XNAT_ERR_COMMAND_UNKNOWN when the source cannot.
   */
  async act<T>(run: (source: DashboardSource) => Promise<T> | undefined): Promise<T> {
    if (!this.source || this.state.connection !== 'live') {
      throw new XnatError('XNAT_ERR_ADMIN_CONNECT', { detail: 'not connected' });
    }
    const p = run(this.source);
    if (!p) throw new XnatError('XNAT_ERR_COMMAND_UNKNOWN', { detail: 'not offered here' });
    return p;
  }

  /** Stops retries and closes the connection; idempotent. */
  close(): void {
    if (this.state.connection === 'closed') return;
    this.generation++;
    this.retryTimer?.cancel();
    this.watchdog?.cancel();
    this.retryTimer = this.watchdog = undefined;
    this.dropSource();
    this.update({ connection: 'closed' });
    this.listeners.clear();
  }

  private async attempt(): Promise<void> {
    const gen = ++this.generation;
    this.retryTimer = undefined;
    let source: DashboardSource | undefined;
    try {
      source = await this.connect();
      if (gen !== this.generation) {
        source.close();
        return;
      }
      this.source = source;
      source.onClose?.((err) => {
        if (gen === this.generation) this.lost(err ?? new XnatError('XNAT_ERR_ADMIN_CONNECT'));
      });
      this.lastPushAt = this.clock.now();
      await source.subscribe(this.intervalMs, (s) => {
        if (gen === this.generation) this.onSnapshot(s);
      });
      if (gen !== this.generation) return;
      this.update({ connection: 'live', failedAttempts: 0, lastError: undefined });
    } catch (err) {
      if (gen !== this.generation) {
        source?.close();
        return;
      }
      this.lost(err);
    }
  }

  private onSnapshot(status: Status): void {
    const now = this.clock.now();
    const dt = this.latest ? now - this.latest.at : 0;
    const view: SnapshotView = {
      rates: computeRates(this.latest?.status, status, dt),
      trends: this.trendBook.push(status, now),
      itemRates: itemRates(this.latest?.status, status, dt),
    };
    this.latest = { status, at: now, view };
    this.lastPushAt = now;
    const patch: Partial<DashboardState> = { received: this.state.received + 1 };
    // A push proves the connection is live even before subscribe() resolved.
    if (this.state.connection !== 'live') Object.assign(patch, { connection: 'live', failedAttempts: 0 });
    if (!this.state.paused) Object.assign(patch, { status, ...view });
    this.update(patch);
    this.fetchLogs();
    this.pollAgentSide(status);
  }

  /** A round of the agents' own counters now and then (agent-side.ts bounds it); frozen while paused. */
  private pollAgentSide(status: Status): void {
    const source = this.source;
    if (!source) return;
    const gen = this.generation;
    this.agentSide.maybePoll(status, source, (agentSide) => {
      if (gen === this.generation && !this.state.paused) this.update({ agentSide });
    });
  }

  /** Asks for the log lines after the last one seen; one request at a time, none without support. */
  private fetchLogs(): void {
    const source = this.source;
    if (!source?.logs || this.fetchingLogs) return;
    const gen = this.generation;
    this.fetchingLogs = true;
    source.logs(this.logSeq, MAX_LOG_LINES).then(
      (r) => {
        this.fetchingLogs = false;
        if (gen !== this.generation) return;
        // A restarted process numbers its lines from 1 again.
        if (r.lastSeq < this.logSeq) this.allLogs = [];
        this.logSeq = r.lastSeq;
        if (r.lines.length === 0) return;
        this.allLogs = [...this.allLogs, ...r.lines].slice(-MAX_LOG_LINES);
        if (!this.state.paused) this.update({ logs: this.allLogs });
      },
      () => {
        // A failed fetch is retried with the next snapshot; a dead connection is noticed by the pushes.
        this.fetchingLogs = false;
      },
    );
  }

  /** No push for a while: ask once; a failed answer means the connection is gone. */
  private checkStale(staleMs: number): void {
    const source = this.source;
    if (!source || this.state.connection !== 'live' || this.probing) return;
    if (this.clock.now() - this.lastPushAt <= staleMs) return;
    const gen = this.generation;
    this.probing = true;
    source.status().then(
      (s) => {
        this.probing = false;
        if (gen === this.generation) this.onSnapshot(s);
      },
      (err: unknown) => {
        this.probing = false;
        if (gen === this.generation) this.lost(err);
      },
    );
  }

  private lost(err: unknown): void {
    if (this.state.connection === 'closed') return;
    this.generation++;
    this.dropSource();
    this.update({
      connection: 'lost',
      lastError: errorInfo(err),
      failedAttempts: this.state.connection === 'live' ? 0 : this.state.failedAttempts + 1,
    });
    this.retryTimer?.cancel();
    this.retryTimer = this.clock.setTimeout(() => void this.attempt(), RETRY_MS);
  }

  private dropSource(): void {
    const s = this.source;
    this.source = undefined;
    this.probing = false;
    this.fetchingLogs = false;
    this.agentSide.reset();
    try {
      s?.close();
    } catch {
      // A source that fails to close is gone anyway.
    }
  }

  private update(patch: Partial<DashboardState>): void {
    this.state = { ...this.state, ...patch };
    for (const l of [...this.listeners]) l();
  }
}
