// One session's link history for its status: reconnect events with causes and durations, an RTT window
// (last, p50, p99) and cumulative histograms of RTT samples and resume durations. Both ends use it; it
// knows nothing of links or sessions (the owner reports attach, detach and RTT samples).
import { pushBounded, type HistogramSnapshot, type ReconnectEvent, type RttSummary } from './status.ts';

/** RTT samples older than this leave the window, in ms (the dashboard's percentiles are "last minute"). */
export const RTT_WINDOW_MS = 60_000;
/** Samples kept in the window at most (one ping a second fills a minute with 60; this bounds faster pings). */
export const MAX_RTT_SAMPLES = 600;
/** Reconnect events kept per session. */
export const MAX_RECONNECT_EVENTS = 50;
/** Upper bounds of RTT histogram buckets, in seconds (LAN to intercontinental 4G). */
export const RTT_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** Upper bounds of resume-duration buckets (detached until attached again), in seconds. */
export const RESUME_BUCKETS_S = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** A cumulative histogram: counts per bucket (the last one is +Inf), their sum and count. */
export class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    let i = this.bounds.findIndex((b) => value <= b);
    if (i < 0) i = this.bounds.length;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  snapshot(): HistogramSnapshot {
    return { bounds: [...this.bounds], counts: [...this.counts], sum: this.sum, count: this.count };
  }
}

/** The value at quantile `q` (0..1) of `values` (nearest rank); undefined when empty. */
export function quantile(values: readonly number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

export class LinkHistory {
  private readonly events: ReconnectEvent[] = [];
  private readonly samples: { at: number; ms: number }[] = [];
  private readonly rttHist = new Histogram(RTT_BUCKETS_S);
  private readonly resumeHist = new Histogram(RESUME_BUCKETS_S);
  private lastChange: number | undefined;
  private detachedAt: number | undefined;
  private attachedOnce = false;

  /** `now` is wall-clock ms (events carry wall-clock times); tests pass a fake. */
  constructor(private readonly now: () => number = Date.now) {}

  /** A link joined: after a detach, that outage's duration is the resume duration. */
  attached(): void {
    const at = this.now();
    const durationMs = this.detachedAt !== undefined ? at - this.detachedAt : undefined;
    if (durationMs !== undefined && this.attachedOnce) this.resumeHist.observe(durationMs / 1000);
    this.attachedOnce = true;
    this.detachedAt = undefined;
    this.push({ at, event: 'attached', ...(durationMs !== undefined ? { durationMs } : {}) });
  }

  /** The link was lost with `code`: the event says how long the link had been up. */
  detached(code: string | undefined): void {
    const at = this.now();
    const durationMs = this.lastChange !== undefined ? at - this.lastChange : undefined;
    this.detachedAt = at;
    this.push({
      at,
      event: 'detached',
      ...(code ? { code } : {}),
      ...(durationMs !== undefined ? { durationMs } : {}),
    });
  }

  /** One RTT measurement in ms. */
  rtt(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    const at = this.now();
    this.samples.push({ at, ms });
    this.trim(at);
    this.rttHist.observe(ms / 1000);
  }

  get reconnects(): ReconnectEvent[] {
    return [...this.events];
  }

  /** Last, p50 and p99 over the window; undefined before the first sample. */
  rttSummary(): RttSummary | undefined {
    this.trim(this.now());
    const ms = this.samples.map((s) => s.ms);
    const last = ms[ms.length - 1];
    if (last === undefined) return undefined;
    return {
      lastMs: last,
      p50Ms: quantile(ms, 0.5)!,
      p99Ms: quantile(ms, 0.99)!,
      samples: ms.length,
      windowMs: RTT_WINDOW_MS,
    };
  }

  rttHistogram(): HistogramSnapshot {
    return this.rttHist.snapshot();
  }

  resumeHistogram(): HistogramSnapshot {
    return this.resumeHist.snapshot();
  }

  private push(e: ReconnectEvent): void {
    this.lastChange = e.at;
    pushBounded(this.events, e, MAX_RECONNECT_EVENTS);
  }

  private trim(now: number): void {
    let drop = 0;
    while (drop < this.samples.length && now - this.samples[drop]!.at > RTT_WINDOW_MS) drop++;
    if (this.samples.length - drop > MAX_RTT_SAMPLES) drop = this.samples.length - MAX_RTT_SAMPLES;
    if (drop > 0) this.samples.splice(0, drop);
  }
}

/** The RTT fields of a session's status from its history. */
export function rttFields(h: LinkHistory): {
  rtt?: RttSummary;
  rttHistogram: HistogramSnapshot;
  resumeHistogram: HistogramSnapshot;
} {
  const rtt = h.rttSummary();
  return {
    ...(rtt ? { rtt } : {}),
    rttHistogram: h.rttHistogram(),
    resumeHistogram: h.resumeHistogram(),
  };
}

/** What a session's 'attached' event hands over: a link that reports RTT samples ('rtt': srtt, sample). */
export interface RttSource {
  on?(event: 'rtt', listener: (srtt: number, sample?: number) => void): unknown;
}

/** Feeds every RTT sample of `link` (the raw one when the link gives it) to `histories`. */
export function takeRttSamples(link: RttSource | undefined, ...histories: LinkHistory[]): void {
  link?.on?.('rtt', (srtt: number, sample?: number) => {
    for (const h of histories) h.rtt(sample ?? srtt);
  });
}
