// /metrics from snapshot factories: names and types after Prometheus conventions, every figure equal to
// the snapshot's, histograms summed per agent, no session id label, process metrics present.
import test from 'ava';
import { buildMetricsRegistry } from '../../src/admin/metrics.ts';
import type { HistogramSnapshot, RelayStatus } from '../../src/observe/status.ts';
import { agentStatus, mapping, relayStatus, session } from '../tui/fixtures.ts';
import { sample } from '../integration/udp-stack.ts';

const hist = (counts: number[], sum: number): HistogramSnapshot => ({
  bounds: [0.01, 0.1, 1],
  counts,
  sum,
  count: counts.reduce((a, b) => a + b, 0),
});

function relay(): RelayStatus {
  return relayStatus({
    handshakes: {
      pending: 3,
      pendingKnown: 1,
      established: 5,
      refused: 0,
      evictedSource: 1,
      evictedTotal: 0,
      evictedAgent: 0,
      firstMessageTimeouts: 2,
      handshakeTimeouts: 0,
      failed: 4,
      failuresByCode: { XNAT_ERR_LINK_UNKNOWN_AGENT: 3, XNAT_ERR_LINK_BAD_PSK: 1 },
    },
    dialers: [
      {
        agent: 'alpha',
        dial: 'home.example:7100',
        state: 'linked',
        dials: 7,
        failures: { XNAT_ERR_LINK_CONNECT: 6 },
      },
    ],
    sessions: [
      session({ rttHistogram: hist([2, 1, 0, 0], 0.05), resumeHistogram: hist([0, 0, 1, 1], 3.5) }),
      // A second session of the same agent: its figures add up under one label.
      session({ id: 'second', resumes: 2, bytesSent: 100, rttHistogram: hist([1, 0, 0, 1], 2.001) }),
    ],
    mappings: [
      mapping({ activeStreams: 2, totalStreams: 40, traffic: { bytesUp: 1000, bytesDown: 5000 } }),
      mapping({
        name: 'valheim',
        protocol: 'udp',
        activeStreams: 3,
        totalStreams: 7,
        activeFlows: 3,
        totalFlows: 7,
        traffic: { bytesUp: 10, bytesDown: 20, packetsUp: 1, packetsDown: 2 },
        flowDrops: {
          tableFull: 1,
          perSource: 0,
          noAgent: 2,
          sessionRefused: 0,
          unknownFlow: 0,
          tooLarge: 0,
          noLink: 5,
        },
      }),
      mapping({ name: 'off', disabled: true }),
    ],
  });
}

