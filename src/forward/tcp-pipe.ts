// Joins one TCP socket (visitor or LAN service) to one tunnel stream, with honest endings:
// a clean FIN only when the other side ended cleanly, a TCP reset whenever the stream was aborted.
// It talks to the stream through its narrow ByteStream interface: no Node stream between socket and mux.
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { Logger } from '../observe/log.ts';
import type { ErrorCode } from '../errors.ts';
import type { ByteReader, ByteStream } from '../mux/byte-stream.ts';
import { tunnelOf, type DuplexTunnel, type ResettableDuplex } from './duplex-tunnel.ts';
import { realClock, type Clock, type TimerHandle } from '../util/clock.ts';
import { takeAll, type TokenBucket } from '../util/token-bucket.ts';
import { loopTurn } from '../link/batcher.ts';

/** Bytes a pipe lets wait in a socket's write buffer before it pauses the stream: one link read's worth. */
export const SOCKET_WRITE_CAP_BYTES = 64 * 1024;

/** A Duplex a pipe can join a socket to (the deflate wrapper, tests): one that can be reset with a code. */
export type TunnelStream = ResettableDuplex;

/** How a pipe ended: `clean` when both directions finished with FIN, otherwise the code that aborted it. */
export interface PipeResult {
  readonly clean: boolean;
  readonly code: ErrorCode | undefined;
  readonly bytesFromSocket: number;
  readonly bytesToSocket: number;
}

/** Told once how a pipe ended. An object with a method, not a promise: idle pipes are many (issue 10). */
export interface PipeDone {
  pipeDone(result: PipeResult): void;
}

/** Bandwidth limits of one pipe: buckets charged per direction (a mapping's, an agent's total). */
export interface PipeLimits {
  /** Charged for bytes read from the socket (it is paused while a bucket is in debt). */
  readonly fromSocket?: readonly TokenBucket[];
  /** Charged for bytes written to the socket (the stream is paused, so its window stops the sender). */
  readonly toSocket?: readonly TokenBucket[];
  readonly clock?: Clock;
}

/**
 * Pipes `socket` <-> `stream` with backpressure in both directions. The socket must have been created with
 * allowHalfOpen so a FIN in one direction does not end the other. Resolves once both are closed; a stream
 * already destroyed resets the socket at once.
 */
export function joinSocketToStream(
  socket: Socket,
  tunnel: ByteStream | TunnelStream,
  logger?: Logger,
  limits: PipeLimits = {},
): Promise<PipeResult> {
  return new Promise((resolve) => pipeSocketToStream(socket, tunnel, logger, limits, { pipeDone: resolve }));
}

/**
 * joinSocketToStream without a promise: `done.pipeDone` is called once both are closed (never
 * synchronously). Per idle stream this saves a promise, its resolve functions and the caller's closure.
 */
export function pipeSocketToStream(
  socket: Socket,
  tunnel: ByteStream | TunnelStream,
  logger: Logger | undefined,
  limits: PipeLimits,
  done: PipeDone,
): void {
  const stream: PipeStream = tunnel instanceof Duplex ? tunnelOf(tunnel) : tunnel;
  if (stream.destroyed) {
    // The stream died while the socket was being set up (a visitor that reset before the LAN dial
    // completed): the socket must not outlive it, or anyone could pile up open LAN connections.
    const code = stream.resetCode ?? 'XNAT_ERR_FORWARD_STREAM_RESET';
    if (!socket.destroyed) socket.resetAndDestroy();
    queueMicrotask(() => done.pipeDone({ clean: false, code, bytesFromSocket: 0, bytesToSocket: 0 }));
    return;
  }
  new Pipe(socket, stream, logger, limits, done).start();
}

type PipeStream = ByteStream & Partial<Pick<DuplexTunnel, 'done'>>;

const NO_BUCKETS: readonly TokenBucket[] = [];

/** The pipe a socket belongs to, so one set of listener functions serves every socket (idle pipes are many). */
const kPipe = Symbol('xnat.pipe');
type PipedSocket = Socket & { [kPipe]: Pipe };

