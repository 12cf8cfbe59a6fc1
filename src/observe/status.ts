// Status snapshots: plain, serializable objects describing a running relay or agent at one instant.
// Producers build them on demand; the CLI, admin endpoint and dashboard only read them, never logs.

/** One reconnect event of a session, newest last. */
export interface ReconnectEvent {
  /** Wall-clock time, ms since the epoch. */
  readonly at: number;
  /** 'attached' when a link joined, 'detached' when one was lost (with the code that ended it). */
  readonly event: 'attached' | 'detached';
  readonly code?: string;
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
  /** Which way datagrams take now (UDP path or TCP lane) and the UDP path's counters. */
  readonly datagramPath?: DatagramPathStatus;
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
  readonly mappings: readonly MappingStatus[];
  /** The admin endpoint's own counters (present in snapshots served by it). */
  readonly admin?: AdminEndpointStatus;
}

export interface AgentStatus {
  readonly role: 'agent';
  readonly version: string;
  readonly name: string;
  readonly startedAt: number;
  readonly relays: readonly {
    readonly address: string;
    readonly state: 'connecting' | 'attached' | 'detached' | 'closed';
    readonly session: SessionStatus | undefined;
    readonly lastError?: { readonly code: string; readonly message: string };
  }[];
  readonly mappings: readonly MappingStatus[];
  /** The admin endpoint's own counters (present in snapshots served by it). */
  readonly admin?: AdminEndpointStatus;
}

export type Status = RelayStatus | AgentStatus;

/** Bounded history: keeps the newest `max` entries. */
export function pushBounded<T>(list: T[], item: T, max = 50): void {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}
