// The agent's UDP socket for one flow, connected to the mapping's LAN target.
// It knows nothing of flow ids or sessions; replies go to the callback.
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';

export interface UdpTarget {
  send(data: Buffer): void;
  close(): void;
}

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
      if (closed) return;
      if (connected) socket.send(data);
      else if (early.length < 16) early.push(data); // a handful before connect completes; more would be stale
    },
    close() {
      if (closed) return;
      closed = true;
      socket.close();
    },
  };
}
