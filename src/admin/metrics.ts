// Prometheus exposition over HTTP (GET /metrics), computed from the status snapshot at each scrape.
// prom-client renders the text format (a well-kept library; the format has escaping rules we'd rather not own).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry, Gauge, Counter, collectDefaultMetrics, type Metric } from 'prom-client';
import { XnatError } from '../errors.ts';
import type { Logger } from '../observe/log.ts';
import type { HistogramSnapshot, SessionStatus, Status, UdpDrops } from '../observe/status.ts';
import { sessionsOf } from '../observe/status.ts';
import type { HostPort } from '../config/index.ts';

export interface MetricsServer {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Builds the registry. One snapshot is taken per scrape (the same object `xnat status` and the dashboard
 * get) and every series is computed from it, so the three never disagree. Prometheus conventions: byte,
 * connection, datagram, drop, reconnect and failure counts are counters named `_total`; RTT and resume
 * durations are histograms in seconds; identity labels are mapping and agent names only (a session id
 * would make a new series per reconnect). Process metrics come from prom-client's default collectors.
 * A session's counters start again with a new session; Prometheus reads the drop as a counter reset.
 */
export function buildMetricsRegistry(status: () => Status): Registry {
  const registry = new Registry();
  let snap: Status = status();
  const scrape = registry.metrics.bind(registry);
  registry.metrics = () => {
    snap = status();
    return scrape();
  };
  collectDefaultMetrics({ register: registry });
  const sessions = () => sessionsOf(snap);
  const agentName = (s: SessionStatus) => s.agent;
  const tcp = () => snap.mappings.filter((m) => m.protocol === 'tcp');
  const udp = () => snap.mappings.filter((m) => m.protocol === 'udp');
  // Every metric is recomputed from the snapshot at each scrape: reset, then filled.
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge) => void) =>
    new Gauge({ name, help, labelNames, registers: [registry], collect: refill(fill) });
  const counter = (name: string, help: string, labelNames: string[], fill: (c: Counter) => void) =>
    new Counter({ name, help, labelNames, registers: [registry], collect: refill(fill) });
  const histogram = (name: string, help: string, pick: (s: SessionStatus) => HistogramSnapshot | undefined) =>
    registry.registerMetric(
      new SnapshotHistogram(name, help, 'agent', () =>
        sessions().flatMap((s) => {
          const h = pick(s);
          return h ? [{ label: agentName(s), histogram: h }] : [];
        }),
      ) as unknown as Metric,
    );

  gauge('xnat_up', 'Always 1 while the process runs; role label says relay or agent.', ['role'], (g) => {
    g.set({ role: snap.role }, 1);
  });
  gauge('xnat_sessions', 'Sessions by state.', ['state'], (g) => {
    for (const s of sessions()) g.inc({ state: s.state }, 1);
  });
  counter('xnat_session_sent_bytes_total', 'Bytes sent in frames, by agent.', ['agent'], (c) => {
    for (const s of sessions()) c.inc({ agent: agentName(s) }, s.bytesSent);
  });
  counter('xnat_session_received_bytes_total', 'Bytes received in frames, by agent.', ['agent'], (c) => {
    for (const s of sessions()) c.inc({ agent: agentName(s) }, s.bytesReceived);
  });
  gauge('xnat_session_replay_bytes', 'Bytes held in replay buffers now, by agent.', ['agent'], (g) => {
    for (const s of sessions()) g.inc({ agent: agentName(s) }, s.replayBytes);
  });
  counter('xnat_reconnects_total', 'Times a session resumed on a new link, by agent.', ['agent'], (c) => {
    for (const s of sessions()) c.inc({ agent: agentName(s) }, s.resumes);
  });
  histogram('xnat_rtt_seconds', 'Link round-trip times measured by keepalive pings.', (s) => s.rttHistogram);
  histogram(
    'xnat_resume_duration_seconds',
    'Outages that ended in a resume: from the link lost to a link attached again.',
    (s) => s.resumeHistogram,
  );
  gauge('xnat_mapping_ready', '1 when the mapping is ready (and not disabled), else 0.', ['mapping'], (g) => {
    for (const m of snap.mappings) g.set({ mapping: m.name }, m.phase === 'ready' && !m.disabled ? 1 : 0);
  });
  gauge(
    'xnat_mapping_open_connections',
    'Visitor connections open now per tcp mapping.',
    ['mapping'],
    (g) => {
      for (const m of tcp()) g.set({ mapping: m.name }, m.activeStreams);
    },
  );
  counter('xnat_mapping_connections_total', 'Visitor connections per tcp mapping.', ['mapping'], (c) => {
    for (const m of tcp()) c.inc({ mapping: m.name }, m.totalStreams);
  });
  gauge('xnat_mapping_open_flows', 'UDP flows open now per udp mapping.', ['mapping'], (g) => {
    for (const m of udp()) g.set({ mapping: m.name }, m.activeFlows ?? m.activeStreams);
  });
  counter('xnat_mapping_flows_total', 'UDP flows per udp mapping.', ['mapping'], (c) => {
    for (const m of udp()) c.inc({ mapping: m.name }, m.totalFlows ?? m.totalStreams);
  });
  counter(
    'xnat_mapping_bytes_total',
    'Visitor bytes per mapping; direction up is visitor to LAN service, down the way back.',
    ['mapping', 'direction'],
    (c) => {
      for (const m of snap.mappings) {
        if (!m.traffic) continue;
        c.inc({ mapping: m.name, direction: 'up' }, m.traffic.bytesUp);
        c.inc({ mapping: m.name, direction: 'down' }, m.traffic.bytesDown);
      }
    },
  );
  counter(
    'xnat_mapping_datagrams_total',
    'Datagrams per udp mapping; direction up is visitor to LAN service, down the way back.',
    ['mapping', 'direction'],
    (c) => {
      for (const m of udp()) {
        c.inc({ mapping: m.name, direction: 'up' }, m.traffic?.packetsUp ?? 0);
        c.inc({ mapping: m.name, direction: 'down' }, m.traffic?.packetsDown ?? 0);
      }
    },
  );
  // Handshake admission on the relay's control port (docs/security.md, "Admission").
  gauge('xnat_link_handshakes_pending', 'Unfinished link handshakes now.', ['known'], (g) => {
    const h = snap.role === 'relay' ? snap.handshakes : undefined;
    if (!h) return;
    g.set({ known: 'false' }, h.pending - h.pendingKnown);
    g.set({ known: 'true' }, h.pendingKnown);
  });
  counter(
    'xnat_link_handshakes_total',
    'Link handshakes since start by outcome (established, refused, evicted_*, timeout_*, failed).',
    ['outcome'],
    (c) => {
      const h = snap.role === 'relay' ? snap.handshakes : undefined;
      if (!h) return;
      const outcomes: Record<string, number> = {
        established: h.established,
        refused: h.refused,
        evicted_source: h.evictedSource,
        evicted_total: h.evictedTotal,
        evicted_agent: h.evictedAgent,
        timeout_first_message: h.firstMessageTimeouts,
        timeout_handshake: h.handshakeTimeouts,
        failed: h.failed,
      };
      for (const [outcome, n] of Object.entries(outcomes)) c.inc({ outcome }, n);
    },
  );
  counter(
    'xnat_handshake_failures_total',
    'Failed link handshakes by error code (relay: accepted links; agent: dials and handshakes to its relays).',
    ['code'],
    (c) => {
      const byCode =
        snap.role === 'relay'
          ? [snap.handshakes?.failuresByCode ?? {}]
          : snap.relays.map((r) => r.linkFailures ?? {});
      for (const counts of byCode) for (const [code, n] of Object.entries(counts)) c.inc({ code }, n);
    },
  );
  counter(
    'xnat_reverse_dial_failures_total',
    'Reverse mode, relay: failed dials of agents (connect or handshake), by agent and error code.',
    ['agent', 'code'],
    (c) => {
      if (snap.role !== 'relay') return;
      for (const d of snap.dialers ?? [])
        for (const [code, n] of Object.entries(d.failures)) c.inc({ agent: d.agent, code }, n);
    },
  );
  counter(
    'xnat_udp_drops_total',
    'UDP drops by cause (table_full and per_source count evicted flows, the rest datagrams); mapping is empty where none is known.',
    ['mapping', 'cause'],
    (c) => {
      // Mapping-level counters carry every cause a mapping can own; unknown_flow and the agent's refusals
      // of unknown mappings have none and come from the sessions (a cause is never counted at both levels).
      for (const m of snap.mappings) if (m.flowDrops) addDrops(c, m.name, m.flowDrops, MAPPING_CAUSES);
      for (const s of sessions()) if (s.flowDrops) addDrops(c, '', s.flowDrops, SESSION_ONLY_CAUSES);
    },
  );
  counter(
    'xnat_visitors_refused_total',
    'Visitors turned away or cut by cause (share: the mapping held its share of the stream cap; stream_limit; idle_timeout).',
    ['agent', 'cause'],
    (c) => {
      for (const s of sessions()) {
        const r = s.visitorsRefused;
        if (!r) continue;
        c.inc({ agent: s.agent, cause: 'share' }, r.share);
        c.inc({ agent: s.agent, cause: 'stream_limit' }, r.streamLimit);
        c.inc({ agent: s.agent, cause: 'idle_timeout' }, r.idleTimeout);
      }
    },
  );
  counter(
    'xnat_mapping_visitors_refused_total',
    "Visitors turned away by the relay's who-may-visit rules per mapping (denied, not_allowed, banned, rate, max_connections, per_source, no_agent).",
    ['mapping', 'cause'],
    (c) => {
      for (const m of snap.mappings)
        for (const [cause, n] of Object.entries(m.visitorsRefused ?? {}))
          c.inc({ mapping: m.name, cause: cause.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`) }, n);
    },
  );
  counter(
    'xnat_replies_dropped_total',
    'Answers a peer solicited (resets of never-opened streams, refusals of flooded commands) dropped at the replay cap.',
    ['agent'],
    (c) => {
      for (const s of sessions()) if (s.repliesDropped) c.inc({ agent: s.agent }, s.repliesDropped);
    },
  );
  counter(
    'xnat_command_calls_total',
    "Command calls per session endpoint, by command name and direction (out: this side called; in: the peer's calls).",
    ['agent', 'command', 'direction'],
    (c) => {
      for (const s of sessions())
        for (const [command, k] of Object.entries(s.commands ?? {})) {
          c.inc({ agent: s.agent, command, direction: 'out' }, k.callsOut);
          c.inc({ agent: s.agent, command, direction: 'in' }, k.callsIn);
        }
    },
  );
  counter(
    'xnat_command_errors_total',
    'Command calls that ended in an error (timeouts, refusals, handler failures), by command name and direction.',
    ['agent', 'command', 'direction'],
    (c) => {
      for (const s of sessions())
        for (const [command, k] of Object.entries(s.commands ?? {})) {
          c.inc({ agent: s.agent, command, direction: 'out' }, k.errorsOut);
          c.inc({ agent: s.agent, command, direction: 'in' }, k.errorsIn);
        }
    },
  );
  // The UDP path (docs/protocol.md, "UDP path"): which way datagrams take, and its drops by cause.
  gauge(
    'xnat_udp_path_sessions',
    'Sessions by the way their datagrams take now (path: udp, tcp-lane, probing), by agent.',
    ['agent', 'path'],
    (g) => {
      for (const s of sessions()) if (s.datagramPath) g.inc({ agent: s.agent, path: s.datagramPath.path }, 1);
    },
  );
  counter(
    'xnat_udp_path_datagrams_total',
    'Datagrams sent and received on the UDP path (not the tcp lane) per agent.',
    ['agent', 'direction'],
    (c) => {
      for (const s of sessions()) {
        if (!s.datagramPath) continue;
        c.inc({ agent: s.agent, direction: 'sent' }, s.datagramPath.sent);
        c.inc({ agent: s.agent, direction: 'received' }, s.datagramPath.received);
      }
    },
  );
  counter(
    'xnat_udp_path_drops_total',
    'UDP path datagrams dropped by cause (replayed, bad_tag, malformed; relay: unknown_index, and malformed with agent empty).',
    ['agent', 'cause'],
    (c) => {
      for (const s of sessions()) {
        const p = s.datagramPath;
        if (!p) continue;
        c.inc({ agent: s.agent, cause: 'replayed' }, p.replayed);
        c.inc({ agent: s.agent, cause: 'bad_tag' }, p.badTag);
        c.inc({ agent: s.agent, cause: 'malformed' }, p.malformed);
      }
      const u = snap.role === 'relay' ? snap.udpPath : undefined;
      if (u) {
        c.inc({ agent: '', cause: 'unknown_index' }, u.unknownIndex);
        c.inc({ agent: '', cause: 'malformed' }, u.malformed);
      }
    },
  );
  return registry;
}

/**
 * A histogram read from snapshots: prom-client's Histogram only observes values one by one, while ours
 * are kept by the producers (observe/link-history.ts); this renders theirs, summed per label value.
 */
class SnapshotHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelName: string,
    private readonly read: () => { label: string; histogram: HistogramSnapshot }[],
  ) {}

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: HistogramValue[] }> {
    const merged = new Map<
      string,
      { bounds: readonly number[]; counts: number[]; sum: number; count: number }
    >();
    for (const { label, histogram: h } of this.read()) {
      const m = merged.get(label);
      if (!m) merged.set(label, { bounds: h.bounds, counts: [...h.counts], sum: h.sum, count: h.count });
      else if (m.bounds.join() === h.bounds.join()) {
        h.counts.forEach((n, i) => (m.counts[i] = (m.counts[i] ?? 0) + n));
        m.sum += h.sum;
        m.count += h.count;
      }
    }
    const values: HistogramValue[] = [];
    for (const [label, m] of merged) {
      let acc = 0;
      m.bounds.forEach((b, i) => {
        acc += m.counts[i] ?? 0;
        values.push({
          labels: { [this.labelName]: label, le: b },
          value: acc,
          metricName: `${this.name}_bucket`,
        });
      });
      values.push({
        labels: { [this.labelName]: label, le: '+Inf' },
        value: m.count,
        metricName: `${this.name}_bucket`,
      });
      values.push({ labels: { [this.labelName]: label }, value: m.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { [this.labelName]: label }, value: m.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    });
  }

  reset(): void {}
}

interface HistogramValue {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName: string;
}

/** A collect() that empties the metric and fills it afresh. */
function refill<M extends { reset(): void }>(fill: (m: M) => void): (this: M) => void {
  return function (this: M) {
    this.reset();
    fill(this);
  };
}

/** Prometheus label value of each drop cause. */
const CAUSE_LABEL: Record<keyof UdpDrops, string> = {
  tableFull: 'table_full',
  perSource: 'per_source',
  noAgent: 'no_agent',
  sessionRefused: 'session_refused',
  unknownFlow: 'unknown_flow',
  tooLarge: 'too_large',
  noLink: 'no_link',
};
const SESSION_ONLY_CAUSES: readonly (keyof UdpDrops)[] = ['unknownFlow'];
const MAPPING_CAUSES = (Object.keys(CAUSE_LABEL) as (keyof UdpDrops)[]).filter(
  (k) => !SESSION_ONLY_CAUSES.includes(k),
);

function addDrops(c: Counter, mapping: string, drops: UdpDrops, causes: readonly (keyof UdpDrops)[]): void {
  for (const k of causes) c.inc({ mapping, cause: CAUSE_LABEL[k] }, drops[k] ?? 0);
}

export function startMetricsServer(
  listen: HostPort,
  status: () => Status,
  logger: Logger,
): Promise<MetricsServer> {
  const registry = buildMetricsRegistry(status);
  const log = logger.child({ what: 'metrics' });
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new XnatError('XNAT_ERR_ADMIN_LISTEN', {
          detail: `${listen.host}:${listen.port} ${err.code ?? ''}`,
          cause: err,
        }),
      ),
    );
    server.listen({ host: listen.host, port: listen.port }, () => {
      const addr = server.address() as AddressInfo;
      log.info({ address: addr.address, port: addr.port }, 'listening');
      resolve({
        address: addr.address,
        port: addr.port,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
