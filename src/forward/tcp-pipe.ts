// Joins one TCP socket (visitor or LAN service) to one tunnel stream, with honest endings:
// a clean FIN only when the other side ended cleanly, a TCP reset whenever the stream was aborted.
// It talks to the stream through its narrow ByteStream interface: no Node stream between socket and mux.
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { Logger } from '../observe/log.ts';
import type { ErrorCode } from '../errors.ts';
import type { ByteStream } from '../mux/byte-stream.ts';
import { tunnelOf, type DuplexTunnel, type ResettableDuplex } from './duplex-tunnel.ts';
import { realClock, type Clock, type TimerHandle } from '../util/clock.ts';
import { takeAll, type TokenBucket } from '../util/token-bucket.ts';

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
  const stream: ByteStream & Partial<Pick<DuplexTunnel, 'done'>> =
    tunnel instanceof Duplex ? tunnelOf(tunnel) : tunnel;
  if (stream.destroyed) {
    // The stream died while the socket was being set up (a visitor that reset before the LAN dial
    // completed): the socket must not outlive it, or anyone could pile up open LAN connections.
    const code = stream.resetCode ?? 'XNAT_ERR_FORWARD_STREAM_RESET';
    if (!socket.destroyed) socket.resetAndDestroy();
    return Promise.resolve({ clean: false, code, bytesFromSocket: 0, bytesToSocket: 0 });
  }
  return new Promise((resolve) => {
    let bytesFromSocket = 0;
    let bytesToSocket = 0;
    let socketEnded = false; // we got FIN from the socket
    let streamEnded = false; // we got FIN from the stream
    let failed: ErrorCode | undefined;
    let settled = false;
    let socketClosed = false;
    let streamClosed = false;

    const finish = () => {
      if (settled || !socketClosed || !streamClosed) return;
      settled = true;
      socketThrottle?.cancel();
      streamThrottle?.cancel();
      resolve({ clean: failed === undefined, code: failed, bytesFromSocket, bytesToSocket });
    };

    /** The stream was aborted (peer reset, session expired or replaced): reset the socket, never FIN it. */
    const abortSocket = (code: ErrorCode) => {
      if (failed === undefined) failed = code;
      if (!socket.destroyed) socket.resetAndDestroy();
    };
    /** The socket failed or was reset: abort the stream so the far side resets too. */
    const abortStream = (code: ErrorCode) => {
      if (failed === undefined) failed = code;
      if (!stream.destroyed) stream.reset(code);
    };

    // Each direction pauses its reader for two reasons, backpressure and a bandwidth limit, and resumes
    // only when neither holds: pausing one socket or stream never stalls the session's other streams.
    const clock = limits.clock ?? realClock;
    const up = limits.fromSocket ?? [];
    const down = limits.toSocket ?? [];
    let socketHeld = false; // the stream's buffer is full
    let socketThrottle: TimerHandle | undefined;
    let streamHeld = false; // the socket's write buffer is at its cap
    let streamThrottle: TimerHandle | undefined;
    const resumeSocket = () => {
      if (!socketHeld && !socketThrottle && !socket.destroyed) socket.resume();
    };
    const resumeStream = () => {
      if (!streamHeld && !streamThrottle && !stream.destroyed) stream.resume();
    };
    /** Charges `n` bytes; when a bucket is in debt, pauses the reader until it is paid (one timer). */
    const charge = (
      buckets: readonly TokenBucket[],
      n: number,
      timer: TimerHandle | undefined,
      pause: () => void,
      done: () => void,
    ) => {
      const wait = buckets.length > 0 ? takeAll(buckets, n) : 0;
      if (wait <= 0 || timer) return timer;
      pause();
      return clock.setTimeout(done, wait);
    };

    socket.on('data', (chunk: Buffer) => {
      bytesFromSocket += chunk.length;
      if (!stream.write(chunk)) {
        socketHeld = true;
        socket.pause();
      }
      socketThrottle = charge(
        up,
        chunk.length,
        socketThrottle,
        () => socket.pause(),
        () => {
          socketThrottle = undefined;
          resumeSocket();
        },
      );
    });
    socket.on('end', () => {
      socketEnded = true;
      if (!stream.destroyed) stream.end();
      maybeDone();
    });

    // The stream hands over one chunk per DATA frame, several per link read; corking the socket until the
    // end of the tick turns them into one writev (one syscall, one wakeup of the reader) instead of one each.
    let corked = false;
    const uncork = () => {
      corked = false;
      if (!socket.destroyed) socket.uncork();
    };
    socket.on('drain', () => {
      streamHeld = false;
      resumeStream();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      logger?.debug({ errno: err.code }, 'socket error');
      abortStream('XNAT_ERR_FORWARD_SOCKET_RESET');
    });
    socket.on('close', () => {
      socketClosed = true;
      // A socket that closed before both directions finished was torn down: the stream must not look complete.
      if (!(socketEnded && streamEnded) && failed === undefined) abortStream('XNAT_ERR_FORWARD_SOCKET_RESET');
      // Both FINs seen: a mux stream closes by itself once its own FIN is out (it may wait behind queued
      // data with no send window yet); a Duplex is destroyed once it has finished writing.
      else if (!stream.destroyed && socketEnded && streamEnded) stream.done?.();
      finish();
    });

    // Listeners are in place: let bytes flow (listeners and targets hand us paused sockets).
    socket.resume();

    stream.setReader({
      data: (chunk) => {
        bytesToSocket += chunk.length;
        if (!corked && !socket.destroyed) {
          corked = true;
          socket.cork();
          process.nextTick(uncork);
        }
        let more = true;
        // Pause at the socket's write buffer cap, not at its (small) high-water mark, which a corked tick
        // passes after one frame: the cap still bounds memory, and 'drain' follows since write() said false.
        if (!socket.write(chunk) && socket.writableLength >= SOCKET_WRITE_CAP_BYTES) {
          streamHeld = true;
          more = false;
        }
        streamThrottle = charge(
          down,
          chunk.length,
          streamThrottle,
          () => (more = false),
          () => {
            streamThrottle = undefined;
            resumeStream();
          },
        );
        return more;
      },
      drain: () => {
        socketHeld = false;
        resumeSocket();
      },
      end: () => {
        streamEnded = true;
        if (!socket.destroyed) socket.end();
        maybeDone();
      },
      close: (code) => {
        streamClosed = true;
        if (code !== undefined) abortSocket(code);
        else if (!(socketEnded && streamEnded) && !socket.destroyed)
          abortSocket(stream.resetCode ?? 'XNAT_ERR_FORWARD_STREAM_RESET');
        finish();
      },
    });

    function maybeDone() {
      // Both directions half-closed cleanly: let the socket finish flushing, then close.
      if (socketEnded && streamEnded && socket.writableFinished) socket.destroy();
      else if (socketEnded && streamEnded) socket.once('finish', () => socket.destroy());
    }
  });
}
