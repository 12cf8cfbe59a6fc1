// Sealing: one record's plaintext (whole frames, in pieces) encrypted under the sending key and written as
// u16 length + ciphertext + tag. It knows nothing of batching, frames or when to rekey.
import type { Duplex } from 'node:stream';
import type { LinkStats, RecordCipher } from './options.ts';
import { LENGTH_PREFIX_BYTES, RECORD_MAX_PLAINTEXT_BYTES } from './wire.ts';

const EMPTY = new Uint8Array(0);

/**
 * Pieces at least this long go to the cipher as they are (a bulk frame's payload: no copy); shorter
 * ones (headers, small frames) are gathered into runs first, since a cipher call per tiny piece costs
 * more than copying it. 4 KiB: a copy of that size is well under the cost of one more update() call.
 */
export const DIRECT_PIECE_BYTES = 4096;

/**
 * Runs of short pieces are gathered here: shared by every link of the process, safe because the cipher
 * copies them out within the same synchronous call; allocated on first use.
 */
let gatherScratch: Buffer | undefined;

export class RecordSealer {
  constructor(
    private readonly socket: Duplex,
    private readonly send: RecordCipher,
    private readonly stats: LinkStats,
  ) {}

  /**
   * Encrypts the plaintext `pieces` (`bytes` in total, at most RECORD_MAX_PLAINTEXT_BYTES) and writes prefix
   * + ciphertext parts + tag (one writev takes them all, so joining them would only cost a copy);
   * encryption order is wire order. The pieces are not referenced after it returns.
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
    const segments = pieces.length === 1 ? pieces : gather(pieces, !send.encryptWithAdPieces);
    if (segments.length === 1) {
      const pt = segments[0]!;
      return send.encryptWithAdParts ? send.encryptWithAdParts(EMPTY, pt) : [send.encryptWithAd(EMPTY, pt)];
    }
    return send.encryptWithAdPieces!(EMPTY, segments, bytes);
  }
}

/**
 * The pieces as the cipher gets them: long ones as they are, runs of short ones copied together into the
 * shared scratch; everything into one run when `joinAll` (a cipher without encryptWithAdPieces).
 */
function gather(pieces: readonly Buffer[], joinAll: boolean): Buffer[] {
  gatherScratch ??= Buffer.allocUnsafe(RECORD_MAX_PLAINTEXT_BYTES);
  const scratch = gatherScratch;
  const out: Buffer[] = [];
  let runStart = 0;
  let at = 0;
  for (const p of pieces) {
    if (!joinAll && p.length >= DIRECT_PIECE_BYTES) {
      if (at > runStart) out.push(scratch.subarray(runStart, at));
      runStart = at;
      out.push(p);
      continue;
    }
    p.copy(scratch, at);
    at += p.length;
  }
  if (at > runStart) out.push(scratch.subarray(runStart, at));
  return out;
}
