// Frame <-> bytes for one whole frame: encoding, header checks and payload parsing (layout in docs/protocol.md).
// It knows nothing of chunking (decoder.ts does), sequence numbers or what meta, body and data mean.
import { XnatError } from '../errors.ts';
import {
  CLOSE_CODE_MAX_BYTES,
  CLOSE_REASON_MAX_BYTES,
  FRAME_HEADER_BYTES,
  FrameType,
  MAX_CODE_BYTES,
  MAX_FRAME_PAYLOAD,
  MAX_OPEN_META_BYTES,
  PING_ID_BYTES,
  RESUME_PROOF_BYTES,
  RESUME_SECRET_BYTES,
  SESSION_ID_BYTES,
  type Frame,
  type FrameTypeValue,
} from './frame.ts';

/**
 * Data payloads up to this many bytes are copied next to the header so the frame is one buffer; bigger
 * ones are handed on as they are (zero copy). 512 bytes: below it a second write costs more than a copy.
 */
export const COPY_THRESHOLD_BYTES = 512;

/** Bytes of a u64 count (`received`) on the wire. */
const U64_BYTES = 8;
/** Flag bit 0 of SESSION_ACCEPT: the session was resumed rather than opened. */
export const FLAG_RESUMED = 0x01;

/** Payload bytes of the fixed-size frame types; a different length is a protocol violation. */
const FIXED_PAYLOAD_BYTES: Partial<Record<number, number>> = {
  [FrameType.STREAM_WINDOW]: 4,
  [FrameType.STREAM_FIN]: 0,
  [FrameType.SESSION_OPEN]: 2,
  [FrameType.SESSION_RESUME]: SESSION_ID_BYTES + RESUME_PROOF_BYTES + U64_BYTES,
  [FrameType.SESSION_ACCEPT]: SESSION_ID_BYTES + RESUME_SECRET_BYTES + U64_BYTES,
  [FrameType.ACK]: U64_BYTES,
  [FrameType.PING]: PING_ID_BYTES,
  [FrameType.PONG]: PING_ID_BYTES,
  [FrameType.REKEY]: 0,
};

/** Bytes of CLOSE's code length field (u16). */
const CLOSE_CODE_LENGTH_BYTES = 2;

const TYPE_NAMES = new Map<number, string>(Object.entries(FrameType).map(([name, value]) => [value, name]));

/** The glossary name of a frame type ("STREAM_DATA"), or its hex value when unknown ("0x7f"). */
export function frameTypeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `0x${type.toString(16).padStart(2, '0')}`;
}

/** True when `type` is one of FrameType's values. */
export function isKnownType(type: number): type is FrameTypeValue {
  return TYPE_NAMES.has(type);
}

/** The decoded fixed header of a frame. */
export interface FrameHeader {
  readonly type: FrameTypeValue;
  readonly flags: number;
  /** streamId, flowId or 0, depending on the type. */
  readonly streamId: number;
  /** Payload bytes that follow the header. */
  readonly length: number;
}

function fail(
  code:
    | 'XNAT_ERR_WIRE_BAD_TYPE'
    | 'XNAT_ERR_WIRE_OVERSIZE'
    | 'XNAT_ERR_WIRE_TRUNCATED'
    | 'XNAT_ERR_WIRE_BAD_FIELD',
  detail: string,
): never {
  throw new XnatError(code, { detail });
}

function streamIdKind(type: number): 'zero' | 'nonzero' | 'any' {
  if (type >= FrameType.STREAM_OPEN && type <= FrameType.STREAM_RESET) return 'nonzero';
  if (type === FrameType.DATAGRAM) return 'any';
  return 'zero';
}

/**
 * Checks everything the 10-byte header alone can tell, so a hostile length or field is refused before a
 * single payload byte is buffered. Order: type, size, flags, streamId, then length against the type's fields.
 */
