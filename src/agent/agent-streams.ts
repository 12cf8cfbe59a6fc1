// The agent's open visitor streams of one relay, for status and admin actions: each with its mapping,
// its visitor (from the open metadata) and its age; byte counts are read from the stream's own stats.
// It knows nothing of LAN dialing or pipes; StreamTargets tracks a stream and says when it ended.
import type { MuxStream } from '../mux/mux.ts';
import type { Logger } from '../observe/log.ts';
import type { MappingTraffic, StreamStatus, TrafficCounters } from '../observe/status.ts';

/** One tracked stream: what status shows of it, and how its end is told (an object, not a closure). */
export class LiveStream {
  readonly openedAt = Date.now();

  constructor(
    private readonly owner: Map<number, LiveStream>,
    readonly stream: MuxStream,
    readonly mapping: string,
    /** The visitor as host:port (formatVisitor), built once per stream. */
    readonly visitor: string,
    private readonly traffic: TrafficCounters,
  ) {}

  /** The stream ended having moved `up` bytes towards the LAN service and `down` back. */
  ended(up: number, down: number): void {
    if (this.owner.get(this.stream.id) === this) this.owner.delete(this.stream.id);
    this.traffic.bytesUp += up;
    this.traffic.bytesDown += down;
  }
}

/** A visitor address as host:port ([v6]:port); '?' when the relay no longer knew it. */
export function formatVisitor(v: { address: string; port: number }): string {
  if (!v.address) return '?';
  return v.address.includes(':') ? `[${v.address}]:${v.port}` : `${v.address}:${v.port}`;
}

export class AgentStreams {
  private readonly live = new Map<number, LiveStream>();

  constructor(private readonly log: Logger) {}

  /**
   * Tracks `stream` of `mapping` until the returned entry's `ended` is called with the bytes the pipe moved
   * (up: towards the LAN service), which go to the mapping's `traffic` counters.
   */
  track(
    stream: MuxStream,
    mapping: string,
    visitor: { address: string; port: number },
    traffic: TrafficCounters,
  ): LiveStream {
    const entry = new LiveStream(this.live, stream, mapping, formatVisitor(visitor), traffic);
    this.live.set(stream.id, entry);
    return entry;
  }

  status(): StreamStatus[] {
    const now = Date.now();
    return [...this.live.values()].map((x) => ({
      id: x.stream.id,
      mapping: x.mapping,
      visitor: x.visitor,
      // This side receives the visitor's bytes from the relay and sends the service's back.
      bytesUp: x.stream.stats.bytesIn,
      bytesDown: x.stream.stats.bytesOut,
      ageMs: now - x.openedAt,
    }));
  }

  /** A tcp mapping's traffic: its closed streams' bytes (`closed`) plus its open ones' so far. */
  traffic(mapping: string, closed: TrafficCounters): MappingTraffic {
    let up = closed.bytesUp;
    let down = closed.bytesDown;
    for (const x of this.live.values()) {
      if (x.mapping !== mapping) continue;
      up += x.stream.stats.bytesIn;
      down += x.stream.stats.bytesOut;
    }
    return { bytesUp: up, bytesDown: down };
  }

  /** Resets one visitor stream (an operator closed it): the relay resets the visitor's socket. */
  close(streamId: number): boolean {
    const x = this.live.get(streamId);
    if (!x) return false;
    this.log.info({ mapping: x.mapping, stream: streamId, visitor: x.visitor }, 'stream closed by admin');
    x.stream.reset('XNAT_ERR_ADMIN_CLOSED');
    return true;
  }
}
