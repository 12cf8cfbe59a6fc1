// Dials the LAN target of a mapping for one stream, mapping socket errors to typed codes.
// It knows nothing of mappings' names or sessions.
import net from 'node:net';
import { XnatError } from '../errors.ts';
import { realClock, type Clock } from '../util/clock.ts';

/** Connect timeout for LAN targets: a LAN answers fast; a silent host is as good as down. */
export const TARGET_CONNECT_TIMEOUT_MS = 5_000;

/** How a dial is bounded: its own deadline. */
export interface DialTargetOptions {
  /** Connect deadline in ms; default TARGET_CONNECT_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  readonly clock?: Clock;
}

/** How a dial ended: a connected socket, or a typed error (XNAT_ERR_ABORTED after cancel). */
export type DialDone = (err: XnatError | undefined, socket: net.Socket | undefined) => void;

/**
 * Connects to host:port and calls `done` once, with a paused, half-open-capable socket (Nagle off) or a
 * typed error. Returns a cancel function (its stream went away): it destroys the connecting socket and
 * ends the dial with XNAT_ERR_ABORTED; after `done` it does nothing. A callback, not a promise and an
 * AbortSignal: this runs once per visitor, and the socket is joined in the connect event's own turn.
 */
export function dialTarget(host: string, port: number, opts: DialTargetOptions, done: DialDone): () => void {
  const clock = opts.clock ?? realClock;
  let socket: net.Socket;
  try {
    socket = net.connect({ host, port, allowHalfOpen: true, noDelay: true });
  } catch (err) {
    // A port the profile checks could not hold; still a typed error, and never before the caller is ready.
    const e = new XnatError('XNAT_ERR_FORWARD_TARGET_UNREACHABLE', { detail: `${host}:${port}`, cause: err });
    queueMicrotask(() => done(e, undefined));
    return () => {};
  }
  let finished = false;
  const end = (err: XnatError | undefined, ok: net.Socket | undefined): void => {
    if (finished) return;
    finished = true;
    timer.cancel();
    socket.off('connect', onConnect);
    socket.off('error', onError);
    if (err) {
      socket.on('error', () => {}); // nothing may surface from a socket given up
      socket.destroy();
    }
    done(err, ok);
  };
  const onConnect = (): void => {
    socket.pause();
    end(undefined, socket);
  };
  const onError = (err: NodeJS.ErrnoException): void => {
    const code =
      err.code === 'ECONNREFUSED' ? 'XNAT_ERR_FORWARD_TARGET_REFUSED' : 'XNAT_ERR_FORWARD_TARGET_UNREACHABLE';
    end(new XnatError(code, { detail: `${host}:${port} ${err.code ?? ''}`.trim(), cause: err }), undefined);
  };
  const timer = clock.setTimeout(
    () =>
      end(
        new XnatError('XNAT_ERR_FORWARD_TARGET_UNREACHABLE', { detail: `${host}:${port} timeout` }),
        undefined,
      ),
    opts.timeoutMs ?? TARGET_CONNECT_TIMEOUT_MS,
  );
  socket.once('connect', onConnect);
  socket.once('error', onError);
  return () => end(new XnatError('XNAT_ERR_ABORTED', { detail: `${host}:${port} dial given up` }), undefined);
}
