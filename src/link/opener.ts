// Opening: u16-length-prefixed records cut out of the socket's chunks and decrypted under the receiving key;
// a record split across socket reads is joined into one buffer first, then decrypted. Knows no frames.
import { XnatError } from '../errors.ts';
import type { LinkStats, RecordCipher } from './options.ts';
import { ByteQueue, LENGTH_PREFIX_BYTES, RECORD_MAX_BYTES, RECORD_MIN_BYTES } from './wire.ts';

const EMPTY = new Uint8Array(0);

/**
 * A record split across socket reads (most bulk records: 65 537 wire bytes against 64 KiB reads) is joined
 * here before decryption: shared by every link of the process, safe because the decryption consumes it in
 * the same synchronous step. Joining beats decrypting the pieces: node:crypto returns one new buffer per
 * piece, and the frame straddling them (a bulk record's one DATA frame) would then be copied again into a
 * fresh allocation by the frame decoder; this copy goes to a reused buffer and the record decrypts whole.
 */
let joinScratch: Buffer | undefined;

/** Room for one whole record on the wire: the most a carry ever holds. */
const CARRY_BYTES = LENGTH_PREFIX_BYTES + RECORD_MAX_BYTES;

export class RecordOpener {
  private readonly inbox = new ByteQueue();
  /**
   * The unopened rest of a reused read buffer's chunk (a record's head, waiting for its tail), copied
   * here before the buffer is read into again; the tail is appended behind it so the record opens from
   * here with no further join. Per opener, allocated on the first such rest.
   */
  private carry: Buffer | undefined;

  constructor(
    private readonly recv: RecordCipher,
    private readonly stats: LinkStats,
  ) {}

  /** Queues bytes read from the socket (held by reference until their record is opened). */
  push(chunk: Buffer): void {
    this.inbox.push(chunk);
  }

  /**
   * Copies what is still queued into this opener's own memory: the chunks pushed since the last open()
   * are views of a read buffer about to be reused (transport/reused-reads.ts). At most one partial record.
   */
  retainRest(): void {
    if (this.inbox.length === 0) return;
    const views = this.inbox.drain();
    const first = views[0]!;
    let at = 0;
    let from = 0;
    if (this.carry && first.buffer === this.carry.buffer && first.byteOffset === this.carry.byteOffset) {
      at = first.length; // already the carry's head: append the rest behind it
      from = 1;
    } else if (views.some((v) => this.carry !== undefined && v.buffer === this.carry.buffer)) {
      // Not the carry's own layout (a link stopped mid-read): give up on reuse rather than copy onto itself.
      this.carry = undefined;
    }
    this.carry ??= Buffer.allocUnsafe(CARRY_BYTES);
    for (let i = from; i < views.length; i++) {
      views[i]!.copy(this.carry, at);
      at += views[i]!.length;
    }
    this.inbox.push(this.carry.subarray(0, at));
  }

  /**
   * Opens each complete record queued and hands its plaintext to `onRecord` (one buffer; the type also
   * admits pieces, in order, for callers that decode either). Stops early once `stopped()` holds. Throws
   * XNAT_ERR_LINK_RECORD_MALFORMED (length out of range) or XNAT_ERR_CRYPTO_DECRYPT (bad tag).
   */
  open(onRecord: (plaintext: Buffer | readonly Buffer[]) => void, stopped: () => boolean): void {
    const q = this.inbox;
    while (!stopped() && q.length >= LENGTH_PREFIX_BYTES) {
      const len = q.peekU16();
      if (len < RECORD_MIN_BYTES || len > RECORD_MAX_BYTES) {
        throw new XnatError('XNAT_ERR_LINK_RECORD_MALFORMED', { detail: `record length ${len}` });
      }
      if (q.length < LENGTH_PREFIX_BYTES + len) return;
      q.take(LENGTH_PREFIX_BYTES);
      const views = q.takeViews(len);
      this.stats.recordsIn++;
      this.stats.bytesIn += LENGTH_PREFIX_BYTES + len;
      onRecord(this.decrypt(views, len));
    }
  }

  private decrypt(views: readonly Buffer[], len: number): Buffer | readonly Buffer[] {
    const recv = this.recv;
    if (views.length === 1) return recv.decryptWithAd(EMPTY, views[0]!);
    const head = views[0]!;
    const carry = this.carry;
    let ct: Buffer;
    let at: number;
    let from: number;
    if (carry && head.buffer === carry.buffer) {
      // The record's head is in the carry, with room behind it for the whole record: join there.
      const start = head.byteOffset - carry.byteOffset;
      ct = carry.subarray(start, start + len);
      at = head.length;
      from = 1;
    } else {
      joinScratch ??= Buffer.allocUnsafe(RECORD_MAX_BYTES);
      ct = joinScratch.subarray(0, len);
      at = 0;
      from = 0;
    }
    for (let i = from; i < views.length; i++) {
      views[i]!.copy(ct, at);
      at += views[i]!.length;
    }
    return recv.decryptWithAd(EMPTY, ct);
  }
}
