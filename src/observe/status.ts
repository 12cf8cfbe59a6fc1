// Status snapshots: plain, serializable objects describing a running relay or agent at one instant.
// Producers build them on demand; the CLI, admin endpoint and dashboard only read them, never logs.

/** One reconnect event of a session, newest last. */
export interface ReconnectEvent {
  /** Wall-clock time, ms since the epoch. */
  readonly at: number;
  /** 'attached' when a link joined, 'detached' when one was lost (with the code that ended it). */
  readonly event: 'attached' | 'detached';
  readonly code?: string;
  /** 'attached' after an outage: how long it lasted; 'detached': how long the link had been up (ms). */
  readonly durationMs?: number;
}

/** RTT over the last window of link pings, in ms. */
export interface RttSummary {
  readonly lastMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Samples in the window. */
  readonly samples: number;
  readonly windowMs: number;
}

/** A cumulative histogram since start: counts per bucket (non-cumulative, the last one +Inf), sum, count. */
export interface HistogramSnapshot {
  /** Upper bounds of the buckets, in seconds. */
  readonly bounds: readonly number[];
  /** One count per bound plus one for +Inf. */
  readonly counts: readonly number[];
  readonly sum: number;
  readonly count: number;
}

/**
 * A mapping's traffic since its public port opened, open and closed visitors alike. "Up" is from the
 * visitor towards the LAN service. Datagrams are counted for udp mappings only.
 */
export interface MappingTraffic {
  readonly bytesUp: number;
  readonly bytesDown: number;
  readonly packetsUp?: number;
  readonly packetsDown?: number;
}

export interface StreamStatus {
  readonly id: number;
  readonly mapping: string;
  /** Visitor address as host:port. */
  readonly visitor: string;
  /** Bytes from the visitor towards the LAN service. */
  readonly bytesUp: number;
  /** Bytes from the LAN service towards the visitor. */
  readonly bytesDown: number;
  readonly ageMs: number;
}

/**
 * UDP drops by cause since start. Evictions count flows (their later datagrams start a new flow); the
 * other causes count datagrams.
 */
export interface UdpDrops {
  /** Flows evicted, least recently active first, because the flow table was full. */
  readonly tableFull: number;
  /** Flows evicted because their visitor address held the most flows one address may (relay side). */
  readonly perSource: number;
  /** Datagrams of new visitors dropped because no session served the mapping. */
  readonly noAgent: number;
  /** Datagrams of new visitors dropped because the serving session refused the flow (it is closing). */
  readonly sessionRefused: number;
  /**
   * Datagrams for a flow id this side does not know (closed, opened for a mapping it does not serve, or not
   * opened within the pending time); counted per session, never per mapping.
   */
  readonly unknownFlow: number;
  /** Datagrams larger than a frame carries. */
  readonly tooLarge: number;
  /** Datagrams dropped because no link was attached or the link was congested. */
  readonly noLink: number;
}

/** One UDP flow (one visitor address of a UDP mapping). */
export interface FlowStatus {
  /** Flow id within its session. */
  readonly id: number;
  readonly mapping: string;
  /** Visitor address as host:port. */
  readonly visitor: string;
  /** Datagrams and bytes from the visitor towards the LAN service. */
  readonly packetsUp: number;
  readonly bytesUp: number;
  /** Datagrams and bytes from the LAN service towards the visitor. */
  readonly packetsDown: number;
  readonly bytesDown: number;
  /** Datagrams of this flow dropped on this side (no link, congestion, a full queue). */
  readonly drops: number;
  readonly ageMs: number;
  /** Time since the last datagram either way. */
  readonly idleMs: number;
}

/**
 * Which way a session's datagrams take and the UDP path's counters, summed over the session's links
 * (docs/protocol.md, "UDP path"). `path`: 'udp' (sealed datagrams over UDP), 'tcp-lane' (the link's
 * datagram lane: no UDP path, UDP blocked, or turned off), 'probing' (a new link's path not yet confirmed;
 * datagrams take the TCP lane meanwhile). Datagrams over UDP_PATH_MAX_PAYLOAD_BYTES always take the lane.
 */
export interface DatagramPathStatus {
  readonly path: 'udp' | 'tcp-lane' | 'probing';
  /** DATA datagrams sent and received on the UDP path. */
  readonly sent: number;
  readonly received: number;
  /** Dropped: replayed or too far behind the replay window. */
  readonly replayed: number;
  /** Dropped: the tag did not verify. */
  readonly badTag: number;
  /** Dropped: authenticated but malformed, or not for this path. */
  readonly malformed: number;
  /** Probes, keepalives and probe replies sent. */
  readonly probes: number;
  /** Switches to the TCP lane after unanswered probes, and back to UDP after a re-probe. */
  readonly fallbacks: number;
  readonly recoveries: number;
  /** Relay side: the agent's address or port changed under an authenticated datagram. */
  readonly roams: number;
  /** Relay side: where the agent's UDP datagrams come from now (host:port). */
  readonly peer?: string;
}

