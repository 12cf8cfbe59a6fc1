// An in-memory connected pair of Duplex streams with backpressure, standing in for a TCP connection in tests.
// It knows nothing of what flows through it; chunks are handed over by reference, never copied.
import { Duplex } from 'node:stream';

/** Bytes a side buffers for its reader before the writer's callback is held back; default 64 KiB. */
export const MEMORY_PAIR_HIGH_WATER_MARK_BYTES = 64 * 1024;

class PairSide extends Duplex {
  peer: PairSide | undefined;
  /** The peer's held write callback: released when this side's reader asks for more. */
  private heldWrite: ((err?: Error | null) => void) | undefined;

  constructor(highWaterMark: number) {
    // allowHalfOpen false: like net.Socket's default, an EOF from the peer ends this side too.
    super({
      allowHalfOpen: false,
      readableHighWaterMark: highWaterMark,
      writableHighWaterMark: highWaterMark,
    });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const peer = this.peer;
    if (!peer || peer.destroyed || peer.readableEnded) {
      cb(Object.assign(new Error('write to a closed memory pair'), { code: 'EPIPE' }));
      return;
    }
    // push() returning false means the peer's reader is full: hold the callback until it reads (backpressure).
    if (peer.push(chunk)) cb();
    else peer.heldWrite = cb;
  }

  override _read(): void {
    const cb = this.heldWrite;
    if (cb) {
      this.heldWrite = undefined;
      cb();
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    const peer = this.peer;
    if (peer && !peer.destroyed) peer.push(null);
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const peer = this.peer;
    const held = this.heldWrite;
    this.heldWrite = undefined;
    if (held) held(Object.assign(new Error('memory pair peer destroyed'), { code: 'EPIPE' }));
    // Like a TCP close: the peer reads EOF (and, with allowHalfOpen false, ends its own side).
    if (peer && !peer.destroyed && !peer.readableEnded) peer.push(null);
    cb(err);
  }
}

/** Two Duplex ends: bytes written to one are read from the other, in order, with backpressure both ways. */
export function createDuplexPair(highWaterMark = MEMORY_PAIR_HIGH_WATER_MARK_BYTES): [Duplex, Duplex] {
  const a = new PairSide(highWaterMark);
  const b = new PairSide(highWaterMark);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
