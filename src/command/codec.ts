// The command framework's message vocabulary and its msgpack encoding, with size and depth limits.
// It knows nothing of handlers, calls or channels: bytes in, a checked message (or a typed error) out.
//
// Encoding: @msgpack/msgpack (msgpack-javascript, maintained by the msgpack org, no dependencies, refuses
// `__proto__` keys on decode). Every message is one msgpack array whose first element is its type.
import { Decoder, Encoder } from '@msgpack/msgpack';
import { XnatError, isErrorCode } from '../errors.ts';
import type { ErrorCode } from '../errors.ts';
import { MAX_FRAME_PAYLOAD } from '../wire/frame.ts';

/** Largest encoded message, in bytes: one COMMAND frame (64 KiB). Bigger data goes by buffer/stream kinds. */
export const MAX_MESSAGE_BYTES = MAX_FRAME_PAYLOAD;
/** Deepest nesting of arrays/maps allowed inside a payload or meta (a scalar is depth 0). */
export const MAX_PAYLOAD_DEPTH = 16;
/** Longest command name, in characters. */
export const MAX_NAME_LENGTH = 128;
/** Longest error detail carried on the wire, in characters (longer is cut). */
export const MAX_DETAIL_LENGTH = 256;
/** Bytes of data per CHUNK message (32 KiB): well under MAX_MESSAGE_BYTES, small enough to interleave. */
export const CHUNK_BYTES = 32 * 1024;

/** Message types; the numbers are the wire values. */
export const MsgType = {
  /** [1, id, name, payload]: a call that expects a REPLY or ERROR. */
  REQUEST: 1,
  /** [2, name, payload]: a call with no reply. */
  ONEWAY: 2,
  /** [3, id, payload]: the result of call `id`. */
  REPLY: 3,
  /** [4, id, code, message, detail?]: call `id` failed (also a receiver's refusal or cancel of a transfer). */
  ERROR: 4,
  /** [5, id]: the caller gave up on call `id`; the peer may stop its handler. No answer. */
  CANCEL: 5,
  /** [6, id, name, mode, size|nil, meta]: starts a buffer (mode 0) or stream (mode 1) transfer. */
  BEGIN: 6,
  /** [7, id, bytes]: the next bytes of transfer `id`. */
  CHUNK: 7,
  /** [8, id, totalBytes, sha256]: transfer `id` is complete. */
  END: 8,
  /** [9, id, bytes]: the receiver of transfer `id` grants `bytes` more; the first CREDIT also means accepted. */
  CREDIT: 9,
} as const;

/** Transfer modes of BEGIN. */
export const TransferMode = { BUFFER: 0, STREAM: 1 } as const;
export type TransferModeValue = (typeof TransferMode)[keyof typeof TransferMode];

export type Message =
  | { type: typeof MsgType.REQUEST; id: number; name: string; payload: unknown }
  | { type: typeof MsgType.ONEWAY; name: string; payload: unknown }
  | { type: typeof MsgType.REPLY; id: number; payload: unknown }
  | { type: typeof MsgType.ERROR; id: number; code: string; message: string; detail?: string }
  | { type: typeof MsgType.CANCEL; id: number }
  | {
      type: typeof MsgType.BEGIN;
      id: number;
      name: string;
      mode: TransferModeValue;
      size: number | undefined;
      meta: unknown;
    }
  | { type: typeof MsgType.CHUNK; id: number; data: Buffer }
  | { type: typeof MsgType.END; id: number; total: number; sha256: Buffer }
  | { type: typeof MsgType.CREDIT; id: number; bytes: number };

/** Types whose sender waits for an answer: a bad one with a readable id gets an ERROR back. */
export function expectsAnswer(type: number): boolean {
  return type === MsgType.REQUEST || type === MsgType.BEGIN || type === MsgType.CHUNK || type === MsgType.END;
}

/** Types that refer to a call this side started (answers from the peer). */
export function isAnswer(type: number): boolean {
  return type === MsgType.REPLY || type === MsgType.ERROR || type === MsgType.CREDIT;
}

const encoder = new Encoder({ ignoreUndefined: true, maxDepth: MAX_PAYLOAD_DEPTH + 4 });
// One decoder is safe to share: decode() is synchronous and never re-entered.
// Its own string/bin length limits stay at their defaults: the message size check comes first and bounds them.
const decoder = new Decoder();

/**
 * Depth of nested arrays/maps in `value` (a scalar is 0), walked with an explicit stack so hostile input
 * cannot overflow the call stack; stops early once `limit` is exceeded.
 */
