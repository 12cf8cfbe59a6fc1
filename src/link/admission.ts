// Admission of unfinished link handshakes on the relay: caps per source address, per agent key and in
// total, oldest-first eviction of strangers, the two handshake deadlines, the counters and one aggregated
// log line per interval. It knows nothing of sockets or Noise: the acceptor tells it what it learns.
import { XnatError, type ErrorCode } from '../errors.ts';
import type { Clock, TimerHandle } from '../util/clock.ts';
import type { Logger } from '../observe/log.ts';
import type { HandshakeStatus } from '../observe/status.ts';

/** Default cap on unfinished handshakes at once (strangers and known agents together). */
export const MAX_PENDING_HANDSHAKES = 64;
/** Default cap on unfinished handshakes of strangers from one source address (IPv6: one /64). */
export const MAX_PENDING_HANDSHAKES_PER_SOURCE = 8;
/**
 * Cap on protected handshakes of one agent key. A real agent has one or two dials in flight; more can only
 * be replays of its message 1 by someone on its path, who must not take the table from other agents.
 */
export const MAX_PENDING_HANDSHAKES_PER_AGENT = 4;
/** Default deadline of a whole handshake (accept to key confirmation), in milliseconds. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/**
 * Default deadline of the first stage (accept to preface and message 1 complete), in milliseconds. An agent
 * sends both in one write right after connecting, so this is one trip plus slack, even on a loaded 4G link.
 */
export const FIRST_MESSAGE_TIMEOUT_MS = 3_000;
/** Dropped handshakes are summed up in one log line per this many milliseconds. */
export const ADMISSION_LOG_INTERVAL_MS = 10_000;
/** Detailed lines (peers that knew the relay's key) per interval; the rest only count in the summary. */
export const ADMISSION_DETAILED_LINES_PER_INTERVAL = 10;
/** Source addresses named in a summary line. */
const SUMMARY_TOP_SOURCES = 5;
/** Distinct source addresses counted per interval; more are summed as one (memory stays bounded). */
const SUMMARY_SOURCES_TRACKED = 1024;

/** How an unfinished handshake ended, as counted. */
export type AdmissionOutcome =
  | 'established'
  | 'refused'
  | 'evictedSource'
  | 'evictedTotal'
  | 'evictedAgent'
  | 'firstMessageTimeout'
  | 'handshakeTimeout'
  | 'failed';

export interface AdmissionOptions {
  readonly clock: Clock;
  /** Receives the summary lines. */
  readonly logger: Logger;
  /** Default 64. */
  readonly maxPending?: number;
  /** Default 8. */
  readonly maxPerSource?: number;
  /** Default 4. */
  readonly maxPerAgent?: number;
  /** Default 3 000 ms (never more than the whole deadline). */
  readonly firstMessageTimeoutMs?: number;
  /** Default 10 000 ms. */
  readonly handshakeTimeoutMs?: number;
  /** Default 10 000 ms. */
  readonly logIntervalMs?: number;
}

/** One unfinished handshake's place in the table; handed back to the admission at each step. */
export interface AdmissionTicket {
  readonly source: string;
  /** Hex agent key once message 1 proved a configured agent (the handshake is then protected). */
  readonly agent: string | undefined;
  /** Set when the admission dropped it (eviction or deadline); the acceptor then only cleans up. */
  readonly dropped: AdmissionOutcome | undefined;
}

interface Entry extends AdmissionTicket {
  id: number;
  agent: string | undefined;
  dropped: AdmissionOutcome | undefined;
  /** In the table (not yet dropped nor released). */
  inTable: boolean;
  /** The acceptor called release(). */
  released: boolean;
  readonly admittedAt: number;
  readonly drop: (err: XnatError) => void;
  timer: TimerHandle | undefined;
}

type Counters = Record<AdmissionOutcome, number>;

const zeroCounters = (): Counters => ({
  established: 0,
  refused: 0,
  evictedSource: 0,
  evictedTotal: 0,
  evictedAgent: 0,
  firstMessageTimeout: 0,
  handshakeTimeout: 0,
  failed: 0,
});

/**
 * The table of unfinished handshakes. A new connection is a stranger until message 1 proves a configured
 * agent key; strangers make room for newer connections oldest first (of their own source address first,
 * then of all), known agents are never dropped for strangers. Every drop and failure is counted.
 */
export class LinkAdmission {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly maxPending: number;
  private readonly maxPerSource: number;
  private readonly maxPerAgent: number;
  private readonly firstMs: number;
  private readonly wholeMs: number;
  private readonly intervalMs: number;
  private nextId = 1;
  private size = 0;
  /** Strangers, oldest first (Map keeps insertion order). */
  private readonly strangers = new Map<number, Entry>();
  private readonly bySource = new Map<string, Map<number, Entry>>();
  private readonly byAgent = new Map<string, Map<number, Entry>>();
  private readonly totals = zeroCounters();
  // The current summary interval.
  private window = zeroCounters();
  private windowCodes = new Map<string, number>();
  private windowSources = new Map<string, number>();
  private windowDetailed = 0;
  private summaryTimer: TimerHandle | undefined;

