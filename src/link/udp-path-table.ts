// The receiving side's table of UDP paths by receiver index: picks each new path's index (random, unused,
// never 0), routes arriving datagrams by it, and counts what matches no path. It knows nothing of
// sockets; whoever owns the socket calls dispatch() and the path does all checking.
import { randomInt } from 'node:crypto';
import { UDP_HEADER_BYTES, receiverOf } from './udp-datagram.ts';
import type { UdpPath, UdpPeerAddress } from './udp-path.ts';

/** Paths at once (one per attached session); a bound on the table whatever happens. */
export const UDP_PATH_TABLE_MAX = 65_536;

/** Datagrams that reached no path, by cause; none of them is ever answered. */
export interface UdpPathTableStats {
  /** Shorter than a header. */
  malformed: number;
  /** No live path has that receiver index (stale link, scanner, forged). */
  unknownIndex: number;
}

export class UdpPathTable {
  private readonly paths = new Map<number, UdpPath>();
  readonly stats: UdpPathTableStats = { malformed: 0, unknownIndex: 0 };

  constructor(
    private readonly max = UDP_PATH_TABLE_MAX,
    /** Random index source in [1, 2^32); injectable for tests. */
    private readonly randomIndex: () => number = () => randomInt(1, 2 ** 32 - 1),
  ) {}

  get size(): number {
    return this.paths.size;
  }

  /**
   * A new path under a fresh index (make receives it), or undefined at the cap. The index is random so a
   * peer cannot guess a live one from its own; a collision is redrawn.
   */
  add(make: (index: number) => UdpPath): UdpPath | undefined {
    if (this.paths.size >= this.max) return undefined;
    let index = this.randomIndex();
    while (index === 0 || this.paths.has(index)) index = this.randomIndex();
    const path = make(index);
    this.paths.set(index, path);
    return path;
  }

  /** Forgets the path of `index` if it is `path` (a closed path removes itself). */
  remove(index: number, path: UdpPath): void {
    if (this.paths.get(index) === path) this.paths.delete(index);
  }

  /** Routes one datagram to the path its receiver index names; counts the rest. */
  dispatch(buf: Buffer, from: UdpPeerAddress): void {
    const index = buf.length >= UDP_HEADER_BYTES ? receiverOf(buf) : undefined;
    if (index === undefined) {
      this.stats.malformed++;
      return;
    }
    const path = this.paths.get(index);
    if (!path) {
      this.stats.unknownIndex++;
      return;
    }
    path.receive(buf, from);
  }

  closeAll(): void {
    for (const p of [...this.paths.values()]) p.close();
    this.paths.clear();
  }
}