export function checkHeader(
  type: number,
  flags: number,
  streamId: number,
  length: number,
  maxPayload: number,
): FrameHeader {
  if (!isKnownType(type)) fail('XNAT_ERR_WIRE_BAD_TYPE', `type ${frameTypeName(type)}`);
  const name = frameTypeName(type);
  if (length > maxPayload) fail('XNAT_ERR_WIRE_OVERSIZE', `type ${name} length ${length} max ${maxPayload}`);
  const allowedFlags = type === FrameType.SESSION_ACCEPT ? FLAG_RESUMED : 0;
  if ((flags & ~allowedFlags) !== 0)
    fail('XNAT_ERR_WIRE_BAD_FIELD', `type ${name} flags 0x${flags.toString(16)}`);
  const kind = streamIdKind(type);
  if ((kind === 'zero' && streamId !== 0) || (kind === 'nonzero' && streamId === 0)) {
    fail('XNAT_ERR_WIRE_BAD_FIELD', `type ${name} streamId ${streamId}`);
  }
  const fixed = FIXED_PAYLOAD_BYTES[type];
  if (fixed !== undefined && length !== fixed) {
    fail(
      length < fixed ? 'XNAT_ERR_WIRE_TRUNCATED' : 'XNAT_ERR_WIRE_BAD_FIELD',
      `type ${name} length ${length} expected ${fixed}`,
    );
  }
  switch (type) {
    case FrameType.STREAM_OPEN:
      if (length < 2) fail('XNAT_ERR_WIRE_TRUNCATED', `type ${name} length ${length}`);
      break;
    case FrameType.STREAM_RESET:
    case FrameType.SESSION_REJECT:
      if (length < 1 || length > MAX_CODE_BYTES)
        fail('XNAT_ERR_WIRE_BAD_FIELD', `type ${name} code length ${length}`);
      break;
    case FrameType.COMMAND:
      if (length === 0) fail('XNAT_ERR_WIRE_BAD_FIELD', `type ${name} empty body`);
      break;
    case FrameType.CLOSE:
      if (length < CLOSE_CODE_LENGTH_BYTES) fail('XNAT_ERR_WIRE_TRUNCATED', `type ${name} length ${length}`);
      if (length > CLOSE_CODE_LENGTH_BYTES + CLOSE_CODE_MAX_BYTES + CLOSE_REASON_MAX_BYTES)
        fail('XNAT_ERR_WIRE_BAD_FIELD', `type ${name} length ${length}`);
      break;
  }
  return { type, flags, streamId, length };
}

const CODE_RE = /^[A-Z0-9_]+$/;
/** A CLOSE may carry no code at all (a plain close). */
const CLOSE_CODE_RE = /^[A-Z0-9_]*$/;

function parseCode(name: string, bytes: Buffer): string {
  // latin1 maps each byte to one char, so any byte >= 0x80 fails the regex instead of being decoded away.
  const code = bytes.toString('latin1');
  if (!CODE_RE.test(code)) fail('XNAT_ERR_WIRE_BAD_FIELD', `type ${name} code text`);
  return code;
}

/**
 * Builds the frame from a header already passed through checkHeader and its whole payload. Variable
 * payloads (data, meta, body) are subarrays of `payload` (zero copy); small fixed fields (session ids,
 * proofs, secrets) are copied so a session keeping them does not pin a large receive buffer.
 */
