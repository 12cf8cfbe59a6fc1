// Opening: u16-length-prefixed records cut out of the socket's chunks and decrypted under the receiving key;
// a record split across socket reads is decrypted piece by piece where the cipher can. Knows no frames.
import { XnatError } from '../errors.ts';
import type { LinkStats, RecordCipher } from './options.ts';
import { ByteQueue, LENGTH_PREFIX_BYTES, RECORD_MAX_BYTES, RECORD_MIN_BYTES } from './wire.ts';

const EMPTY = new Uint8Array(0);

/**
 * A record split across socket reads is joined here when the cipher cannot decrypt pieces: shared by every
 * link of the process, safe because the decryption consumes it in the same synchronous step.
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
   * Opens each complete record queued and hands its plaintext to `onRecord`: one buffer, or the pieces of
   * a record that straddled reads, in order. Stops early once `stopped()` holds. Throws
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
    if (recv.decryptWithAdPieces) return recv.decryptWithAdPieces(EMPTY, views);
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
