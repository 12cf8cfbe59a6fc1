// Dials the LAN target of a mapping for one stream, mapping socket errors to typed codes.
// It knows nothing of mappings' names or sessions.
import net from 'node:net';
import { XnatError } from '../errors.ts';
import { realClock, type Clock } from '../util/clock.ts';

/** Connect timeout for LAN targets: a LAN answers fast; a silent host is as good as down. */
export const TARGET_CONNECT_TIMEOUT_MS = 5_000;

/** How a dial may be bounded: its own deadline, and a signal that gives it up (its stream went away). */
export interface DialTargetOptions {
  /** Connect deadline in ms; default TARGET_CONNECT_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  readonly clock?: Clock;
  /** Aborting destroys the connecting socket and rejects with XNAT_ERR_ABORTED. */
  readonly signal?: AbortSignal;
}

/** Connects to host:port; resolves with a paused, half-open-capable socket, Nagle off. */
export function dialTarget(host: string, port: number, opts: DialTargetOptions = {}): Promise<net.Socket> {
  const clock = opts.clock ?? realClock;
  const timeoutMs = opts.timeoutMs ?? TARGET_CONNECT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(new XnatError('XNAT_ERR_ABORTED', { detail: 'dial given up' }));
    const socket = net.connect({ host, port, allowHalfOpen: true, noDelay: true });
    const onAbort = () => {
      timer.cancel();
      socket.destroy();
      reject(new XnatError('XNAT_ERR_ABORTED', { detail: `${host}:${port} dial given up` }));
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = clock.setTimeout(() => {
      opts.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(new XnatError('XNAT_ERR_FORWARD_TARGET_UNREACHABLE', { detail: `${host}:${port} timeout` }));
    }, timeoutMs);
    socket.once('connect', () => {
      timer.cancel();
      opts.signal?.removeEventListener('abort', onAbort);
      socket.removeAllListeners('error');
      socket.pause();
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      timer.cancel();
      opts.signal?.removeEventListener('abort', onAbort);
      const code =
        err.code === 'ECONNREFUSED'
          ? 'XNAT_ERR_FORWARD_TARGET_REFUSED'
          : 'XNAT_ERR_FORWARD_TARGET_UNREACHABLE';
      reject(new XnatError(code, { detail: `${host}:${port} ${err.code ?? ''}`.trim(), cause: err }));
    });
  });
}