  constructor(opts: AdmissionOptions) {
    this.clock = opts.clock;
    this.log = opts.logger;
    this.maxPending = opts.maxPending ?? MAX_PENDING_HANDSHAKES;
    this.maxPerSource = opts.maxPerSource ?? MAX_PENDING_HANDSHAKES_PER_SOURCE;
    this.maxPerAgent = opts.maxPerAgent ?? MAX_PENDING_HANDSHAKES_PER_AGENT;
    this.wholeMs = opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
    this.firstMs = Math.min(opts.firstMessageTimeoutMs ?? FIRST_MESSAGE_TIMEOUT_MS, this.wholeMs);
    this.intervalMs = opts.logIntervalMs ?? ADMISSION_LOG_INTERVAL_MS;
  }

  /** Handshakes in the table now. */
  get pending(): number {
    return this.size;
  }

  /** Counters since start and the table's size, for status and /metrics. */
  stats(): HandshakeStatus {
    const t = this.totals;
    return {
      pending: this.size,
      pendingKnown: this.size - this.strangers.size,
      established: t.established,
      refused: t.refused,
      evictedSource: t.evictedSource,
      evictedTotal: t.evictedTotal,
      evictedAgent: t.evictedAgent,
      firstMessageTimeouts: t.firstMessageTimeout,
      handshakeTimeouts: t.handshakeTimeout,
      failed: t.failed,
    };
  }

  /**
   * Admits a new connection from `address` as a stranger, making room oldest first; `drop` is called
   * (once, synchronously) if the admission later evicts it or a deadline passes. Returns undefined when
   * there is no room (every slot holds a known agent): the caller refuses with a busy hint.
   */
  admit(address: string | undefined, drop: (err: XnatError) => void): AdmissionTicket | undefined {
    const source = sourceOf(address);
    const own = this.bySource.get(source);
    if (own && own.size >= this.maxPerSource) this.evict(first(own)!, 'evictedSource');
    if (this.size >= this.maxPending) {
      const oldest = first(this.strangers);
      if (!oldest) {
        this.count('refused', source);
        return undefined;
      }
      this.evict(oldest, 'evictedTotal');
    }
    const e: Entry = {
      id: this.nextId++,
      source,
      agent: undefined,
      dropped: undefined,
      inTable: true,
      released: false,
      admittedAt: this.clock.now(),
      drop,
      timer: undefined,
    };
    this.size++;
    this.strangers.set(e.id, e);
    group(this.bySource, source).set(e.id, e);
    const stage = this.firstMs < this.wholeMs ? 'firstMessageTimeout' : 'handshakeTimeout';
    e.timer = this.clock.setTimeout(() => this.expire(e, stage), this.firstMs);
    return e;
  }

  /**
   * Message 1 proved the configured agent `agentKey` (hex): the handshake leaves the strangers and is
   * protected from them; the first-message deadline gives way to the rest of the whole one.
   */
  identify(ticket: AdmissionTicket, agentKey: string): void {
    const e = ticket as Entry;
    if (!e.inTable || e.agent !== undefined) return;
    this.strangers.delete(e.id);
    ungroup(this.bySource, e.source, e.id);
    const mine = this.byAgent.get(agentKey);
    if (mine && mine.size >= this.maxPerAgent) this.evict(first(mine)!, 'evictedAgent');
    e.agent = agentKey;
    group(this.byAgent, agentKey).set(e.id, e);
    e.timer?.cancel();
    const left = Math.max(0, e.admittedAt + this.wholeMs - this.clock.now());
    e.timer = this.clock.setTimeout(() => this.expire(e, 'handshakeTimeout'), left);
  }

  /**
   * The handshake ended: established, or failed with `error`. Returns true when the caller should log the
   * failure on a line of its own: the peer knew the relay's key (`keyed`), within the per-interval budget.
   * Everything else is only summed up in the interval's summary line.
   */
  release(ticket: AdmissionTicket, error?: XnatError, keyed = false): boolean {
    const e = ticket as Entry;
    if (e.released) return false;
    e.released = true;
    this.remove(e);
    if (!error) {
      this.totals.established++;
      return false;
    }
    if (e.dropped === undefined) this.count('failed', e.source, error.code);
    if (!keyed && e.agent === undefined) return false;
    this.open();
    return this.windowDetailed++ < ADMISSION_DETAILED_LINES_PER_INTERVAL;
  }

  /** Writes the pending summary (if any) now and stops the interval timer. */
  close(): void {
    this.flush();
  }

