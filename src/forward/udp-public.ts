// A public UDP socket of one mapping on the relay: receives visitors' datagrams and sends replies back.
// It knows nothing of flows or sessions; the relay routes each datagram.
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { XnatError } from '../errors.ts';

export interface PublicUdp {
  readonly port: number;
  readonly address: string;
  /** Sends one datagram to a visitor; errors (e.g. ICMP unreachable) are ignored: UDP is best effort. */
  send(data: Buffer, address: string, port: number): void;
  close(): Promise<void>;
}

/** Binds host:port (port 0 = any); XNAT_ERR_MAPPING_BIND_FAILED on error (the detail names the errno). */
export function listenPublicUdp(
  host: string,
  port: number,
  onDatagram: (data: Buffer, address: string, port: number) => void,
): Promise<PublicUdp> {
  return new Promise((resolve, reject) => {
    const type = isIPv6(host) ? 'udp6' : 'udp4';
    const socket = dgram.createSocket({ type, reuseAddr: false });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      // EADDRINUSE here is another program: the relay's own mappings never bind a port the table holds.
      socket.close();
      reject(
        new XnatError('XNAT_ERR_MAPPING_BIND_FAILED', {
          detail: `${host}:${port}/udp ${err.code ?? ''}`.trim(),
          cause: err,
        }),
      );
    });
    socket.on('message', (data, rinfo) => onDatagram(data, rinfo.address, rinfo.port));
    socket.bind({ address: host, port, exclusive: true }, () => {
      socket.removeAllListeners('error');
      socket.on('error', () => {});
      const addr = socket.address();
      let closed = false;
      resolve({
        port: addr.port,
        address: addr.address,
        send: (data, address, p) => {
          if (!closed) socket.send(data, p, address, () => {});
        },
        close: () =>
          new Promise<void>((done) => {
            if (closed) return done();
            closed = true;
            socket.close(() => done());
          }),
      });
    });
  });
}