function onSocketData(this: PipedSocket, chunk: Buffer): void {
  this[kPipe].fromSocket(chunk);
}
function onSocketEnd(this: PipedSocket): void {
  this[kPipe].socketEnd();
}
function onSocketDrain(this: PipedSocket): void {
  this[kPipe].socketDrain();
}
function onSocketError(this: PipedSocket, err: NodeJS.ErrnoException): void {
  this[kPipe].socketError(err);
}
function onSocketClose(this: PipedSocket): void {
  this[kPipe].socketClose();
}
function destroySocket(this: Socket): void {
  this.destroy();
}
function uncorkPipe(pipe: Pipe): void {
  pipe.uncork();
}

/**
 * One socket joined to one stream: the stream's reader, and the socket's listeners' target. A class, not
 * closures: an idle pipe costs one object (the issue 10 budget is a few KiB per idle stream per side).
 */
class Pipe implements ByteReader {
  private bytesFromSocket = 0;
  private bytesToSocket = 0;
  private socketEnded = false; // we got FIN from the socket
  private streamEnded = false; // we got FIN from the stream
  private failed: ErrorCode | undefined;
  private settled = false;
  private socketClosed = false;
  private streamClosed = false;
  // Each direction pauses its reader for two reasons, backpressure and a bandwidth limit, and resumes
  // only when neither holds: pausing one socket or stream never stalls the session's other streams.
  private socketHeld = false; // the stream's buffer is full
  private socketThrottle: TimerHandle | undefined;
  private streamHeld = false; // the socket's write buffer is at its cap
  private streamThrottle: TimerHandle | undefined;
  private corked = false;
  /** The loop turn whose first chunk was written through uncorked (see data()). */
  private throughTurn: number | undefined;
  private readonly up: readonly TokenBucket[];
  private readonly down: readonly TokenBucket[];

  constructor(
    private readonly socket: Socket,
    private readonly stream: PipeStream,
    private readonly logger: Logger | undefined,
    private readonly limits: PipeLimits,
    private readonly done: PipeDone,
  ) {
    this.up = limits.fromSocket ?? NO_BUCKETS;
    this.down = limits.toSocket ?? NO_BUCKETS;
  }

  start(): void {
    const socket = this.socket as PipedSocket;
    socket[kPipe] = this;
    socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('drain', onSocketDrain);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    // Listeners are in place: let bytes flow (listeners and targets hand us paused sockets).
    socket.resume();
    this.stream.setReader(this);
  }

  // ---- socket -> stream

  fromSocket(chunk: Buffer): void {
    this.bytesFromSocket += chunk.length;
    if (!this.stream.write(chunk)) {
      this.socketHeld = true;
      this.socket.pause();
    }
    if (this.up.length > 0 && !this.socketThrottle) {
      const wait = takeAll(this.up, chunk.length);
      if (wait > 0) {
        this.socket.pause();
        this.socketThrottle = this.clock.setTimeout(() => {
          this.socketThrottle = undefined;
          this.resumeSocket();
        }, wait);
      }
    } else if (this.up.length > 0) takeAll(this.up, chunk.length);
  }

  socketEnd(): void {
    this.socketEnded = true;
    if (!this.stream.destroyed) this.stream.end();
    this.maybeDone();
  }

  socketDrain(): void {
    this.streamHeld = false;
    this.resumeStream();
  }

  socketError(err: NodeJS.ErrnoException): void {
    this.logger?.debug({ errno: err.code }, 'socket error');
    this.abortStream('XNAT_ERR_FORWARD_SOCKET_RESET');
  }

  socketClose(): void {
    this.socketClosed = true;
    // A socket that closed before both directions finished was torn down: the stream must not look complete.
    if (!(this.socketEnded && this.streamEnded) && this.failed === undefined)
      this.abortStream('XNAT_ERR_FORWARD_SOCKET_RESET');
    // Both FINs seen: a mux stream closes by itself once its own FIN is out (it may wait behind queued
    // data with no send window yet); a Duplex is destroyed once it has finished writing.
    else if (!this.stream.destroyed && this.socketEnded && this.streamEnded) this.stream.done?.();
    this.finish();
  }

  // ---- stream -> socket (ByteReader)

