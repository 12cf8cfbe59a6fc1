// TCP for links: dial the relay, listen for agents, and tune sockets (no Nagle, OS keepalive).
// It knows nothing of the handshake or the record layer: it hands over plain net.Sockets.
import net from 'node:net';
import { XnatError } from '../errors.ts';
import { realClock, type Clock } from '../util/clock.ts';
import { connectReusingReads } from './reused-reads.ts';

/** Default deadline of a dial, in milliseconds. */
export const DIAL_TIMEOUT_MS = 10_000;
/** Idle time before the OS sends TCP keepalive probes, in milliseconds; a backstop under the link's own pings. */
export const TCP_KEEPALIVE_INITIAL_DELAY_MS = 15_000;

/** Options of dialTcp. */
export interface DialOptions {
  /** Aborts the dial (XNAT_ERR_ABORTED). */
  readonly signal?: AbortSignal;
  /** Deadline in milliseconds; default DIAL_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  readonly clock?: Clock;
  /**
   * Reads land in one reused buffer (transport/reused-reads.ts): the socket then emits no 'data' and is
   * read with readChunks only. For link sockets, whose every chunk is opened or copied before the next read.
   */
  readonly reuseReads?: boolean;
}

/** Turns off Nagle (records are already batched) and turns on OS keepalive; returns the socket. */
export function tuneSocket(s: net.Socket): net.Socket {
  s.setNoDelay(true);
  s.setKeepAlive(true, TCP_KEEPALIVE_INITIAL_DELAY_MS);
  return s;
}

/** Connects to host:port and resolves with a tuned socket; XNAT_ERR_LINK_CONNECT on failure or timeout. */
export function dialTcp(host: string, port: number, opts: DialOptions = {}): Promise<net.Socket> {
  const clock = opts.clock ?? realClock;
  const timeoutMs = opts.timeoutMs ?? DIAL_TIMEOUT_MS;
  const where = `${host}:${port}`;
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new XnatError('XNAT_ERR_ABORTED', { detail: `dial ${where}` }));
      return;
    }
    const socket = opts.reuseReads ? connectReusingReads({ host, port }) : net.connect({ host, port });
    const fail = (err: XnatError): void => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onError = (cause: NodeJS.ErrnoException): void =>
      fail(new XnatError('XNAT_ERR_LINK_CONNECT', { detail: `${where} ${cause.code ?? ''}`.trim(), cause }));
    const onAbort = (): void => fail(new XnatError('XNAT_ERR_ABORTED', { detail: `dial ${where}` }));
    const timer = clock.setTimeout(
      () =>
        fail(new XnatError('XNAT_ERR_LINK_CONNECT', { detail: `${where} timed out after ${timeoutMs} ms` })),
      timeoutMs,
    );
    const onConnect = (): void => {
      cleanup();
      resolve(tuneSocket(socket));
    };
    function cleanup(): void {
      timer.cancel();
      socket.off('error', onError);
      socket.off('connect', onConnect);
      opts.signal?.removeEventListener('abort', onAbort);
    }
    socket.once('error', onError);
    socket.once('connect', onConnect);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A listening TCP server as listenTcp returns it. */
export interface TcpListener {
  readonly server: net.Server;
  /** The bound address, e.g. '127.0.0.1'. */
  readonly address: string;
  /** The bound port (the real one when 0 was asked). */
  readonly port: number;
  /** Stops accepting and destroys connections still open; resolves once the server is closed. Idempotent. */
  close(): Promise<void>;
}

/**
 * Listens on host:port (0 = any free port) and calls onSocket with each tuned connection.
 * XNAT_ERR_LINK_LISTEN when the port cannot be bound.
 */
export function listenTcp(
  host: string,
  port: number,
  onSocket: (s: net.Socket) => void,
): Promise<TcpListener> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    // An accepted socket may fail before its owner attaches handlers; never let that crash the process.
    s.on('error', () => {});
    onSocket(tuneSocket(s));
  });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
    return closing;
  };
  return new Promise((resolve, reject) => {
    const onError = (cause: NodeJS.ErrnoException): void => {
      reject(
        new XnatError('XNAT_ERR_LINK_LISTEN', {
          detail: `${host}:${port} ${cause.code ?? ''}`.trim(),
          cause,
        }),
      );
    };
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      const addr = server.address() as net.AddressInfo;
      resolve({ server, address: addr.address, port: addr.port, close });
    });
  });
}
