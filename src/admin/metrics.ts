// Prometheus exposition over HTTP (GET /metrics), computed from the status snapshot at each scrape.
// prom-client renders the text format (a well-kept library; the format has escaping rules we'd rather not own).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry, Gauge, Counter } from 'prom-client';
import { XnatError } from '../errors.ts';
import type { Logger } from '../observe/log.ts';
import type { Status, UdpDrops } from '../observe/status.ts';
import type { HostPort } from '../config/index.ts';

export interface MetricsServer {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Builds the registry; every gauge reads the snapshot taken once per scrape. */
export function buildMetricsRegistry(status: () => Status): Registry {
  const registry = new Registry();
  let snap: Status = status();
  const sessions = () =>
    snap.role === 'relay' ? snap.sessions : snap.relays.flatMap((r) => (r.session ? [r.session] : []));
  // Every metric is recomputed from the snapshot at each scrape: reset, then filled.
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge) => void) =>
    new Gauge({ name, help, labelNames, registers: [registry], collect: refill(fill) });
  const counter = (name: string, help: string, labelNames: string[], fill: (c: Counter) => void) =>
    new Counter({ name, help, labelNames, registers: [registry], collect: refill(fill) });

  gauge('xnat_up', 'Always 1 while the process runs; role label says relay or agent.', ['role'], (g) => {
    snap = status();
    g.set({ role: snap.role }, 1);
  });
  gauge('xnat_sessions', 'Sessions by state.', ['state'], (g) => {
    for (const s of sessions()) g.inc({ state: s.state }, 1);
  });
  gauge('xnat_session_bytes_sent', 'Bytes sent in frames per session.', ['agent', 'session'], (g) => {
    for (const s of sessions()) g.set({ agent: s.agent, session: s.id.slice(0, 12) }, s.bytesSent);
  });
  gauge('xnat_session_bytes_received', 'Bytes received in frames per session.', ['agent', 'session'], (g) => {
    for (const s of sessions()) g.set({ agent: s.agent, session: s.id.slice(0, 12) }, s.bytesReceived);
  });
  gauge(
    'xnat_session_rtt_seconds',
    'Smoothed link round-trip time per session.',
    ['agent', 'session'],
    (g) => {
      for (const s of sessions())
        if (s.rttMs !== undefined) g.set({ agent: s.agent, session: s.id.slice(0, 12) }, s.rttMs / 1000);
    },
  );
  gauge('xnat_session_resumes', 'Times each session resumed on a new link.', ['agent', 'session'], (g) => {
    for (const s of sessions()) g.set({ agent: s.agent, session: s.id.slice(0, 12) }, s.resumes);
  });
  gauge(
    'xnat_session_replay_bytes',
    'Bytes held in the replay buffer per session.',
    ['agent', 'session'],
    (g) => {
      for (const s of sessions()) g.set({ agent: s.agent, session: s.id.slice(0, 12) }, s.replayBytes);
    },
  );
  gauge('xnat_mapping_active_streams', 'Open streams per mapping.', ['mapping', 'protocol'], (g) => {
    for (const m of snap.mappings) g.set({ mapping: m.name, protocol: m.protocol }, m.activeStreams);
  });
  gauge('xnat_mapping_streams', 'Streams opened per mapping since start.', ['mapping', 'protocol'], (g) => {
    for (const m of snap.mappings) g.set({ mapping: m.name, protocol: m.protocol }, m.totalStreams);
  });
  gauge('xnat_mapping_ready', '1 when the mapping is ready, else 0.', ['mapping', 'protocol'], (g) => {
    for (const m of snap.mappings)
      g.set({ mapping: m.name, protocol: m.protocol }, m.phase === 'ready' ? 1 : 0);
  });
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
  gauge('xnat_mapping_active_flows', 'UDP flows open now per udp mapping.', ['mapping'], (g) => {
    for (const m of snap.mappings) if (m.activeFlows !== undefined) g.set({ mapping: m.name }, m.activeFlows);
  });
  counter('xnat_mapping_flows_total', 'UDP flows opened per udp mapping since start.', ['mapping'], (c) => {
    for (const m of snap.mappings) if (m.totalFlows !== undefined) c.inc({ mapping: m.name }, m.totalFlows);
  });
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
    'xnat_replies_dropped_total',
    'Answers a peer solicited (resets of never-opened streams, refusals of flooded commands) dropped at the replay cap.',
    ['agent'],
    (c) => {
      for (const s of sessions()) if (s.repliesDropped) c.inc({ agent: s.agent }, s.repliesDropped);
    },
  );
  // The UDP path (docs/protocol.md, "UDP path"): which way datagrams take, and its drops by cause.
  gauge(
    'xnat_udp_path_state',
    'Which way datagrams take per session: 1 on the path label in force (udp, tcp-lane, probing).',
    ['agent', 'session', 'path'],
    (g) => {
      for (const s of sessions())
        if (s.datagramPath)
          g.set({ agent: s.agent, session: s.id.slice(0, 12), path: s.datagramPath.path }, 1);
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
