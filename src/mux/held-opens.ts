// STREAM_OPENs the mux holds back until their stream's first DATA (a visitor's first bytes ride in the
// open) or the end of the next loop iteration. It knows frames and ids, not transports or streams.
import { type Frame, FrameType, MAX_FRAME_PAYLOAD, type StreamOpenFrame } from '../wire/frame.ts';

/** Sends one open (with `data`, or as held) and whatever must follow it; returns the transport's answer. */
export type SendOpen = (open: StreamOpenFrame, data?: Buffer) => boolean;

/**
 * Held opens in id order (map order is open order): the peer takes ids only increasing, so an open leaves
 * only after every held open of a lower id. `release` runs before each frame the mux sends.
 */
export class HeldOpens {
  private readonly held = new Map<number, StreamOpenFrame>();
  private turn: 'none' | 'first' | 'second' = 'none';

  constructor(
    private readonly sendOpen: SendOpen,
    /** False once the transport or the mux is done: the opens are then dropped. */
    private readonly live: () => boolean,
  ) {}

  get size(): number {
    return this.held.size;
  }

  hold(open: StreamOpenFrame): void {
    this.held.set(open.streamId, open);
    if (this.turn !== 'none') return;
    // Two check phases: the first comes before the new socket's first read could, the second after the
    // next poll, which does not block while an immediate is pending. A service that speaks first waits
    // one loop iteration for its open, never a timer.
    this.turn = 'first';
    setImmediate(this.onTurn);
  }

  clear(): void {
    this.held.clear();
  }

  /**
   * Before `frame` leaves: for a frame of a held stream (or any STREAM_OPEN) the held opens of lower ids
   * go first, then its own, carrying the frame's bytes when it is a DATA that fits beside the meta; a
   * RESET of a held stream drops its open (the peer never hears of it: a skipped id is fine, a reused one
   * is not). Returns the result when the frame itself is dealt with, undefined when it must still be sent.
   */
  release(frame: Frame): { sent: boolean } | undefined {
    if (this.held.size === 0 || !('streamId' in frame)) return undefined;
    const id = frame.streamId;
    const open = this.held.get(id);
    if (!open && frame.type !== FrameType.STREAM_OPEN) return undefined;
    if (open && frame.type === FrameType.STREAM_RESET) {
      this.held.delete(id);
      return { sent: true };
    }
    this.sendBelow(id);
    if (!open) return undefined;
    this.held.delete(id);
    if (
      frame.type === FrameType.STREAM_DATA &&
      frame.data.length <= MAX_FRAME_PAYLOAD - 2 - open.meta.length
    ) {
      return { sent: this.sendOpen(open, frame.data) };
    }
    this.sendOpen(open);
    return undefined;
  }

  private readonly onTurn = (): void => {
    if (this.turn === 'first') {
      this.turn = 'second';
      setImmediate(this.onTurn);
      return;
    }
    this.turn = 'none';
    if (this.held.size > 0 && this.live()) this.sendBelow(Infinity);
    else this.held.clear();
  };

  private sendBelow(id: number): void {
    for (const [heldId, open] of this.held) {
      if (heldId >= id) break;
      this.held.delete(heldId);
      this.sendOpen(open);
    }
  }
}
