// Opening: u16-length-prefixed records cut out of the socket's chunks and decrypted under the receiving key;
// a record split across socket reads is joined into a shared scratch first, then decrypted. Knows no frames.
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

export class RecordOpener {
  private readonly inbox = new ByteQueue();

  constructor(
    private readonly recv: RecordCipher,
    private readonly stats: LinkStats,
  ) {}

  /** Queues bytes read from the socket (held by reference until their record is opened). */
  push(chunk: Buffer): void {
    this.inbox.push(chunk);
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
    joinScratch ??= Buffer.allocUnsafe(RECORD_MAX_BYTES);
    const ct = joinScratch.subarray(0, len);
    let at = 0;
    for (const v of views) {
      v.copy(ct, at);
      at += v.length;
    }
    return recv.decryptWithAd(EMPTY, ct);
  }
}