export function depthOf(value: unknown, limit = Infinity): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v) || v instanceof Date) continue;
    const depth = d + 1;
    if (depth > max) {
      max = depth;
      if (max > limit) return max;
    }
    const children = Array.isArray(v) ? v : Object.values(v as Record<string, unknown>);
    for (const c of children) stack.push([c, depth]);
  }
  return max;
}

/** Throws XNAT_ERR_COMMAND_TOO_DEEP when `value` nests deeper than MAX_PAYLOAD_DEPTH. */
export function checkDepth(value: unknown): void {
  const d = depthOf(value, MAX_PAYLOAD_DEPTH);
  if (d > MAX_PAYLOAD_DEPTH)
    throw new XnatError('XNAT_ERR_COMMAND_TOO_DEEP', { detail: `limit ${MAX_PAYLOAD_DEPTH}` });
}

function toArray(msg: Message): unknown[] {
  switch (msg.type) {
    case MsgType.REQUEST:
      return [msg.type, msg.id, msg.name, msg.payload ?? null];
    case MsgType.ONEWAY:
      return [msg.type, msg.name, msg.payload ?? null];
    case MsgType.REPLY:
      return [msg.type, msg.id, msg.payload ?? null];
    case MsgType.ERROR:
      return msg.detail === undefined
        ? [msg.type, msg.id, msg.code, msg.message]
        : [msg.type, msg.id, msg.code, msg.message, msg.detail];
    case MsgType.CANCEL:
      return [msg.type, msg.id];
    case MsgType.BEGIN:
      return [msg.type, msg.id, msg.name, msg.mode, msg.size ?? null, msg.meta ?? null];
    case MsgType.CHUNK:
      return [msg.type, msg.id, msg.data];
    case MsgType.END:
      return [msg.type, msg.id, msg.total, msg.sha256];
    case MsgType.CREDIT:
      return [msg.type, msg.id, msg.bytes];
  }
}

/**
 * Encodes one message. Throws XNAT_ERR_COMMAND_TOO_DEEP (payload/meta nesting), XNAT_ERR_COMMAND_INVALID
 * (a value msgpack cannot carry, e.g. a bigint or a function) or XNAT_ERR_COMMAND_TOO_LARGE (> maxBytes).
 */
