// A public TCP listener of one mapping on the relay: accepts visitors and hands each socket on.
// It knows nothing of sessions or agents; the relay decides where each visitor goes.
import net from 'node:net';
import { XnatError } from '../errors.ts';

export interface PublicListener {
  readonly port: number;
  readonly address: string;
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
      const code = err.code === 'EADDRINUSE' ? 'XNAT_ERR_MAPPING_IN_USE' : 'XNAT_ERR_MAPPING_BIND_FAILED';
      reject(new XnatError(code, { detail: `${host}:${port} ${err.code ?? ''}`.trim(), cause: err }));
    });
    server.listen({ host, port, exclusive: true }, () => {
      const addr = server.address() as net.AddressInfo;
      server.removeAllListeners('error');
      server.on('error', () => {}); // accept errors (EMFILE) must not crash the relay
      resolve({
        port: addr.port,
        address: addr.address,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