export function parsePayload(header: FrameHeader, payload: Buffer): Frame {
  const { type, streamId } = header;
  switch (type) {
    case FrameType.STREAM_OPEN: {
      const metaLength = payload.readUInt16BE(0);
      if (metaLength > MAX_OPEN_META_BYTES) {
        fail(
          'XNAT_ERR_WIRE_BAD_FIELD',
          `type STREAM_OPEN meta length ${metaLength} max ${MAX_OPEN_META_BYTES}`,
        );
      }
      if (2 + metaLength > payload.length) {
        fail(
          'XNAT_ERR_WIRE_TRUNCATED',
          `type STREAM_OPEN meta length ${metaLength} payload ${payload.length}`,
        );
      }
      return {
        type,
        streamId,
        meta: payload.subarray(2, 2 + metaLength),
        data: payload.subarray(2 + metaLength),
      };
    }
    case FrameType.STREAM_DATA:
      return { type, streamId, data: payload };
    case FrameType.STREAM_WINDOW: {
      const delta = payload.readUInt32BE(0);
      if (delta === 0) fail('XNAT_ERR_WIRE_BAD_FIELD', 'type STREAM_WINDOW delta 0');
      return { type, streamId, delta };
    }
    case FrameType.STREAM_FIN:
      return { type, streamId };
    case FrameType.STREAM_RESET:
      return { type, streamId, code: parseCode('STREAM_RESET', payload) };
    case FrameType.COMMAND:
      return { type, body: payload };
    case FrameType.SESSION_OPEN:
      return { type, version: payload.readUInt16BE(0) };
    case FrameType.SESSION_RESUME: {
      const proofEnd = SESSION_ID_BYTES + RESUME_PROOF_BYTES;
      return {
        type,
        sessionId: Buffer.from(payload.subarray(0, SESSION_ID_BYTES)),
        proof: Buffer.from(payload.subarray(SESSION_ID_BYTES, proofEnd)),
        received: payload.readBigUInt64BE(proofEnd),
      };
    }
    case FrameType.SESSION_ACCEPT: {
      const secretEnd = SESSION_ID_BYTES + RESUME_SECRET_BYTES;
      return {
        type,
        resumed: (header.flags & FLAG_RESUMED) !== 0,
        sessionId: Buffer.from(payload.subarray(0, SESSION_ID_BYTES)),
        resumeSecret: Buffer.from(payload.subarray(SESSION_ID_BYTES, secretEnd)),
        received: payload.readBigUInt64BE(secretEnd),
      };
    }
    case FrameType.SESSION_REJECT:
      return { type, code: parseCode('SESSION_REJECT', payload) };
    case FrameType.ACK:
      return { type, received: payload.readBigUInt64BE(0) };
    case FrameType.DATAGRAM:
      return { type, flowId: streamId, data: payload };
    case FrameType.PING:
    case FrameType.PONG:
      return { type, id: payload.readBigUInt64BE(0) };
    case FrameType.CLOSE:
      return parseClose(payload);
    case FrameType.REKEY:
      return { type };
  }
}

function parseClose(payload: Buffer): Frame {
  const codeLength = payload.readUInt16BE(0);
  if (codeLength > CLOSE_CODE_MAX_BYTES)
    fail('XNAT_ERR_WIRE_BAD_FIELD', `type CLOSE code length ${codeLength} max ${CLOSE_CODE_MAX_BYTES}`);
  const codeEnd = CLOSE_CODE_LENGTH_BYTES + codeLength;
  if (codeEnd > payload.length)
    fail('XNAT_ERR_WIRE_TRUNCATED', `type CLOSE code length ${codeLength} payload ${payload.length}`);
  const reasonBytes = payload.subarray(codeEnd);
  if (reasonBytes.length > CLOSE_REASON_MAX_BYTES)
    fail('XNAT_ERR_WIRE_BAD_FIELD', `type CLOSE reason length ${reasonBytes.length}`);
  const code = payload.subarray(CLOSE_CODE_LENGTH_BYTES, codeEnd).toString('latin1');
  if (!CLOSE_CODE_RE.test(code)) fail('XNAT_ERR_WIRE_BAD_FIELD', 'type CLOSE code text');
  // Control characters become spaces: the reason comes from the peer and ends up in log lines.
  // eslint-disable-next-line no-control-regex
  const reason = reasonBytes.toString('utf8').replace(/[\u0000-\u001f\u007f]/g, ' ');
  return { type: FrameType.CLOSE, code, reason };
}

/** A CLOSE reason as sent: UTF-8, cut to CLOSE_REASON_MAX_BYTES on a character boundary. */
function closeReasonBytes(reason: string): Buffer {
  const bytes = Buffer.from(reason, 'utf8');
  if (bytes.length <= CLOSE_REASON_MAX_BYTES) return bytes;
  // Cut on a character boundary so the peer never sees half a UTF-8 sequence.
  return Buffer.from(
    bytes
      .subarray(0, CLOSE_REASON_MAX_BYTES)
      .toString('utf8')
      .replace(/\uFFFD$/, ''),
  );
}

