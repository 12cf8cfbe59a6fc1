// A public TCP listener of one mapping on the relay: accepts visitors and hands each socket on.
// It knows nothing of sessions or agents; the relay decides where each visitor goes.
import net from 'node:net';
import { XnatError } from '../errors.ts';

/**
 * Accept queue of a public port: a burst of visitors (a web page's connections, a server browser's pings)
 * waits in the kernel rather than having SYNs dropped and retried a second later. Node's default is 511;
 * the kernel caps it at net.core.somaxconn (4096 on current kernels).
 */
export const PUBLIC_ACCEPT_BACKLOG = 4096;

export interface LocalEnd {
  readonly address: string;
  readonly port: number;
}

/** Whether `address` is an any-address bind (0.0.0.0, ::), where each socket's local address differs. */
export function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '::0' || address === '';
}

export interface PublicListener {
  readonly port: number;
  readonly address: string;
  /**
   * The visitor's local end (this listener's address and port). Bound to one address, that is known
   * without asking the kernel (a getsockname per visitor was ~4% of the relay's CPU in the connrate
   * bench); on a wildcard bind the socket is asked, since its address tells which interface it came in on.
   */
  localOf(socket: net.Socket): LocalEnd;
  /** Stops accepting; sockets already handed on are not touched. */
  close(): Promise<void>;
}

/** Listens on host:port (port 0 = any) with Nagle off on every visitor; XNAT_ERR_MAPPING_BIND_FAILED on error. */
export function listenPublicTcp(
  host: string,
  port: number,
  onVisitor: (socket: net.Socket) => void,
): Promise<PublicListener> {
  return new Promise((resolve, reject) => {
    const server = net.createServer(
      { allowHalfOpen: true, pauseOnConnect: true, noDelay: true },
      (socket) => {
        socket.setNoDelay(true);
        onVisitor(socket);
      },
    );
    server.once('error', (err: NodeJS.ErrnoException) => {
      // EADDRINUSE here is another program (or process): the relay's own mappings never reach listen()
      // on a port the table holds (MAPPING_IN_USE is for those).
      reject(
        new XnatError('XNAT_ERR_MAPPING_BIND_FAILED', {
          detail: `${host}:${port} ${err.code ?? ''}`.trim(),
          cause: err,
        }),
      );
    });
    server.listen({ host, port, exclusive: true, backlog: PUBLIC_ACCEPT_BACKLOG }, () => {
      const addr = server.address() as net.AddressInfo;
      server.removeAllListeners('error');
      server.on('error', () => {}); // accept errors (EMFILE) must not crash the relay
      const fixed: LocalEnd | undefined = isWildcard(addr.address)
        ? undefined
        : { address: addr.address, port: addr.port };
      resolve({
        port: addr.port,
        address: addr.address,
        localOf: (socket) => fixed ?? { address: socket.localAddress ?? '', port: socket.localPort ?? 0 },
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
