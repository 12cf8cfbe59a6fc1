// Sealing: one record's plaintext (whole frames, in pieces) encrypted under the sending key and written as
// u16 length + ciphertext + tag. It knows nothing of batching, frames or when to rekey.
import type { Duplex } from 'node:stream';
import type { LinkStats, RecordCipher } from './options.ts';
import { LENGTH_PREFIX_BYTES, RECORD_MAX_PLAINTEXT_BYTES } from './wire.ts';

const EMPTY = new Uint8Array(0);

/**
 * A record whose plaintext came in several pieces is joined here before the cipher runs when the cipher
 * cannot take pieces: shared by every link of the process, safe because it is used and released within
 * one synchronous step (the cipher copies it out); allocated on first use.
 */
let joinScratch: Buffer | undefined;

export class RecordSealer {
  constructor(
    private readonly socket: Duplex,
    private readonly send: RecordCipher,
    private readonly stats: LinkStats,
  ) {}

  /**
   * Encrypts the plaintext `pieces` (`bytes` in total, at most RECORD_MAX_PLAINTEXT_BYTES) and writes prefix
   * + ciphertext (+ tag, when the cipher returns it apart: one writev takes them all, so joining them would
   * only cost a copy); encryption order is wire order. The pieces are not referenced after it returns.
   */
  seal(pieces: readonly Buffer[], bytes: number): void {
    const parts = this.encrypt(pieces, bytes);
    let ctBytes = 0;
    for (const p of parts) ctBytes += p.length;
    const prefix = Buffer.allocUnsafe(LENGTH_PREFIX_BYTES);
    prefix.writeUInt16BE(ctBytes, 0);
    this.socket.write(prefix);
    for (const p of parts) this.socket.write(p);
    this.stats.recordsOut++;
    this.stats.bytesOut += LENGTH_PREFIX_BYTES + ctBytes;
  }

  private encrypt(pieces: readonly Buffer[], bytes: number): readonly Buffer[] {
    const send = this.send;
    let pt: Buffer;
    if (pieces.length === 1) pt = pieces[0]!;
    else {
      joinScratch ??= Buffer.allocUnsafe(RECORD_MAX_PLAINTEXT_BYTES);
      pt = joinScratch.subarray(0, bytes);
      let at = 0;
      for (const p of pieces) {
        p.copy(pt, at);
        at += p.length;
      }
    }
    return send.encryptWithAdParts ? send.encryptWithAdParts(EMPTY, pt) : [send.encryptWithAd(EMPTY, pt)];
  }
}