/** Decodes exactly one whole frame held in `buf` (header + payload, nothing more); throws XnatError when malformed. */
export function decodeFrame(buf: Buffer, maxPayload = MAX_FRAME_PAYLOAD): Frame {
  if (buf.length < FRAME_HEADER_BYTES) fail('XNAT_ERR_WIRE_TRUNCATED', `header ${buf.length} bytes`);
  const header = checkHeader(buf[0]!, buf[1]!, buf.readUInt32BE(2), buf.readUInt32BE(6), maxPayload);
  const end = FRAME_HEADER_BYTES + header.length;
  if (buf.length < end)
    fail('XNAT_ERR_WIRE_TRUNCATED', `type ${frameTypeName(header.type)} length ${header.length}`);
  if (buf.length > end) fail('XNAT_ERR_WIRE_BAD_FIELD', `type ${frameTypeName(header.type)} trailing bytes`);
  return parsePayload(header, buf.subarray(FRAME_HEADER_BYTES, end));
}

// ---- encoding

/** The id that goes into the header's streamId field for this frame. */
function headerId(frame: Frame): number {
  switch (frame.type) {
    case FrameType.STREAM_OPEN:
    case FrameType.STREAM_DATA:
    case FrameType.STREAM_WINDOW:
    case FrameType.STREAM_FIN:
    case FrameType.STREAM_RESET:
      return frame.streamId;
    case FrameType.DATAGRAM:
      return frame.flowId;
    default:
      return 0;
  }
}

/** Payload byte length of `frame`, without encoding it. */
function payloadLength(frame: Frame): number {
  switch (frame.type) {
    case FrameType.STREAM_OPEN:
      return 2 + frame.meta.length + frame.data.length;
    case FrameType.STREAM_DATA:
    case FrameType.DATAGRAM:
      return frame.data.length;
    case FrameType.STREAM_RESET:
    case FrameType.SESSION_REJECT:
      return Buffer.byteLength(frame.code, 'latin1');
    case FrameType.COMMAND:
      return frame.body.length;
    case FrameType.CLOSE:
      return (
        CLOSE_CODE_LENGTH_BYTES +
        Buffer.byteLength(frame.code, 'latin1') +
        closeReasonBytes(frame.reason).length
      );
    default:
      return FIXED_PAYLOAD_BYTES[frame.type]!;
  }
}

/** Total encoded byte length of a frame (header + payload). */
export function encodedLength(frame: Frame): number {
  return FRAME_HEADER_BYTES + payloadLength(frame);
}

const U64_MAX = (1n << 64n) - 1n;

function checkOut(ok: boolean, frame: Frame, what: string): void {
  if (!ok) fail('XNAT_ERR_WIRE_BAD_FIELD', `encode type ${frameTypeName(frame.type)} ${what}`);
}

function isU32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

/** Refuses to encode what the peer's decoder would refuse, so a local bug never costs the link. */
function checkFrame(frame: Frame, length: number): void {
  if (!isKnownType(frame.type)) fail('XNAT_ERR_WIRE_BAD_TYPE', `encode type ${frameTypeName(frame.type)}`);
  if (length > MAX_FRAME_PAYLOAD) {
    fail('XNAT_ERR_WIRE_OVERSIZE', `encode type ${frameTypeName(frame.type)} length ${length}`);
  }
  const id = headerId(frame);
  checkOut(isU32(id), frame, `id ${id}`);
  if (streamIdKind(frame.type) === 'nonzero') checkOut(id !== 0, frame, 'streamId 0');
  switch (frame.type) {
    case FrameType.STREAM_OPEN:
      checkOut(frame.meta.length <= MAX_OPEN_META_BYTES, frame, `meta length ${frame.meta.length}`);
      break;
    case FrameType.STREAM_WINDOW:
      checkOut(isU32(frame.delta) && frame.delta >= 1, frame, `delta ${frame.delta}`);
      break;
    case FrameType.STREAM_RESET:
    case FrameType.SESSION_REJECT:
      checkOut(length <= MAX_CODE_BYTES && CODE_RE.test(frame.code), frame, 'code text');
      break;
    case FrameType.COMMAND:
      checkOut(frame.body.length > 0, frame, 'empty body');
      break;
    case FrameType.SESSION_OPEN:
      checkOut(
        Number.isInteger(frame.version) && frame.version >= 0 && frame.version <= 0xffff,
        frame,
        'version',
      );
      break;
    case FrameType.SESSION_RESUME:
      checkOut(frame.sessionId.length === SESSION_ID_BYTES, frame, 'sessionId size');
      checkOut(frame.proof.length === RESUME_PROOF_BYTES, frame, 'proof size');
      checkOut(frame.received >= 0n && frame.received <= U64_MAX, frame, 'received');
      break;
    case FrameType.SESSION_ACCEPT:
      checkOut(frame.sessionId.length === SESSION_ID_BYTES, frame, 'sessionId size');
      checkOut(frame.resumeSecret.length === RESUME_SECRET_BYTES, frame, 'resumeSecret size');
      checkOut(frame.received >= 0n && frame.received <= U64_MAX, frame, 'received');
      break;
    case FrameType.ACK:
      checkOut(frame.received >= 0n && frame.received <= U64_MAX, frame, 'received');
      break;
    case FrameType.PING:
    case FrameType.PONG:
      checkOut(frame.id >= 0n && frame.id <= U64_MAX, frame, 'id');
      break;
    case FrameType.CLOSE:
      checkOut(
        frame.code.length <= CLOSE_CODE_MAX_BYTES && CLOSE_CODE_RE.test(frame.code),
        frame,
        'code text',
      );
      break;
  }
}

