// The relay's side of one session's UDP paths: one per attached link, offered to the agent on the command lane.
import type { Session } from '../session/index.ts';
import type { CommandEndpoint } from '../command/endpoint.ts';
import type { Logger } from '../observe/log.ts';
import { sendOneWay, udpOffer } from '../protocol/index.ts';
import { UdpPath } from '../link/udp-path.ts';
import { UdpPathHistory } from '../link/udp-path-history.ts';
import type { UdpPathTable } from '../link/udp-path-table.ts';
import type { UdpSocket } from '../transport/udp.ts';
import type { Clock } from '../util/clock.ts';

export interface UdpPathOffersDeps {
  readonly session: Session;
  readonly endpoint: CommandEndpoint;
  /** The relay's UDP path socket and table; absent when the UDP path is off or unavailable. */
  readonly udpPaths: { readonly table: UdpPathTable; readonly socket: UdpSocket } | undefined;
  readonly log: Logger;
  readonly clock: Clock;
}

export class UdpPathOffers {
  /** The UDP paths of this session's links, for status. */
  private readonly history = new UdpPathHistory();

  constructor(private readonly deps: UdpPathOffersDeps) {}

  /**
   * A UDP path for the link just attached, under a fresh receiver index, offered to the agent on the
   * command lane (bound to the link by its handshake hash, so a replay on a later link is ignored). The
   * session closes the path with its link; nothing goes over UDP before the agent's first probe.
   */
  offer(): void {
    const { session, clock, log } = this.deps;
    const udp = this.deps.udpPaths;
    const link = session.link;
    if (!udp || !link?.udpKeys) return;
    const keys = link.udpKeys;
    const path = udp.table.add(
      (index) =>
        new UdpPath({
          role: 'relay',
          keys,
          localIndex: index,
          clock,
          logger: log,
          transmit: (bytes, to) => {
            if (to) udp.socket.send(bytes, to.port, to.address);
          },
          onDatagram: (flowId, data) => session.deliverDatagram(flowId, data),
          onClose: () => {
            udp.table.remove(path!.localIndex, path!);
            this.history.ended(path!);
          },
        }),
    );
    if (!path || !session.useDatagramPath(link, path)) return;
    this.history.use(path);
    try {
      sendOneWay(this.deps.endpoint, udpOffer, {
        link: link.handshakeHash.subarray(0, 8).toString('hex'),
        index: path.localIndex,
      });
    } catch {
      // The command lane closed under us: the session is ending and closes the path.
    }
  }

  status(): ReturnType<UdpPathHistory['status']> {
    return this.history.status();
  }
}