export interface SessionStatus {
  /** Session id, hex (not secret: it is useless without the resume secret). */
  readonly id: string;
  readonly agent: string;
  /** Short fingerprint of the agent's public key. */
  readonly agentKey: string;
  readonly state: 'attached' | 'detached' | 'closed' | 'connecting';
  /** Relay side: who dials the links, `relay` for an agent in reverse mode (agents[].dial). */
  readonly dialedBy?: 'agent' | 'relay';
  /** Wall-clock ms since the epoch when the session began. */
  readonly since: number;
  readonly rttMs: number | undefined;
  readonly links: number;
  readonly resumes: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly replayBytes: number;
  readonly streams: readonly StreamStatus[];
  readonly reconnects: readonly ReconnectEvent[];
  /** UDP flows open now in this session (absent from older versions). */
  readonly activeFlows?: number;
  /** The most recently active flows, at most MAX_STATUS_FLOWS of activeFlows. */
  readonly flows?: readonly FlowStatus[];
  /** UDP drops this session saw, by cause (a mapping's own counters are in its MappingStatus). */
  readonly flowDrops?: UdpDrops;
  /** Relay side: visitors turned away or cut, by cause (docs/security.md, "Visitors and streams"). */
  readonly visitorsRefused?: {
    readonly share: number;
    readonly streamLimit: number;
    readonly idleTimeout: number;
  };
  /** Answers the peer solicited that were dropped at the replay cap (mux resets, command refusals). */
  readonly repliesDropped?: number;
  /** RTT over the last window (absent before the first ping answered). */
  readonly rtt?: RttSummary;
  /** RTT samples since the session began, in seconds. */
  readonly rttHistogram?: HistogramSnapshot;
  /** Outages that ended in a resume: detached until attached again, in seconds. */
  readonly resumeHistogram?: HistogramSnapshot;
  /** Per command name on this session's command endpoint (xnat's and the application's). */
  readonly commands?: Record<string, CommandCountersStatus>;
  /** Which way datagrams take now (UDP path or TCP lane) and the UDP path's counters. */
  readonly datagramPath?: DatagramPathStatus;
}

/** One command's counters on one session (see src/command/stats.ts); latencies in ms. */
export interface CommandCountersStatus {
  readonly callsOut: number;
  readonly errorsOut: number;
  readonly callsIn: number;
  readonly errorsIn: number;
  readonly latencyMsMax: number;
  /** Mean latency of outgoing calls; 0 before the first. */
  readonly latencyMsAvg: number;
}

/** The status form of an endpoint's per-command counters (no byte counts: metrics keep to calls and errors). */
export function commandCountersStatus(
  commands: Record<
    string,
    {
      callsOut: number;
      errorsOut: number;
      callsIn: number;
      errorsIn: number;
      latencyMsMax: number;
      latencyMsSum: number;
      latencyCount: number;
    }
  >,
): Record<string, CommandCountersStatus> {
  const out: Record<string, CommandCountersStatus> = {};
  for (const [name, c] of Object.entries(commands))
    out[name] = {
      callsOut: c.callsOut,
      errorsOut: c.errorsOut,
      callsIn: c.callsIn,
      errorsIn: c.errorsIn,
      latencyMsMax: Math.round(c.latencyMsMax * 100) / 100,
      latencyMsAvg: c.latencyCount > 0 ? Math.round((c.latencyMsSum / c.latencyCount) * 100) / 100 : 0,
    };
  return out;
}

/** Flows listed per session in a snapshot (the count is always whole); keeps snapshots small under floods. */
export const MAX_STATUS_FLOWS = 1024;

export type MappingPhase = 'pending' | 'registering' | 'ready' | 'failed';