  data(chunk: Buffer): boolean {
    const socket = this.socket;
    this.bytesToSocket += chunk.length;
    // The stream hands over one chunk per DATA frame, several per link read; corking the socket until the
    // end of the tick turns them into one writev (one syscall, one wakeup of the reader) instead of one each.
    // The first chunk of a loop turn to an empty socket goes straight out: most turns carry one (a
    // keypress, a request, a ping-pong), and a cork, a queued write and a nextTick per chunk were a few
    // us per round trip on each side. Later chunks of the same turn are corked together (loopTurn()).
    if (!this.corked && !socket.destroyed) {
      const turn = loopTurn();
      if (turn !== undefined && turn !== this.throughTurn && socket.writableLength === 0)
        this.throughTurn = turn;
      else {
        this.corked = true;
        socket.cork();
        process.nextTick(uncorkPipe, this);
      }
    }
    let more = true;
    // Pause at the socket's write buffer cap, not at its (small) high-water mark, which a corked tick
    // passes after one frame: the cap still bounds memory, and 'drain' follows since write() said false.
    if (!socket.write(chunk) && socket.writableLength >= SOCKET_WRITE_CAP_BYTES) {
      this.streamHeld = true;
      more = false;
    }
    if (this.down.length > 0) {
      const wait = takeAll(this.down, chunk.length);
      if (wait > 0 && !this.streamThrottle) {
        more = false;
        this.streamThrottle = this.clock.setTimeout(() => {
          this.streamThrottle = undefined;
          this.resumeStream();
        }, wait);
      }
    }
    return more;
  }

  end(): void {
    this.streamEnded = true;
    if (!this.socket.destroyed) this.socket.end();
    this.maybeDone();
  }

  drain(): void {
    this.socketHeld = false;
    this.resumeSocket();
  }

  close(code: ErrorCode | undefined): void {
    this.streamClosed = true;
    if (code !== undefined) this.abortSocket(code);
    else if (!(this.socketEnded && this.streamEnded) && !this.socket.destroyed)
      this.abortSocket(this.stream.resetCode ?? 'XNAT_ERR_FORWARD_STREAM_RESET');
    this.finish();
  }

  uncork(): void {
    this.corked = false;
    if (!this.socket.destroyed) this.socket.uncork();
  }

  // ---- internals

  private get clock(): Clock {
    return this.limits.clock ?? realClock;
  }

  private resumeSocket(): void {
    if (!this.socketHeld && !this.socketThrottle && !this.socket.destroyed) this.socket.resume();
  }

  private resumeStream(): void {
    if (!this.streamHeld && !this.streamThrottle && !this.stream.destroyed) this.stream.resume();
  }

  /** The stream was aborted (peer reset, session expired or replaced): reset the socket, never FIN it. */
  private abortSocket(code: ErrorCode): void {
    if (this.failed === undefined) this.failed = code;
    if (!this.socket.destroyed) this.socket.resetAndDestroy();
  }

  /** The socket failed or was reset: abort the stream so the far side resets too. */
  private abortStream(code: ErrorCode): void {
    if (this.failed === undefined) this.failed = code;
    if (!this.stream.destroyed) this.stream.reset(code);
  }

  private maybeDone(): void {
    // Both directions half-closed cleanly: let the socket finish flushing, then close.
    if (!this.socketEnded || !this.streamEnded) return;
    const socket = this.socket;
    if (socket.writableFinished) socket.destroy();
    else socket.once('finish', destroySocket);
  }

  private finish(): void {
    if (this.settled || !this.socketClosed || !this.streamClosed) return;
    this.settled = true;
    this.socketThrottle?.cancel();
    this.streamThrottle?.cancel();
    const { failed, bytesFromSocket, bytesToSocket } = this;
    this.done.pipeDone({ clean: failed === undefined, code: failed, bytesFromSocket, bytesToSocket });
  }
}

/**
 * One PipeLimits object for every pipe under the same buckets (a fresh object and two arrays per stream
 * would be many): `get` returns the cached one until a reload replaces a bucket.
 */
export class SharedPipeLimits {
  private from: TokenBucket | undefined;
  private to: TokenBucket | undefined;
  private limits: PipeLimits | undefined;

  constructor(private readonly clock: Clock) {}

  get(fromSocket: TokenBucket | undefined, toSocket: TokenBucket | undefined): PipeLimits {
    if (this.limits && this.from === fromSocket && this.to === toSocket) return this.limits;
    this.from = fromSocket;
    this.to = toSocket;
    this.limits = {
      fromSocket: fromSocket ? [fromSocket] : NO_BUCKETS,
      toSocket: toSocket ? [toSocket] : NO_BUCKETS,
      clock: this.clock,
    };
    return this.limits;
  }
}