export function encodeMessage(msg: Message, maxBytes = MAX_MESSAGE_BYTES): Buffer {
  if (msg.type === MsgType.REQUEST || msg.type === MsgType.ONEWAY || msg.type === MsgType.REPLY)
    checkDepth(msg.payload);
  if (msg.type === MsgType.BEGIN) checkDepth(msg.meta);
  let bytes: Uint8Array;
  try {
    bytes = encoder.encode(toArray(msg));
  } catch (err) {
    throw new XnatError('XNAT_ERR_COMMAND_INVALID', { detail: 'payload not encodable', cause: err });
  }
  if (bytes.byteLength > maxBytes)
    throw new XnatError('XNAT_ERR_COMMAND_TOO_LARGE', { detail: `${bytes.byteLength} bytes` });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** What could be read of a message that failed to decode: enough to answer it, or nothing. */
export interface MessageHead {
  readonly type?: number;
  readonly id?: number;
}

/** A decode failure: the typed error plus whatever head could be read. */
export class DecodeFailure {
  constructor(
    readonly error: XnatError,
    readonly head: MessageHead,
  ) {}
}

/**
 * Reads the array header and the first two unsigned integers (type, id) without decoding the rest,
 * so an oversize or broken message can still be answered. Returns {} when not even that is readable.
 */
export function peekHead(body: Buffer): MessageHead {
  let pos = 0;
  const b0 = body[pos];
  if (b0 === undefined) return {};
  if (b0 >= 0x90 && b0 <= 0x9f) pos = 1;
  else if (b0 === 0xdc) pos = 3;
  else if (b0 === 0xdd) pos = 5;
  else return {};
  const readUint = (): number | undefined => {
    const h = body[pos];
    if (h === undefined) return undefined;
    const need = h <= 0x7f ? 1 : h === 0xcc ? 2 : h === 0xcd ? 3 : h === 0xce ? 5 : 0;
    if (need === 0 || pos + need > body.length) return undefined;
    const v =
      h <= 0x7f
        ? h
        : h === 0xcc
          ? body.readUInt8(pos + 1)
          : h === 0xcd
            ? body.readUInt16BE(pos + 1)
            : body.readUInt32BE(pos + 1);
    pos += need;
    return v;
  };
  const type = readUint();
  if (type === undefined) return {};
  if (type === MsgType.ONEWAY) return { type };
  const id = readUint();
  return id === undefined ? { type } : { type, id };
}

const isId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isCount = isId;
const isName = (v: unknown): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= MAX_NAME_LENGTH;
const asBuffer = (v: unknown): Buffer | undefined =>
  v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : undefined;

function malformed(head: MessageHead, detail: string): DecodeFailure {
  return new DecodeFailure(new XnatError('XNAT_ERR_COMMAND_MALFORMED', { detail }), head);
}

/** Decodes and checks one message; never throws: a bad message comes back as a DecodeFailure. */
export function decodeMessage(body: Buffer, maxBytes = MAX_MESSAGE_BYTES): Message | DecodeFailure {
  if (body.length > maxBytes)
    return new DecodeFailure(
      new XnatError('XNAT_ERR_COMMAND_TOO_LARGE', { detail: `${body.length} bytes` }),
      peekHead(body),
    );
  let raw: unknown;
  try {
    raw = decoder.decode(body);
  } catch {
    return malformed(peekHead(body), 'not msgpack');
  }
  if (!Array.isArray(raw) || raw.length < 2 || !isCount(raw[0]))
    return malformed(peekHead(body), 'not a message');
  const type = raw[0];
  const head: MessageHead =
    type === MsgType.ONEWAY ? { type } : isId(raw[1]) ? { type, id: raw[1] } : { type };
  // The envelope array is one level; the payload below it may use MAX_PAYLOAD_DEPTH more.
  if (depthOf(raw, MAX_PAYLOAD_DEPTH + 1) > MAX_PAYLOAD_DEPTH + 1)
    return new DecodeFailure(
      new XnatError('XNAT_ERR_COMMAND_TOO_DEEP', { detail: `limit ${MAX_PAYLOAD_DEPTH}` }),
      head,
    );
  const [, a, b, c, d, e] = raw as unknown[];
  switch (type) {
    case MsgType.REQUEST:
      if (isId(a) && isName(b) && raw.length === 4) return { type, id: a, name: b, payload: c };
      break;
    case MsgType.ONEWAY:
      if (isName(a) && raw.length === 3) return { type, name: a, payload: b };
      break;
    case MsgType.REPLY:
      if (isId(a) && raw.length === 3) return { type, id: a, payload: b };
      break;
    case MsgType.ERROR:
      if (
        isId(a) &&
        typeof b === 'string' &&
        typeof c === 'string' &&
        (d === undefined || typeof d === 'string')
      )
        return d === undefined
          ? { type, id: a, code: b, message: c }
          : { type, id: a, code: b, message: c, detail: d };
      break;
    case MsgType.CANCEL:
      if (isId(a)) return { type, id: a };
      break;
    case MsgType.BEGIN:
      if (
        isId(a) &&
        isName(b) &&
        (c === TransferMode.BUFFER || c === TransferMode.STREAM) &&
        (d === null || isCount(d)) &&
        raw.length === 6
      )
        return { type, id: a, name: b, mode: c, size: d ?? undefined, meta: e };
      break;
    case MsgType.CHUNK: {
      const data = asBuffer(b);
      if (isId(a) && data && raw.length === 3) return { type, id: a, data };
      break;
    }
    case MsgType.END: {
      const sha = asBuffer(c);
      if (isId(a) && isCount(b) && sha && sha.length === 32) return { type, id: a, total: b, sha256: sha };
      break;
    }
    case MsgType.CREDIT:
      if (isId(a) && isCount(b)) return { type, id: a, bytes: b };
      break;
    default:
      return malformed(head, `unknown type ${type}`);
  }
  return malformed(head, `bad fields for type ${type}`);
}

/** An error as the command framework carries it: code, message, and an optional non-secret detail. */
export interface WireFailure {
  readonly code: string;
  readonly message: string;
  readonly detail?: string;
}

/** The wire form of an error raised on this side; plain errors never cross (their text may hold secrets). */
export function toWireFailure(err: XnatError): WireFailure {
  const detail = err.detail?.slice(0, MAX_DETAIL_LENGTH);
  return detail === undefined
    ? { code: err.code, message: err.message }
    : { code: err.code, message: err.message, detail };
}

/** Rebuilds a peer's error; an unknown code becomes XNAT_ERR_INTERNAL with the code kept as detail. */
export function fromWireFailure(code: string, detail: string | undefined): XnatError {
  const d = detail?.slice(0, MAX_DETAIL_LENGTH);
  if (isErrorCode(code)) return new XnatError(code as ErrorCode, { detail: d ?? 'from peer' });
  return new XnatError('XNAT_ERR_INTERNAL', { detail: `peer code ${code.slice(0, 64)}` });
}