test('relay metrics: names, types and values equal to the snapshot', async (t) => {
  const s = relay();
  const text = await buildMetricsRegistry(() => s).metrics();
  const types: Record<string, string> = {};
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types[m[1]!] = m[2]!;
  for (const [name, type] of Object.entries({
    xnat_up: 'gauge',
    xnat_sessions: 'gauge',
    xnat_session_sent_bytes_total: 'counter',
    xnat_session_received_bytes_total: 'counter',
    xnat_session_replay_bytes: 'gauge',
    xnat_reconnects_total: 'counter',
    xnat_rtt_seconds: 'histogram',
    xnat_resume_duration_seconds: 'histogram',
    xnat_handshake_failures_total: 'counter',
    xnat_reverse_dial_failures_total: 'counter',
    xnat_mapping_ready: 'gauge',
    xnat_mapping_open_connections: 'gauge',
    xnat_mapping_connections_total: 'counter',
    xnat_mapping_open_flows: 'gauge',
    xnat_mapping_flows_total: 'counter',
    xnat_mapping_bytes_total: 'counter',
    xnat_mapping_datagrams_total: 'counter',
    xnat_udp_drops_total: 'counter',
    xnat_link_handshakes_total: 'counter',
    xnat_link_handshakes_pending: 'gauge',
    process_cpu_seconds_total: 'counter',
    process_resident_memory_bytes: 'gauge',
  }))
    t.is(types[name], type, name);
  // Counters end in _total; no gauge pretends to be a total.
  for (const [name, type] of Object.entries(types)) {
    if (!name.startsWith('xnat_')) continue;
    t.is(type === 'counter', name.endsWith('_total'), name);
  }
  t.false(/session="/.test(text), 'no session id label');

  const [a, b] = s.sessions;
  t.is(sample(text, 'xnat_session_sent_bytes_total', { agent: 'alpha' }), a!.bytesSent + b!.bytesSent);
  t.is(sample(text, 'xnat_reconnects_total', { agent: 'alpha' }), 3);
  t.is(sample(text, 'xnat_mapping_open_connections', { mapping: 'minecraft' }), 2);
  t.is(sample(text, 'xnat_mapping_connections_total', { mapping: 'minecraft' }), 40);
  t.is(sample(text, 'xnat_mapping_open_connections', { mapping: 'valheim' }), 0, 'udp is not a tcp count');
  t.is(sample(text, 'xnat_mapping_open_flows', { mapping: 'valheim' }), 3);
  t.is(sample(text, 'xnat_mapping_flows_total', { mapping: 'valheim' }), 7);
  t.is(sample(text, 'xnat_mapping_bytes_total', { mapping: 'minecraft', direction: 'down' }), 5000);
  t.is(sample(text, 'xnat_mapping_datagrams_total', { mapping: 'valheim', direction: 'down' }), 2);
  t.is(sample(text, 'xnat_udp_drops_total', { mapping: 'valheim', cause: 'no_link' }), 5);
  t.is(sample(text, 'xnat_mapping_ready', { mapping: 'off' }), 0, 'disabled is not ready');
  t.is(sample(text, 'xnat_handshake_failures_total', { code: 'XNAT_ERR_LINK_UNKNOWN_AGENT' }), 3);
  t.is(sample(text, 'xnat_link_handshakes_total', { outcome: 'failed' }), 4);
  t.is(
    sample(text, 'xnat_reverse_dial_failures_total', { agent: 'alpha', code: 'XNAT_ERR_LINK_CONNECT' }),
    6,
  );
  // Histograms: cumulative buckets summed over the agent's sessions, +Inf = count.
  t.regex(text, /xnat_rtt_seconds_bucket\{agent="alpha",le="0.01"\} 3\n/);
  t.regex(text, /xnat_rtt_seconds_bucket\{agent="alpha",le="0.1"\} 4\n/);
  t.regex(text, /xnat_rtt_seconds_bucket\{agent="alpha",le="1"\} 4\n/);
  t.regex(text, /xnat_rtt_seconds_bucket\{agent="alpha",le="\+Inf"\} 5\n/);
  t.true(Math.abs(sample(text, 'xnat_rtt_seconds_sum', { agent: 'alpha' }) - 2.051) < 1e-9);
  t.regex(text, /xnat_rtt_seconds_count\{agent="alpha"\} 5\n/);
  t.regex(text, /xnat_resume_duration_seconds_count\{agent="alpha"\} 2\n/);
});

test('a scrape reads a fresh snapshot; agent metrics sum its relays and count link failures by code', async (t) => {
  let s = agentStatus();
  const registry = buildMetricsRegistry(() => s);
  let text = await registry.metrics();
  t.is(sample(text, 'xnat_mapping_connections_total', { mapping: 'minecraft' }), 3);
  t.regex(text, /xnat_up\{role="agent"\} 1/);
  s = agentStatus({
    mappings: [mapping({ local: '127.0.0.1:25565', totalStreams: 4 })],
    relays: agentStatus().relays.map((r) => ({ ...r, linkFailures: { XNAT_ERR_LINK_CONNECT: 2 } })),
  });
  text = await registry.metrics();
  t.is(sample(text, 'xnat_mapping_connections_total', { mapping: 'minecraft' }), 4);
  t.is(sample(text, 'xnat_handshake_failures_total', { code: 'XNAT_ERR_LINK_CONNECT' }), 4);
});
