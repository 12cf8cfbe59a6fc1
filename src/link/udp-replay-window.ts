// The sliding anti-replay window of one UDP path direction (RFC 6479's bitmap ring, as WireGuard uses it):
// accepts each counter at most once and rejects counters too far behind the newest. It knows nothing of
// keys or sockets; the path checks before decrypting and marks only after the tag verified.

/** Bits per ring word. */
const WORD_BITS = 32;
/** Words in the ring: 64 x 32 = a 2048-bit bitmap. */
const RING_WORDS = 64;
/**
 * Counters behind the newest still accepted once (2016): the bitmap's 2048 bits less one word, which is
 * cleared as the window moves (RFC 6479's redundant block), so moving never needs a bit-by-bit shift.
 * At 10 000 datagrams a second this allows 200 ms of reordering, far more than the internet does.
 */
export const REPLAY_WINDOW_SIZE = (RING_WORDS - 1) * WORD_BITS;
/** Largest counter accepted: a JS number counts exactly up to here (2^53 - 1; the wire field is 64 bits). */
export const UDP_COUNTER_MAX = Number.MAX_SAFE_INTEGER;

export class ReplayWindow {
  private readonly ring = new Uint32Array(RING_WORDS);
  /** The newest counter accepted; -1 before the first. */
  private last = -1;

  /** The newest counter accepted so far (-1: none). */
  get newest(): number {
    return this.last;
  }

  /**
   * True when `counter` could be new: not above UDP_COUNTER_MAX, not behind the window, not yet seen.
   * Changes nothing: a datagram is checked with this before its (costly) decryption, and marked with
   * accept() only after its tag verified, so forged datagrams can never move the window.
   */
  check(counter: number): boolean {
    if (!Number.isSafeInteger(counter) || counter < 0) return false;
    if (counter > this.last) return true;
    if (this.last - counter >= REPLAY_WINDOW_SIZE) return false;
    return (this.ring[wordOf(counter)]! & bitOf(counter)) === 0;
  }

  /** Marks `counter` as seen (moving the window when it is the newest); false if check() would have failed. */
  accept(counter: number): boolean {
    if (!this.check(counter)) return false;
    if (counter > this.last) {
      const from = this.last < 0 ? -1 : Math.floor(this.last / WORD_BITS);
      const to = Math.floor(counter / WORD_BITS);
      // Words the window slides over are cleared (all of them at most once, however far it jumps).
      const steps = Math.min(to - from, RING_WORDS);
      for (let i = 1; i <= steps; i++) this.ring[(from + i) % RING_WORDS] = 0;
      this.last = counter;
    }
    this.ring[wordOf(counter)]! |= bitOf(counter);
    return true;
  }
}

function wordOf(counter: number): number {
  return Math.floor(counter / WORD_BITS) % RING_WORDS;
}

function bitOf(counter: number): number {
  return (1 << (counter % WORD_BITS)) >>> 0;
}
