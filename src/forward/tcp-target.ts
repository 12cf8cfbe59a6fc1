// Dials the LAN target of a mapping for one stream, mapping socket errors to typed codes.
// It knows nothing of mappings' names or sessions.
import net from 'node:net';
import { XnatError } from '../errors.ts';
import { realClock, type Clock, type TimerHandle } from '../util/clock.ts';

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
  let socket: net.Socket;
  try {
    socket = net.connect({ host, port, allowHalfOpen: true, noDelay: true });
  } catch (err) {
    // A port the profile checks could not hold; still a typed error, and never before the caller is ready.
    const e = new XnatError('XNAT_ERR_FORWARD_TARGET_UNREACHABLE', { detail: `${host}:${port}`, cause: err });
    queueMicrotask(() => done(e, undefined));
    return () => {};
  }
  return new TargetDial(socket, host, port, opts, done).cancel;
}

/** The dial a connecting socket belongs to, so one pair of listener functions serves every dial. */
const kDial = Symbol('xnat.dial');
type DialingSocket = net.Socket & { [kDial]: TargetDial | undefined };

function onDialConnect(this: DialingSocket): void {
  this.pause();
  this[kDial]?.end(undefined, this);
}
function onDialError(this: DialingSocket, err: NodeJS.ErrnoException): void {
  this[kDial]?.failed(err);
}
function ignoreError(): void {}

/**
 * One dial in flight: an object and its cancel function, not five closures over dialTarget's scope
 * (a dial per visitor: the agent's share of the connection rate).
 */
class TargetDial {
  private finished = false;
  private readonly timer: TimerHandle;
  /** Gives the dial up (its stream went away): XNAT_ERR_ABORTED, the connecting socket destroyed. */
  readonly cancel = (): void =>
    this.end(
      new XnatError('XNAT_ERR_ABORTED', { detail: `${this.host}:${this.port} dial given up` }),
      undefined,
    );

  constructor(
    private readonly socket: net.Socket,
    private readonly host: string,
    private readonly port: number,
    opts: DialTargetOptions,
    private readonly done: DialDone,
  ) {
    (socket as DialingSocket)[kDial] = this;
    this.timer = (opts.clock ?? realClock).setTimeout(
      () =>
        this.end(
          new XnatError('XNAT_ERR_FORWARD_TARGET_UNREACHABLE', { detail: `${host}:${port} timeout` }),
          undefined,
        ),
      opts.timeoutMs ?? TARGET_CONNECT_TIMEOUT_MS,
    );
    socket.once('connect', onDialConnect);
    socket.once('error', onDialError);
  }

  failed(err: NodeJS.ErrnoException): void {
    const code =
      err.code === 'ECONNREFUSED' ? 'XNAT_ERR_FORWARD_TARGET_REFUSED' : 'XNAT_ERR_FORWARD_TARGET_UNREACHABLE';
    this.end(
      new XnatError(code, { detail: `${this.host}:${this.port} ${err.code ?? ''}`.trim(), cause: err }),
      undefined,
    );
  }

  end(err: XnatError | undefined, ok: net.Socket | undefined): void {
    if (this.finished) return;
    this.finished = true;
    const socket = this.socket as DialingSocket;
    this.timer.cancel();
    socket.off('connect', onDialConnect);
    socket.off('error', onDialError);
    // Set, not deleted (a delete would turn the socket into a slow dictionary object): the socket keeps
    // no reference to the dial, nor to what its callback holds.
    socket[kDial] = undefined;
    if (err) {
      socket.on('error', ignoreError); // nothing may surface from a socket given up
      socket.destroy();
    }
    this.done(err, ok);
  }
}
