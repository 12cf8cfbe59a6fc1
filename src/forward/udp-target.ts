// The agent's UDP socket for one flow, connected to the mapping's LAN target.
// It knows nothing of flow ids or sessions; replies go to the callback.
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';

export interface UdpTarget {
  /** Sends one datagram to the target; false when it was dropped (closed, or too many before connect). */
  send(data: Buffer): boolean;
  close(): void;
}

/** Datagrams held while the socket connects (a loopback or LAN connect takes microseconds); more would be stale. */
const EARLY_MAX = 16;

/** Opens a socket connected to host:port; datagrams from the target go to onReply. */
export function openUdpTarget(host: string, port: number, onReply: (data: Buffer) => void): UdpTarget {
  const socket = dgram.createSocket(isIPv6(host) ? 'udp6' : 'udp4');
  let closed = false;
  let connected = false;
  const early: Buffer[] = [];
  socket.on('error', () => {}); // ICMP port unreachable and the like: UDP is best effort
  socket.on('message', (data) => onReply(data));
  socket.connect(port, host, () => {
    connected = true;
    for (const d of early.splice(0)) socket.send(d);
  });
  return {
    send(data) {
      if (closed) return false;
      if (connected) socket.send(data);
      else if (early.length < EARLY_MAX) early.push(data);
      else return false;
      return true;
    },
    close() {
      if (closed) return;
      closed = true;
      socket.close();
    },
  };
}
