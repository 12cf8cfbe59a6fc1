// Per-mapping trends across snapshots: throughput now, a sparkline of recent throughput, connections per
// minute; and per-connection rates between two snapshots. Pure bookkeeping: the caller says when each
// snapshot arrived; it knows nothing of rendering.
import { sessionsOf, type MappingStatus, type Status } from '../observe/status.ts';

/** Snapshots remembered per mapping: a minute at the default 1 s interval. */
export const TREND_WINDOW_MS = 60_000;
/** Samples kept per mapping at most (a short interval cannot grow it). */
const MAX_SAMPLES = 240;
/** Throughput points kept for the sparkline. */
export const SPARK_POINTS = 30;

export interface MappingTrend {
  /** Bytes per second both ways over the last interval; undefined after the first snapshot. */
  readonly bytesPerSec: number | undefined;
  /** Recent throughput points, oldest first (bytes per second). */
  readonly spark: readonly number[];
  /** New connections (tcp) or flows (udp) per minute over the window; undefined with one snapshot. */
  readonly perMinute: number | undefined;
}

interface Sample {
  readonly at: number;
  readonly bytes: number;
  readonly total: number;
}

/** A mapping's identity across snapshots. */
export const mappingKey = (m: Pick<MappingStatus, 'protocol' | 'name'>) => `${m.protocol}/${m.name}`;

const bytesOf = (m: MappingStatus) => (m.traffic ? m.traffic.bytesUp + m.traffic.bytesDown : 0);

export class TrendBook {
  private readonly samples = new Map<string, Sample[]>();
  private readonly sparks = new Map<string, number[]>();

  /** Adds a snapshot that arrived at `at` (ms, any monotonic clock) and returns every mapping's trend. */
  push(status: Status, at: number): ReadonlyMap<string, MappingTrend> {
    const out = new Map<string, MappingTrend>();
    const seen = new Set<string>();
    for (const m of status.mappings) {
      const key = mappingKey(m);
      seen.add(key);
      const list = this.samples.get(key) ?? [];
      const prev = list[list.length - 1];
      const sample = { at, bytes: bytesOf(m), total: m.totalStreams };
      // A counter that went down belongs to a reopened mapping: start its history again.
      if (prev && (sample.bytes < prev.bytes || sample.total < prev.total)) list.length = 0;
      const last = list[list.length - 1];
      list.push(sample);
      while (list.length > MAX_SAMPLES || (list.length > 1 && at - list[0]!.at > TREND_WINDOW_MS))
        list.shift();
      this.samples.set(key, list);
      const spark = this.sparks.get(key) ?? [];
      let rate: number | undefined;
      if (last && at > last.at) {
        rate = ((sample.bytes - last.bytes) * 1000) / (at - last.at);
        spark.push(rate);
        if (spark.length > SPARK_POINTS) spark.shift();
      }
      this.sparks.set(key, spark);
      const first = list[0]!;
      const span = at - first.at;
      out.set(key, {
        bytesPerSec: rate,
        spark: [...spark],
        perMinute: span > 0 ? ((sample.total - first.total) * 60_000) / span : undefined,
      });
    }
    for (const key of [...this.samples.keys()]) {
      if (!seen.has(key)) {
        this.samples.delete(key);
        this.sparks.delete(key);
      }
    }
    return out;
  }
}

/** Key of a connection (stream) or flow of a session, stable across snapshots. */
export const itemKey = (sessionId: string, kind: 'tcp' | 'udp', id: number) => `${sessionId}/${kind}/${id}`;

/** Bytes per second (both ways) of every stream and flow present in both snapshots, `dtMs` apart. */
export function itemRates(prev: Status | undefined, next: Status, dtMs: number): ReadonlyMap<string, number> {
  const out = new Map<string, number>();
  if (!prev || dtMs <= 0) return out;
  const before = new Map<string, number>();
  const each = (s: Status, f: (key: string, bytes: number) => void) => {
    for (const x of sessionsOf(s)) {
      for (const st of x.streams) f(itemKey(x.id, 'tcp', st.id), st.bytesUp + st.bytesDown);
      for (const fl of x.flows ?? []) f(itemKey(x.id, 'udp', fl.id), fl.bytesUp + fl.bytesDown);
    }
  };
  each(prev, (k, b) => before.set(k, b));
  each(next, (k, b) => {
    const was = before.get(k);
    if (was !== undefined && b >= was) out.set(k, ((b - was) * 1000) / dtMs);
  });
  return out;
}