export interface MappingStatus {
  readonly name: string;
  readonly protocol: 'tcp' | 'udp';
  /** The public port; 0 until the relay assigned it. */
  readonly remotePort: number;
  /** LAN target (agent side only). */
  readonly local?: string;
  /** Public address as host:port: the relay's public host (relay side) or the relay's address (agent side). */
  readonly publicAddress?: string;
  readonly phase: MappingPhase;
  readonly error?: { readonly code: string; readonly message: string };
  /** Agents serving it (relay side). */
  readonly agents?: readonly string[];
  /** Open streams; for a udp mapping, its open flows (the same as activeFlows). */
  readonly activeStreams: number;
  /** Streams since start; for a udp mapping, its flows since start (the same as totalFlows). */
  readonly totalStreams: number;
  /** udp only: flows open now. */
  readonly activeFlows?: number;
  /** udp only: flows since start. */
  readonly totalFlows?: number;
  /** udp only: drops by cause. */
  readonly flowDrops?: UdpDrops;
  /** Bytes (and datagrams for udp) since the mapping opened. */
  readonly traffic?: MappingTraffic;
  /** Relay side: set while an operator disabled it (new visitors are refused). */
  readonly disabled?: boolean;
  /** Agent side, tcp: false inside the back-off after its LAN target refused a dial. */
  readonly healthy?: boolean;
  /** Agent side, tcp: how its LAN target answered dials since start (what stats.query tells the relay). */
  readonly lan?: LanTargetStatus;
  /** Relay side: visitors of this mapping refused by the who-may-visit rules, by cause. */
  readonly visitorsRefused?: VisitorPolicyRefusals;
  /** Relay side: each session serving it, with what picks its next visitor (docs/operations.md, "Failover"). */
  readonly servers?: readonly MappingServerStatus[];
}

/** A LAN target's dials: successful ones, failed ones, and the mean connect time of the successful. */
export interface LanTargetStatus {
  readonly connects: number;
  readonly connectErrors: number;
  /** Mean connect time in ms over `connects`; absent before the first success. */
  readonly connectMsAvg?: number;
}

/** One session serving a mapping, as the relay's pick sees it. */
export interface MappingServerStatus {
  readonly agent: string;
  /** A link is attached; a detached session gets no new visitor while another is attached. */
  readonly attached: boolean;
  /** The agent's `weight:` for the mapping. */
  readonly weight: number;
  /** false inside the back-off after the agent reported its LAN target refusing (mapping.health). */
  readonly healthy: boolean;
  /** Ms left of that back-off; 0 when healthy. */
  readonly backoffMs: number;
  /** Its open visitors of the mapping (streams, or flows for udp). */
  readonly visitors: number;
}

/**
 * Admission of link handshakes on the relay's control port: what is pending now and, since start, how
 * each unfinished handshake ended (docs/security.md, "Admission").
 */
export interface HandshakeStatus {
  /** Handshakes in progress (accepted, not yet established or dropped). */
  readonly pending: number;
  /** Of those, how many already proved a configured agent key (message 1 decrypted): protected. */
  readonly pendingKnown: number;
  /** Counters since start. */
  readonly established: number;
  /** Refused at once (busy): the table was full of protected handshakes. */
  readonly refused: number;
  /** Dropped, oldest first, for a newer connection from the same source address. */
  readonly evictedSource: number;
  /** Dropped, oldest first, for a newer connection when the table was full. */
  readonly evictedTotal: number;
  /** Dropped, oldest first, for a newer handshake of the same agent key. */
  readonly evictedAgent: number;
  /** Preface and message 1 not complete by the first-message deadline. */
  readonly firstMessageTimeouts: number;
  /** Not finished by the whole-handshake deadline. */
  readonly handshakeTimeouts: number;
  /** Failed otherwise: bad preface or frame, wrong relay key, unknown agent, psk, forged record. */
  readonly failed: number;
  /** Handshakes that failed, by error code (timeouts and evictions included). */
  readonly failuresByCode?: Readonly<Record<string, number>>;
}

/** Counters of one admin endpoint (added to the snapshot by the endpoint that serves it). */
export interface AdminEndpointStatus {
  /** Admin connections open now, and how many of them are not authenticated yet. */
  readonly connections: number;
  readonly unauthenticated: number;
  /** Connections accepted and authenticated since start. */
  readonly accepted: number;
  readonly authenticated: number;
  /** Connections closed at once: every slot was held by an authenticated connection. */
  readonly refused: number;
  /** Unauthenticated connections closed to make room for a newer one (total or per-source cap). */
  readonly evicted: number;
  /** Unauthenticated connections closed at the authentication deadline. */
  readonly timedOut: number;
  /** Wrong tokens evaluated. */
  readonly authFailures: number;
  /** Connections closed at the limit of wrong tokens. */
  readonly closedAfterFailures: number;
  /** Connections closed for a bad message: before auth anything but one admin.auth, or over the size cap. */
  readonly badMessages: number;
}

