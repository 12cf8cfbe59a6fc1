// The session's public shapes: roles, states, init data and stats counters.
// It knows nothing of behaviour; session.ts implements what these describe.

export type SessionRole = 'agent' | 'relay';
export type SessionState = 'attached' | 'detached' | 'closed';

/** Counters of one session; bytes are encoded frame bytes (header included). */
export interface SessionStats {
  /** Reliable and datagram frames written for the first time (replays not counted). */
  readonly framesSent: number;
  /** Reliable and datagram frames delivered up ('frame' events). */
  readonly framesReceived: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  /** Bytes held in the replay buffer now (sent-unacknowledged plus not yet sent). */
  readonly replayBytes: number;
  /** Most bytes the replay buffer ever held; at most cap + one frame when producers honour `false`. */
  readonly replayHighWater: number;
  /** Reliable frames written again on a new link after a resume. */
  readonly replayed: number;
  /**
   * Frames the peer's resume count showed it already had although their ack never arrived: they are
   * dropped from the replay buffer instead of being sent twice (numbering is implicit, so this is where
   * duplicates are removed).
   */
  readonly duplicatesDropped: number;
  /** Datagrams dropped because no link was attached or the link was congested. */
  readonly datagramsDropped: number;
  /** Datagrams sent on the link's datagram path (UDP) instead of its TCP lane. */
  readonly datagramsOnPath: number;
  /** Links this session has been attached to. */
  readonly links: number;
  /** Successful resumes (attachments after the first). */
  readonly resumes: number;
  /** Smoothed RTT of the current link in ms, when known. */
  readonly rttMs: number | undefined;
}

/**
 * A second way for the datagrams of one link (the UDP path, src/link/udp-path.ts). The session tries it
 * first and falls back to the link's datagram lane; it closes the path when that link goes.
 */
export interface DatagramPath {
  /** Sends the datagram now if this path carries it (up, small enough); false: nothing was sent. */
  trySend(flowId: number, data: Buffer): boolean;
  close(): void;
}

/** What the server or client knows when it creates a session. */
export interface SessionInit {
  readonly id: Buffer;
  readonly role: SessionRole;
  /** The agent's static public key (on the agent: its own key, or empty when not given). */
  readonly agentKey: Buffer;
  /** Keys resume proofs; never logged, never leaves the session except in the first SESSION_ACCEPT. */
  readonly resumeSecret: Buffer;
}
