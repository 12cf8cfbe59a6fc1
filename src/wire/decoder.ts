// The frame parser: the frames of one decrypted link record, whole by construction, handed out as views.
// It knows nothing of records, keys or sockets; a record's plaintext may come in pieces (piecewise decryption).
import { XnatError } from '../errors.ts';
import { checkHeader, parsePayload, type FrameHeader } from './codec.ts';
import { FRAME_HEADER_BYTES, MAX_FRAME_PAYLOAD, type Frame } from './frame.ts';

/** A header that straddles two plaintext pieces is gathered here (used and released synchronously). */
const headerScratch = Buffer.alloc(FRAME_HEADER_BYTES);

/**
 * Decodes every frame of one record's plaintext and calls onFrame for each, in order. The plaintext
 * holds whole frames only (a frame never straddles a record), so a partial frame at its end is
 * XNAT_ERR_WIRE_TRUNCATED; other violations get their WIRE_* code (codec.ts), checked header first.
 * Payloads are subarrays of the plaintext (zero copy); when the plaintext comes as several pieces, only a
 * frame that straddles two pieces is copied. If onFrame throws, the exception propagates and the frames
 * after it are not decoded. Returns the number of frames decoded.
 */
export function decodeFrames(
  plaintext: Buffer | readonly Buffer[],
  onFrame: (frame: Frame) => void,
  maxPayload = MAX_FRAME_PAYLOAD,
): number {
  const pieces = Buffer.isBuffer(plaintext) ? [plaintext] : plaintext;
  const at = { piece: 0, offset: 0 };
  let count = 0;
  for (;;) {
    while (at.piece < pieces.length && at.offset === pieces[at.piece]!.length) {
      at.piece++;
      at.offset = 0;
    }
    if (at.piece === pieces.length) return count;
    const piece = pieces[at.piece]!;
    let header: FrameHeader;
    if (piece.length - at.offset >= FRAME_HEADER_BYTES) {
      header = readHeader(piece, at.offset, maxPayload);
      at.offset += FRAME_HEADER_BYTES;
    } else {
      if (!gather(pieces, at, headerScratch, FRAME_HEADER_BYTES)) {
        throw new XnatError('XNAT_ERR_WIRE_TRUNCATED', {
          detail: 'partial frame header at the end of a record',
        });
      }
      header = readHeader(headerScratch, 0, maxPayload);
    }
    let payload: Buffer;
    const current = pieces[at.piece];
    if (current !== undefined && current.length - at.offset >= header.length) {
      payload = current.subarray(at.offset, at.offset + header.length);
      at.offset += header.length;
    } else {
      payload = Buffer.allocUnsafe(header.length);
      if (!gather(pieces, at, payload, header.length)) {
        throw new XnatError('XNAT_ERR_WIRE_TRUNCATED', {
          detail: `frame length ${header.length} beyond the end of its record`,
        });
      }
    }
    count++;
    onFrame(parsePayload(header, payload));
  }
}

function readHeader(buf: Buffer, at: number, maxPayload: number): FrameHeader {
  return checkHeader(buf[at]!, buf[at + 1]!, buf.readUInt32BE(at + 2), buf.readUInt32BE(at + 6), maxPayload);
}

/** Copies the next `n` bytes of `pieces` from `at` into `dst`, advancing `at`; false when fewer remain. */
function gather(
  pieces: readonly Buffer[],
  at: { piece: number; offset: number },
  dst: Buffer,
  n: number,
): boolean {
  let written = 0;
  while (written < n) {
    const piece = pieces[at.piece];
    if (piece === undefined) return false;
    const k = Math.min(n - written, piece.length - at.offset);
    piece.copy(dst, written, at.offset, at.offset + k);
    written += k;
    at.offset += k;
    if (at.offset === piece.length) {
      at.piece++;
      at.offset = 0;
    }
  }
  return true;
}
