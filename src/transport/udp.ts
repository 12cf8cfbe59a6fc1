// A UDP socket for the link layer's UDP path: bind (optionally connected to one peer), send, receive,
// close. It knows nothing of what the datagrams hold; send errors (ICMP unreachable) are ignored.
import dgram from 'node:dgram';
import dns from 'node:dns';
import { isIP, isIPv6 } from 'node:net';
import { XnatError } from '../errors.ts';

/**
 * Kernel buffer asked for each way, in bytes (4 MiB): a few thousand game datagrams (about a second of
 * 50 players) wait in the kernel while the event loop is busy instead of being dropped. Linux caps it at
 * net.core.rmem_max / wmem_max (often 208 KiB) without an error; raise those sysctls on a busy relay.
 */
export const UDP_SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

export interface UdpSocket {
  /** The bound local port and address. */
  readonly port: number;
  readonly address: string;
  /** Sends one datagram; to the connected peer when `port`/`host` are left out. Best effort. */
  send(data: Buffer, port?: number, host?: string): void;
  close(): Promise<void>;
}

export interface BindUdpOptions {
  /** Local address; default 0.0.0.0 (:: when `connect` names an IPv6 address). */
  readonly host?: string;
  /** Local port; default 0 (any). */
  readonly port?: number;
  /** Only this peer: the kernel filters out datagrams from anyone else. */
  readonly connect?: { readonly host: string; readonly port: number };
}

/**
 * dgram's name lookup, answering an IP literal at once: an unconnected socket looks up the address of
 * every send, and dns.lookup answers a literal on the next tick, which costs each datagram a deferred
 * send (about 1 us of CPU). Names still go to dns.lookup.
 */
const literalLookup: dgram.SocketOptions['lookup'] = (host, options, callback) => {
  const family = isIP(host);
  if (family !== 0) callback(null, host, family);
  else dns.lookup(host, options, callback);
};

/**
 * Binds a UDP socket (and connects it, when asked); `onMessage` gets every datagram with its source.
 * XNAT_ERR_LINK_LISTEN when the bind or the connect (its name lookup) fails.
 */
export function bindUdp(
  opts: BindUdpOptions,
  onMessage: (data: Buffer, address: string, port: number) => void,
): Promise<UdpSocket> {
  const v6 = isIPv6(opts.host ?? '') || isIPv6(opts.connect?.host ?? '');
  const host = opts.host ?? (v6 ? '::' : '0.0.0.0');
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', lookup: literalLookup });
    const fail = (err: NodeJS.ErrnoException) => {
      socket.removeAllListeners();
      socket.on('error', () => {});
      try {
        socket.close();
      } catch {
        // never bound
      }
      reject(
        new XnatError('XNAT_ERR_LINK_LISTEN', {
          detail: `${host}:${opts.port ?? 0}/udp ${err.code ?? err.message}`,
          cause: err,
        }),
      );
    };
    socket.once('error', fail);
    socket.on('message', (data, rinfo) => onMessage(data, rinfo.address, rinfo.port));
    socket.bind({ address: host, port: opts.port ?? 0, exclusive: true }, () => {
      try {
        socket.setRecvBufferSize(UDP_SOCKET_BUFFER_BYTES);
        socket.setSendBufferSize(UDP_SOCKET_BUFFER_BYTES);
      } catch {
        // Refused by the kernel's limits: the default buffers still work.
      }
      const ready = () => {
        socket.off('error', fail);
        socket.on('error', () => {});
        const addr = socket.address();
        let closed = false;
        const connected = opts.connect !== undefined;
        resolve({
          port: addr.port,
          address: addr.address,
          send: (data, port, peer) => {
            if (closed) return;
            // No callback: one costs a send request's completion per datagram; a failed send (ICMP
            // unreachable) lands on the no-op 'error' listener instead.
            if (connected) socket.send(data);
            else if (port !== undefined && peer !== undefined) socket.send(data, port, peer);
          },
          close: () =>
            new Promise<void>((done) => {
              if (closed) return done();
              closed = true;
              socket.close(() => done());
            }),
        });
      };
      if (opts.connect) socket.connect(opts.connect.port, opts.connect.host, ready);
      else ready();
    });
  });
}
