// How full the link record being filled is, as far as this mux's own frames tell, so DATA frames can be
// sized to top it off. It knows no links: only that a record's plaintext holds whole frames, at most one
// header plus MAX_FRAME_PAYLOAD bytes (src/wire/frame.ts), packed in the order they are sent.
import { FRAME_HEADER_BYTES, MAX_FRAME_PAYLOAD } from '../wire/frame.ts';

/** Plaintext bytes of one full record: the largest frame exactly. */
const RECORD_PLAINTEXT_BYTES = FRAME_HEADER_BYTES + MAX_FRAME_PAYLOAD;

/**
 * Room smaller than this is not topped off: the next frame starts a new record instead. A frame that
 * small would cost a header and a scheduler turn to save under 1% of a record.
 */
export const MIN_TOP_OFF_BYTES = 1024;

/**
 * The link packs frames greedily into records and seals one when the next frame does not fit, so a
 * lone stream's 64 KiB writes would go out as a full record and a 37-byte one. Sizing the next DATA frame
 * to the room left makes both share records, full ones. Frames the mux does not see (the session's ACKs,
 * the link's PINGs) and flushes of a partial record shift the real boundary; the estimate then costs
 * one short record and realigns by itself (a frame that does not fit starts a record on both counts).
 */
export class RecordFill {
  private fill = 0;

  /** A frame of `bytes` (header included) was handed to the transport. */
  sent(bytes: number): void {
    if (this.fill + bytes > RECORD_PLAINTEXT_BYTES) this.fill = 0;
    this.fill += bytes;
    if (RECORD_PLAINTEXT_BYTES - this.fill < FRAME_HEADER_BYTES + MIN_TOP_OFF_BYTES) this.fill = 0;
  }

  /** Payload bytes a DATA frame may carry to fill the current record (MAX_FRAME_PAYLOAD when it is empty). */
  get room(): number {
    return RECORD_PLAINTEXT_BYTES - this.fill - FRAME_HEADER_BYTES;
  }
}
