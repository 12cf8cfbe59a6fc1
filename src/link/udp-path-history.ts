// A session's UDP paths over time, for status: the current link's path and the counters of the paths of
// earlier links, summed. Both ends keep one per session. It knows nothing of sockets or sessions.
import type { DatagramPathStatus } from '../observe/status.ts';
import type { UdpPath, UdpPathStats } from './udp-path.ts';

type Counters = Omit<DatagramPathStatus, 'path' | 'peer'>;

function zero(): Counters {
  return {
    sent: 0,
    received: 0,
    replayed: 0,
    badTag: 0,
    malformed: 0,
    probes: 0,
    fallbacks: 0,
    recoveries: 0,
    roams: 0,
  };
}

function add(a: Counters, b: UdpPathStats | Counters): Counters {
  const out = { ...a } as Record<keyof Counters, number>;
  for (const k of Object.keys(out) as (keyof Counters)[]) out[k] += b[k];
  return out;
}

export class UdpPathHistory {
  private current: UdpPath | undefined;
  private past: Counters = zero();

  /** The path of the session's current link (an earlier one, if still set, is counted as ended). */
  use(path: UdpPath): void {
    if (this.current && this.current !== path) this.ended(this.current);
    this.current = path;
  }

  /** A path closed (its link went): its counters join the totals once. */
  ended(path: UdpPath): void {
    if (this.current !== path) return;
    this.past = add(this.past, path.stats);
    this.current = undefined;
  }

  /** Which way datagrams take now (no path: the TCP lane) and the counters of every path so far. */
  status(): DatagramPathStatus {
    const p = this.current;
    const peer = p?.peerAddress;
    return {
      path: p ? p.state : 'tcp-lane',
      ...(p ? add(this.past, p.stats) : this.past),
      ...(peer ? { peer: `${peer.address}:${peer.port}` } : {}),
    };
  }
}

/** The status of a session without a UDP path at all (tuning.udpPath off): the TCP lane, nothing counted. */
export function tcpLaneOnly(): DatagramPathStatus {
  return { path: 'tcp-lane', ...zero() };
}
