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
}

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
  readonly activeStreams: number;
  readonly totalStreams: number;
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