  private evict(e: Entry, why: 'evictedSource' | 'evictedTotal' | 'evictedAgent'): void {
    const detail = {
      evictedSource: `evicted for a newer connection from ${e.source}`,
      evictedTotal: `evicted for a newer connection: ${this.maxPending} handshakes pending`,
      evictedAgent: `evicted for a newer handshake of the same agent`,
    }[why];
    this.dropEntry(e, why, new XnatError('XNAT_ERR_LINK_HANDSHAKE_BUSY', { detail }));
  }

  private expire(e: Entry, why: 'firstMessageTimeout' | 'handshakeTimeout'): void {
    e.timer = undefined;
    const detail =
      why === 'firstMessageTimeout'
        ? `no preface and message 1 after ${this.firstMs} ms`
        : `after ${this.wholeMs} ms`;
    this.dropEntry(e, why, new XnatError('XNAT_ERR_LINK_HANDSHAKE_TIMEOUT', { detail }));
  }

  private dropEntry(e: Entry, why: AdmissionOutcome, err: XnatError): void {
    if (!e.inTable) return;
    // Out of the table at once, so the newcomer that caused it finds the room; the socket follows.
    this.remove(e);
    e.dropped = why;
    this.count(why, e.source);
    e.drop(err);
  }

  private remove(e: Entry): void {
    if (!e.inTable) return;
    e.inTable = false;
    e.timer?.cancel();
    e.timer = undefined;
    this.size--;
    if (e.agent === undefined) {
      this.strangers.delete(e.id);
      ungroup(this.bySource, e.source, e.id);
    } else {
      ungroup(this.byAgent, e.agent, e.id);
    }
  }

  private count(why: AdmissionOutcome, source: string, code?: ErrorCode): void {
    this.totals[why]++;
    this.open();
    this.window[why]++;
    if (code) this.windowCodes.set(code, (this.windowCodes.get(code) ?? 0) + 1);
    const s =
      this.windowSources.has(source) || this.windowSources.size < SUMMARY_SOURCES_TRACKED ? source : 'other';
    this.windowSources.set(s, (this.windowSources.get(s) ?? 0) + 1);
  }

  /** Starts the summary interval if none runs. */
  private open(): void {
    this.summaryTimer ??= this.clock.setTimeout(() => this.flush(), this.intervalMs);
  }

  private flush(): void {
    this.summaryTimer?.cancel();
    this.summaryTimer = undefined;
    const counts = Object.fromEntries(Object.entries(this.window).filter(([, n]) => n > 0));
    const suppressed = Math.max(0, this.windowDetailed - ADMISSION_DETAILED_LINES_PER_INTERVAL);
    if (Object.keys(counts).length > 0 || suppressed > 0) {
      const top = [...this.windowSources.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, SUMMARY_TOP_SOURCES)
        .map(([source, n]) => ({ source, n }));
      const pressure = counts.refused || counts.evictedSource || counts.evictedTotal || counts.evictedAgent;
      this.log[pressure ? 'warn' : 'info'](
        {
          intervalMs: this.intervalMs,
          counts,
          ...(this.windowCodes.size > 0 ? { codes: Object.fromEntries(this.windowCodes) } : {}),
          sources: this.windowSources.size,
          top,
          ...(suppressed > 0 ? { suppressedLines: suppressed } : {}),
          pending: this.size,
        },
        'link handshakes dropped',
      );
    }
    this.window = zeroCounters();
    this.windowCodes = new Map();
    this.windowSources = new Map();
    this.windowDetailed = 0;
  }
}

/**
 * The unit a per-source cap counts: the IPv4 address, or the /64 of an IPv6 one (one host often holds a
 * whole /64, as WireGuard's rate limiter also assumes). IPv4-mapped IPv6 counts as IPv4.
 */
export function sourceOf(address: string | undefined): string {
  if (!address) return 'memory';
  const a = address.toLowerCase().split('%')[0]!;
  if (!a.includes(':')) return a;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) return mapped[1]!;
  const [head = '', tail] = a.split('::');
  const groups = (s: string): string[] => (s ? s.split(':') : []);
  const width = (g: string[]): number => g.reduce((n, x) => n + (x.includes('.') ? 2 : 1), 0);
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const fill = tail === undefined ? 0 : Math.max(0, 8 - width(h) - width(t));
  const all = [...h, ...Array<string>(fill).fill('0'), ...t];
  const prefix = all.slice(0, 4).map((g) => (Number.parseInt(g, 16) || 0).toString(16));
  while (prefix.length < 4) prefix.push('0');
  return `${prefix.join(':')}::/64`;
}

function first<T>(m: Map<number, T>): T | undefined {
  for (const v of m.values()) return v;
  return undefined;
}

function group(m: Map<string, Map<number, Entry>>, key: string): Map<number, Entry> {
  let g = m.get(key);
  if (!g) m.set(key, (g = new Map()));
  return g;
}

function ungroup(m: Map<string, Map<number, Entry>>, key: string, id: number): void {
  const g = m.get(key);
  if (!g) return;
  g.delete(id);
  if (g.size === 0) m.delete(key);
}
