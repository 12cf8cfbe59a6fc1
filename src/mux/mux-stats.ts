// A mux's counters: streams, resets, bytes, commands, datagrams, late frames and dropped replies.

/** Per-mux counters; streams are counted in both directions. */
export interface MuxStats {
  readonly streamsOpen: number;
  /** Streams opened by this side. */
  readonly streamsOpened: number;
  /** Streams opened by the peer and accepted. */
  readonly streamsAccepted: number;
  readonly resetsSent: number;
  readonly resetsReceived: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly commandsSent: number;
  readonly commandsReceived: number;
  readonly datagramsSent: number;
  readonly datagramsReceived: number;
  readonly datagramsDropped: number;
  /** Frames for streams already gone (a race after a reset or a finish), ignored. */
  readonly lateFrames: number;
  /**
   * Answers (STREAM_RESET) to frames the peer should not have sent (never-opened ids, refused opens) that
   * were dropped because the transport was over its cap: a peer cannot make this side buffer replies.
   */
  readonly repliesDropped: number;
}

/** The counters a mux keeps (streamsOpen is read from its id table). */
export type MuxCounters = { -readonly [K in keyof MuxStats]: MuxStats[K] };

export function newMuxCounters(): MuxCounters {
  return {
    streamsOpen: 0,
    streamsOpened: 0,
    streamsAccepted: 0,
    resetsSent: 0,
    resetsReceived: 0,
    bytesIn: 0,
    bytesOut: 0,
    commandsSent: 0,
    commandsReceived: 0,
    datagramsSent: 0,
    datagramsReceived: 0,
    datagramsDropped: 0,
    lateFrames: 0,
    repliesDropped: 0,
  };
}
