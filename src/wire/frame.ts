// The whole vocabulary of frames inside a link's plaintext stream: types, fields and limits.
// Encoding and decoding live in codec.ts and decoder.ts; this file knows no bytes, only shapes.

/** Bytes of the fixed frame header: type u8, flags u8, streamId u32, length u32 (big-endian). */
export const FRAME_HEADER_BYTES = 10;

/**
 * Largest payload of one frame, in bytes (64 KiB). Bigger application data is split by the sender
 * (mux DATA chunks, command messages); a larger length field is a protocol violation.
 */
export const MAX_FRAME_PAYLOAD = 64 * 1024;

/** Length of a session id in bytes. */
export const SESSION_ID_BYTES = 16;
/** Length of a resume proof (HMAC-BLAKE2s / HMAC-SHA256 output) in bytes. */
export const RESUME_PROOF_BYTES = 32;
/** Length of the secret a relay gives an agent at session establishment, in bytes. */
export const RESUME_SECRET_BYTES = 32;
/** Longest error code string carried by SESSION_REJECT / STREAM_RESET, in bytes. */
export const MAX_CODE_BYTES = 64;
/** Longest STREAM_OPEN metadata, in bytes (the rest of the payload is first data). */
export const MAX_OPEN_META_BYTES = 4096;

/**
 * Frame types. Values 0x01-0x0f are *reliable*: the session numbers them implicitly (the n-th reliable
 * frame a side sends in a session has sequence number n, starting at 1), keeps them for replay until
 * acknowledged, and drops duplicates on resume. Values 0x10-0x1f are session control, 0x20 is the
 * best-effort datagram lane; neither is numbered nor replayed.
 */
export const FrameType = {
  STREAM_OPEN: 0x01,
  STREAM_DATA: 0x02,
  STREAM_WINDOW: 0x03,
  STREAM_FIN: 0x04,
  STREAM_RESET: 0x05,
  COMMAND: 0x06,
  SESSION_OPEN: 0x10,
  SESSION_RESUME: 0x11,
  SESSION_ACCEPT: 0x12,
  SESSION_REJECT: 0x13,
  ACK: 0x14,
  DATAGRAM: 0x20,
} as const;
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];

/** True for frame types that the session numbers, acknowledges and replays. */
export function isReliableType(type: number): boolean {
  return type >= 0x01 && type <= 0x0f;
}

/** Opens stream `streamId`; `meta` is opaque to the wire (the mux/forward layers encode it); `data` is first data. */
export interface StreamOpenFrame {
  readonly type: typeof FrameType.STREAM_OPEN;
  readonly streamId: number;
  readonly meta: Buffer;
  readonly data: Buffer;
}
export interface StreamDataFrame {
  readonly type: typeof FrameType.STREAM_DATA;
  readonly streamId: number;
  readonly data: Buffer;
}
/** Grants the peer `delta` more bytes of send window on `streamId`. */
export interface StreamWindowFrame {
  readonly type: typeof FrameType.STREAM_WINDOW;
  readonly streamId: number;
  readonly delta: number;
}
/** Half-close: the sender will send no more data on `streamId`. */
export interface StreamFinFrame {
  readonly type: typeof FrameType.STREAM_FIN;
  readonly streamId: number;
}
/** Aborts `streamId` in both directions with an error code (an XNAT_ERR_ code, ASCII). */
export interface StreamResetFrame {
  readonly type: typeof FrameType.STREAM_RESET;
  readonly streamId: number;
  readonly code: string;
}
/** One command-framework message; its bytes are opaque to the wire. */
export interface CommandFrame {
  readonly type: typeof FrameType.COMMAND;
  readonly body: Buffer;
}
/** Agent -> relay, first frame on a link: start a new session (takes over any older one of this agent key). */
export interface SessionOpenFrame {
  readonly type: typeof FrameType.SESSION_OPEN;
  /** Session protocol version, u16. */
  readonly version: number;
}
/** Agent -> relay, first frame on a link: resume `sessionId`, having received `received` reliable frames. */
export interface SessionResumeFrame {
  readonly type: typeof FrameType.SESSION_RESUME;
  readonly sessionId: Buffer;
  readonly proof: Buffer;
  /** Count of reliable frames the sender has received in this session (u64, as bigint). */
  readonly received: bigint;
}
/** Relay -> agent: the session is open or resumed; `received` is the relay's count of reliable frames received. */
export interface SessionAcceptFrame {
  readonly type: typeof FrameType.SESSION_ACCEPT;
  readonly resumed: boolean;
  readonly sessionId: Buffer;
  /** For a new session, the secret that keys future resume proofs; all zero bytes on resume. */
  readonly resumeSecret: Buffer;
  readonly received: bigint;
}
/** Relay -> agent: the open or resume was refused with `code`; the link is closed after it. */
export interface SessionRejectFrame {
  readonly type: typeof FrameType.SESSION_REJECT;
  readonly code: string;
}
/** Cumulative acknowledgement: the sender has received `received` reliable frames in this session. */
export interface AckFrame {
  readonly type: typeof FrameType.ACK;
  readonly received: bigint;
}
/** One best-effort datagram of UDP flow `flowId` (never numbered, never replayed). */
export interface DatagramFrame {
  readonly type: typeof FrameType.DATAGRAM;
  readonly flowId: number;
  readonly data: Buffer;
}

export type Frame =
  | StreamOpenFrame
  | StreamDataFrame
  | StreamWindowFrame
  | StreamFinFrame
  | StreamResetFrame
  | CommandFrame
  | SessionOpenFrame
  | SessionResumeFrame
  | SessionAcceptFrame
  | SessionRejectFrame
  | AckFrame
  | DatagramFrame;