/**
 * Encodes one frame as a list of buffers to write in order (header first). Data, body and first-data
 * payloads above COPY_THRESHOLD_BYTES are NOT copied: the caller must not change them until written.
 * Throws XnatError (WIRE_OVERSIZE / WIRE_BAD_FIELD) for a frame the peer would reject.
 */
export function encodeFrame(frame: Frame): Buffer[] {
  const length = payloadLength(frame);
  checkFrame(frame, length);
  // The bulk part that may travel as its own buffer; everything before it goes into the head buffer.
  let tail: Buffer | undefined;
  if (
    frame.type === FrameType.STREAM_DATA ||
    frame.type === FrameType.DATAGRAM ||
    frame.type === FrameType.STREAM_OPEN
  ) {
    tail = frame.data;
  } else if (frame.type === FrameType.COMMAND) {
    tail = frame.body;
  }
  const split = tail !== undefined && tail.length > COPY_THRESHOLD_BYTES;
  const headLength = FRAME_HEADER_BYTES + (split ? length - tail!.length : length);
  const head = Buffer.allocUnsafe(headLength);
  head[0] = frame.type;
  head[1] = frame.type === FrameType.SESSION_ACCEPT && frame.resumed ? FLAG_RESUMED : 0;
  head.writeUInt32BE(headerId(frame), 2);
  head.writeUInt32BE(length, 6);
  const p = FRAME_HEADER_BYTES;
  switch (frame.type) {
    case FrameType.STREAM_OPEN:
      head.writeUInt16BE(frame.meta.length, p);
      frame.meta.copy(head, p + 2);
      break;
    case FrameType.STREAM_WINDOW:
      head.writeUInt32BE(frame.delta, p);
      break;
    case FrameType.STREAM_RESET:
    case FrameType.SESSION_REJECT:
      head.write(frame.code, p, 'latin1');
      break;
    case FrameType.SESSION_OPEN:
      head.writeUInt16BE(frame.version, p);
      break;
    case FrameType.SESSION_RESUME:
      frame.sessionId.copy(head, p);
      frame.proof.copy(head, p + SESSION_ID_BYTES);
      head.writeBigUInt64BE(frame.received, p + SESSION_ID_BYTES + RESUME_PROOF_BYTES);
      break;
    case FrameType.SESSION_ACCEPT:
      frame.sessionId.copy(head, p);
      frame.resumeSecret.copy(head, p + SESSION_ID_BYTES);
      head.writeBigUInt64BE(frame.received, p + SESSION_ID_BYTES + RESUME_SECRET_BYTES);
      break;
    case FrameType.ACK:
      head.writeBigUInt64BE(frame.received, p);
      break;
    case FrameType.PING:
    case FrameType.PONG:
      head.writeBigUInt64BE(frame.id, p);
      break;
    case FrameType.CLOSE: {
      head.writeUInt16BE(frame.code.length, p);
      head.write(frame.code, p + CLOSE_CODE_LENGTH_BYTES, 'latin1');
      closeReasonBytes(frame.reason).copy(head, p + CLOSE_CODE_LENGTH_BYTES + frame.code.length);
      break;
    }
  }
  if (tail === undefined || tail.length === 0) return [head];
  if (split) return [head, tail];
  tail.copy(head, headLength - tail.length);
  return [head];
}
