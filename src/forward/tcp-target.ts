// Dials the LAN target of a mapping for one stream, mapping socket errors to typed codes.
// It knows nothing of mappings' names or sessions.
import net from 'node:net';
import { XnatError } from '../errors.ts';
import { realClock, type Clock } from '../util/clock.ts';

/** Connect timeout for LAN targets: a LAN answers fast; a silent host is as good as down. */
export const TARGET_CONNECT_TIMEOUT_MS = 5_000;

/** Connects to host:port; resolves with a paused, half-open-capable socket, Nagle off. */
export function dialTarget(
  host: string,
  port: number,
  timeoutMs = TARGET_CONNECT_TIMEOUT_MS,
  clock: Clock = realClock,
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, allowHalfOpen: true, noDelay: true });
    const timer = clock.setTimeout(() => {
      socket.destroy();
      reject(new XnatError('XNAT_ERR_FORWARD_TARGET_UNREACHABLE', { detail: `${host}:${port} timeout` }));
    }, timeoutMs);
    socket.once('connect', () => {
      timer.cancel();
      socket.removeAllListeners('error');
      socket.pause();
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      timer.cancel();
      const code =
        err.code === 'ECONNREFUSED'
          ? 'XNAT_ERR_FORWARD_TARGET_REFUSED'
          : 'XNAT_ERR_FORWARD_TARGET_UNREACHABLE';
      reject(new XnatError(code, { detail: `${host}:${port} ${err.code ?? ''}`.trim(), cause: err }));
    });
  });
}
