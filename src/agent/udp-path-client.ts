// The agent's UDP path to one relay: one socket connected to the relay's control address, and for each
// link the relay offers a path for, a UdpPath handed to the session. It knows nothing of flows or mappings.
import type { Session } from '../session/index.ts';
import type { SessionLink } from '../session/session-link.ts';
import { UdpPath } from '../link/udp-path.ts';
import { UdpPathHistory } from '../link/udp-path-history.ts';
import { UdpPathTable } from '../link/udp-path-table.ts';
import { bindUdp, type UdpSocket } from '../transport/udp.ts';
import type { HostPort } from '../config/index.ts';
import type { DatagramPathStatus } from '../observe/status.ts';
import type { Logger } from '../observe/log.ts';
import type { Clock } from '../util/clock.ts';
import { toXnatError } from '../errors.ts';

/** Paths at once: the current link's, and one whose link is going. */
const AGENT_PATHS_MAX = 4;

export interface AgentUdpPathsOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** Keepalive and re-probe interval, ms. */
  readonly keepaliveMs: number;
}

/** The link tag of udp.offer: hex of the first 8 bytes of the link's handshake hash. */
export function linkTag(link: SessionLink): string {
  return link.handshakeHash.subarray(0, 8).toString('hex');
}

export class AgentUdpPaths {
  private socket: Promise<UdpSocket | undefined> | undefined;
  private readonly table = new UdpPathTable(AGENT_PATHS_MAX);
  private readonly histories = new WeakMap<Session, UdpPathHistory>();
  private closed = false;

  constructor(
    private readonly relay: HostPort,
    private readonly opts: AgentUdpPathsOptions,
  ) {}

  /** udp.offer from the relay: a path for the link it names, if that is still the session's link. */
  offered(session: Session, tag: string, remoteIndex: number): void {
    const link = session.link;
    if (this.closed || !link?.udpKeys || session.state !== 'attached' || linkTag(link) !== tag) {
      this.opts.logger.debug({ tag }, 'udp offer for another link ignored');
      return;
    }
    void this.open(session, link, remoteIndex);
  }

  /** Which way the session's datagrams take, with the counters of its paths so far. */
  status(session: Session): DatagramPathStatus {
    return this.historyOf(session).status();
  }

  close(): void {
    this.closed = true;
    this.table.closeAll();
    void this.socket?.then((s) => s?.close());
  }

  private async open(session: Session, link: SessionLink, remoteIndex: number): Promise<void> {
    const socket = await this.ensureSocket();
    const keys = link.udpKeys;
    // The link may have gone while the socket was being bound.
    if (!socket || !keys || this.closed || session.link !== link) return;
    const history = this.historyOf(session);
    const path = this.table.add(
      (index) =>
        new UdpPath({
          role: 'agent',
          keys,
          localIndex: index,
          remoteIndex,
          clock: this.opts.clock,
          logger: this.opts.logger,
          keepaliveMs: this.opts.keepaliveMs,
          transmit: (bytes) => socket.send(bytes),
          onDatagram: (flowId, data) => session.deliverDatagram(flowId, data),
          onClose: () => {
            this.table.remove(path!.localIndex, path!);
            history.ended(path!);
          },
        }),
    );
    if (path && session.useDatagramPath(link, path)) history.use(path);
  }

  /** One socket for the relay's whole life here, connected so the kernel drops datagrams of others. */
  private ensureSocket(): Promise<UdpSocket | undefined> {
    this.socket ??= bindUdp({ connect: this.relay }, (data, address, port) =>
      this.table.dispatch(data, { address, port }),
    ).then(
      (s) => {
        if (this.closed) void s.close();
        return s;
      },
      (err: unknown) => {
        // Try again on the next offer (a name that did not resolve, no network yet).
        this.socket = undefined;
        const e = toXnatError(err);
        this.opts.logger.warn(
          { code: e.code, detail: e.detail },
          'udp path unavailable, datagrams take the tcp lane',
        );
        return undefined;
      },
    );
    return this.socket;
  }

  private historyOf(session: Session): UdpPathHistory {
    let h = this.histories.get(session);
    if (!h) {
      h = new UdpPathHistory();
      this.histories.set(session, h);
    }
    return h;
  }
}