export interface RelayStatus {
  readonly role: 'relay';
  readonly version: string;
  readonly startedAt: number;
  readonly control: { readonly address: string; readonly port: number } | undefined;
  /** The UDP path's socket (absent when off or not bound) and datagrams that matched no path, by cause. */
  readonly udpPath?: { readonly port: number; readonly malformed: number; readonly unknownIndex: number };
  /** Handshake admission on the control port (absent from producers that have none, such as tests). */
  readonly handshakes?: HandshakeStatus;
  readonly sessions: readonly SessionStatus[];
  /** Reverse mode: the relay's dialer of each agent with agents[].dial (absent when none). */
  readonly dialers?: readonly AgentDialerStatus[];
  readonly mappings: readonly MappingStatus[];
  /** The admin endpoint's own counters (present in snapshots served by it). */
  readonly admin?: AdminEndpointStatus;
  /** Wall-clock ms when the admin endpoint took the snapshot. */
  readonly at?: number;
  /** Visitors turned away by who-may-visit rules (and for want of an agent), all mappings, by cause. */
  readonly visitorsRefused?: VisitorPolicyRefusals;
}

/** One reverse-mode dialer of the relay: the agent it dials, where, and how that went. */
export interface AgentDialerStatus {
  readonly agent: string;
  /** The agent's agents[].dial, host:port. */
  readonly dial: string;
  /** linked: its link is up; dialing: a dial is under way; waiting: for the redial timer or a lost link. */
  readonly state: 'linked' | 'dialing' | 'waiting';
  /** Dials started since start. */
  readonly dials: number;
  /** Failed dials (connect or handshake) by error code. */
  readonly failures: Readonly<Record<string, number>>;
  /** The last failure while the agent has no link. */
  readonly lastError?: { readonly code: string; readonly message: string };
}

/** Refusals of the relay's visitor rules by cause (docs/security.md, "Who may visit"). */
export interface VisitorPolicyRefusals {
  /** In a deny list. */
  readonly denied: number;
  /** Outside an allow list. */
  readonly notAllowed: number;
  /** Inside a temporary ban after exceeding a rate. */
  readonly banned: number;
  /** The connection that exceeded a rate (and started a ban). */
  readonly rate: number;
  /** The mapping's maxConnections were open. */
  readonly maxConnections: number;
  /** The source's maxConnectionsPerSource were open. */
  readonly perSource: number;
  /** No session served the mapping. */
  readonly noAgent: number;
}

export interface AgentStatus {
  readonly role: 'agent';
  readonly version: string;
  readonly name: string;
  readonly startedAt: number;
  readonly relays: readonly {
    readonly address: string;
    /** Who dials the link: `relay` in reverse mode (relays[].mode), then `listen` is where the agent listens. */
    readonly dialedBy?: 'agent' | 'relay';
    readonly listen?: string;
    readonly state: 'connecting' | 'attached' | 'detached' | 'closed';
    readonly session: SessionStatus | undefined;
    readonly lastError?: { readonly code: string; readonly message: string };
    /** Reconnect events of this relay across sessions (kept while no session exists). */
    readonly reconnects?: readonly ReconnectEvent[];
    /** Failed link attempts (dial or handshake) since start, by error code. */
    readonly linkFailures?: Readonly<Record<string, number>>;
  }[];
  readonly mappings: readonly MappingStatus[];
  /** The admin endpoint's own counters (present in snapshots served by it). */
  readonly admin?: AdminEndpointStatus;
  /** Wall-clock ms when the admin endpoint took the snapshot. */
  readonly at?: number;
}

export type Status = RelayStatus | AgentStatus;

/** Bounded history: keeps the newest `max` entries. */
export function pushBounded<T>(list: T[], item: T, max = 50): void {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}

/** Codes counted per map at most; error codes come from one catalogue, this only guards a mistake. */
export const MAX_COUNTED_CODES = 64;

/** Counts one `code` in `counts` (a code beyond MAX_COUNTED_CODES distinct ones counts as 'other'). */
export function countCode(counts: Record<string, number>, code: string): void {
  const key = code in counts || Object.keys(counts).length < MAX_COUNTED_CODES ? code : 'other';
  counts[key] = (counts[key] ?? 0) + 1;
}

/** Mutable traffic counters of one mapping (MappingTraffic while it is counted). */
export interface TrafficCounters {
  bytesUp: number;
  bytesDown: number;
  packetsUp: number;
  packetsDown: number;
}

export function emptyTraffic(): TrafficCounters {
  return { bytesUp: 0, bytesDown: 0, packetsUp: 0, packetsDown: 0 };
}

/** Every session of a snapshot, relay or agent side. */
export function sessionsOf(s: Status): SessionStatus[] {
  if (s.role === 'relay') return [...s.sessions];
  return s.relays.flatMap((r) => (r.session ? [r.session] : []));
}
