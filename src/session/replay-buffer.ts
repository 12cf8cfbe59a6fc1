// The sender's replay buffer: encoded reliable frames numbered from 1, kept until the peer acknowledges them.
// It knows nothing of links or timers; the session asks it for the next unsent frame and trims it on acks.

/** One encoded reliable frame waiting for its acknowledgement. */
export interface ReplayEntry {
  /** Sequence number: the n-th reliable frame this side sent in the session is n (from 1). */
  readonly seq: number;
  /** Encoded bytes (header first), as encodeFrame returned them. */
  readonly chunks: readonly Buffer[];
  /** Sum of the chunks' lengths. */
  readonly bytes: number;
}

/** Consumed slots at the front are dropped in batches of at least this many (amortised O(1) shift). */
const COMPACT_AFTER_ENTRIES = 1024;

/**
 * Frames sent but not acknowledged and frames not yet sent live in one ordered list, so one structure
 * serves resend after a resume and backpressure from a congested link. Sequence numbers are JS numbers:
 * 2^53 frames is far beyond any session's life.
 */
export class ReplayBuffer {
  private entries: (ReplayEntry | undefined)[] = [];
  private head = 0;
  /** Highest sequence number the peer acknowledged (all <= it are gone from the buffer). */
  private ackedSeq = 0;
  /** Highest sequence number written on the current link. */
  private sentSeq = 0;
  /** Highest sequence number ever written on any link (a write at or below it is a replay). */
  private maxSentSeq = 0;
  private lastSeq = 0;
  private heldBytes = 0;
  private high = 0;

  /** Bytes held (sent-unacked plus unsent). */
  get bytes(): number {
    return this.heldBytes;
  }

  /** The most bytes ever held at once. */
  get highWater(): number {
    return this.high;
  }

  /** Sequence number of the last frame pushed (0 before any). */
  get last(): number {
    return this.lastSeq;
  }

  /** Highest acknowledged sequence number. */
  get acked(): number {
    return this.ackedSeq;
  }

  /** Highest sequence number ever written to a link. */
  get maxSent(): number {
    return this.maxSentSeq;
  }

  /** Frames held. */
  get length(): number {
    return this.entries.length - this.head;
  }

  /** True when some frame is waiting to be written on the current link. */
  get hasUnsent(): boolean {
    return this.sentSeq < this.lastSeq;
  }

  /** Appends a frame and returns its sequence number. */
  push(chunks: readonly Buffer[]): number {
    let bytes = 0;
    for (const c of chunks) bytes += c.length;
    const seq = ++this.lastSeq;
    this.entries.push({ seq, chunks, bytes });
    this.heldBytes += bytes;
    if (this.heldBytes > this.high) this.high = this.heldBytes;
    return seq;
  }

  /** The next frame to write on the current link, marked written; undefined when all are written. */
  takeUnsent(): ReplayEntry | undefined {
    if (this.sentSeq >= this.lastSeq) return undefined;
    const entry = this.entries[this.head + (this.sentSeq - this.ackedSeq)]!;
    this.sentSeq = entry.seq;
    if (entry.seq > this.maxSentSeq) this.maxSentSeq = entry.seq;
    return entry;
  }

  /** True when `seq` was already written on some link before (so writing it again is a replay). */
  wasSent(seq: number): boolean {
    return seq <= this.maxSentSeq;
  }

  /**
   * Applies a cumulative acknowledgement: drops every frame <= `received`. Returns false when `received`
   * is beyond the last frame ever written (a protocol violation); an older ack is ignored.
   */
  ack(received: number): boolean {
    if (received > this.maxSentSeq) return false;
    while (this.ackedSeq < received) {
      const entry = this.entries[this.head]!;
      this.entries[this.head] = undefined; // let the bytes go now, not at the next compaction
      this.head++;
      this.heldBytes -= entry.bytes;
      this.ackedSeq = entry.seq;
    }
    if (this.sentSeq < this.ackedSeq) this.sentSeq = this.ackedSeq;
    if (this.head >= COMPACT_AFTER_ENTRIES && this.head * 2 >= this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    return true;
  }

  /** Forgets every held frame (the session ended); counters and high water stay for stats. */
  clear(): void {
    this.entries = [];
    this.head = 0;
    this.heldBytes = 0;
    this.sentSeq = this.ackedSeq = this.lastSeq;
  }

  /**
   * Starts a new link whose peer has received `peerReceived` frames: drops what it confirms and rewinds so
   * the rest is written again, in order. Returns false when `peerReceived` is below an earlier ack or
   * beyond anything ever written (the peer's state cannot be reconciled).
   */
  rewind(peerReceived: number): boolean {
    if (peerReceived < this.ackedSeq || peerReceived > this.maxSentSeq) return false;
    this.ack(peerReceived);
    this.sentSeq = this.ackedSeq;
    return true;
  }
}
