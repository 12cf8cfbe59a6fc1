// The whole vocabulary of frames inside a link's plaintext stream: types, fields and limits.
// Encoding and decoding live in codec.ts and decoder.ts; this file knows no bytes, only shapes.

/** Bytes of the fixed frame header: type u8, flags u8, streamId u32, length u32 (big-endian). */
export const FRAME_HEADER_BYTES = 10;

/**
 * Largest payload of one frame, in bytes: 65 509 = 65 535 (the Noise message limit, one link record)
 * - 16 (AEAD tag) - 10 (frame header). So a frame never straddles a record: the receiver decodes every
 * frame as a view of one decrypted record. Bigger application data is split by the sender (mux DATA
 * chunks, command messages); a larger length field is a protocol violation.
 */
export const MAX_FRAME_PAYLOAD = 65535 - 16 - FRAME_HEADER_BYTES;

/** Length of a session id in bytes. */
export const SESSION_ID_BYTES = 16;
/** Length of a resume proof (HMAC-BLAKE2s / HMAC-SHA256 output) in bytes. */
export const RESUME_PROOF_BYTES = 32;
/** Length of the secret a relay gives an agent at session establishment, in bytes. */
export const RESUME_SECRET_BYTES = 32;
/** Longest error code string carried by SESSION_REJECT / STREAM_RESET, in bytes. */
export const MAX_CODE_BYTES = 64;
/** Longest error code in a CLOSE frame, in bytes (may be empty: a plain close). */
export const CLOSE_CODE_MAX_BYTES = 64;
/** Longest reason in a CLOSE frame, in bytes of UTF-8. */
export const CLOSE_REASON_MAX_BYTES = 256;
/** Payload of PING and PONG: an opaque u64 id the PONG echoes, in bytes. */
export const PING_ID_BYTES = 8;
/** Longest STREAM_OPEN metadata, in bytes (the rest of the payload is first data). */
export const MAX_OPEN_META_BYTES = 4096;

/**
 * Frame types. Values 0x01-0x0f are *reliable*: the session numbers them implicitly (the n-th reliable
 * frame a side sends in a session has sequence number n, starting at 1), keeps them for replay until
 * acknowledged, and drops duplicates on resume. Values 0x10-0x1f are session control, 0x20 is the
 * best-effort datagram lane; neither is numbered nor replayed. Values 0x30-0x3f are link control: the
 * link consumes them itself (keepalive, close, rekey) and never hands them up to the session.
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
  PING: 0x30,
  PONG: 0x31,
  CLOSE: 0x32,
  REKEY: 0x33,
} as const;
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];

/** True for frame types that the session numbers, acknowledges and replays. */
export function isReliableType(type: number): boolean {
  return type >= 0x01 && type <= 0x0f;
}

/** True for the link's own frame types (PING, PONG, CLOSE, REKEY), which never leave the link. */
export function isLinkType(type: number): boolean {
  return type >= 0x30 && type <= 0x3f;
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

/** Link keepalive: the peer answers with a PONG carrying the same id (RTT measurement). */
export interface PingFrame {
  readonly type: typeof FrameType.PING;
  /** u64, opaque to the receiver. */
  readonly id: bigint;
}
export interface PongFrame {
  readonly type: typeof FrameType.PONG;
  readonly id: bigint;
}
/** The sender closes the link (not the session) with an optional code and reason; nothing follows it. */
export interface CloseFrame {
  readonly type: typeof FrameType.CLOSE;
  /** An XNAT_ERR_ code, or empty for a plain close. */
  readonly code: string;
  /** Free text for the peer's log, up to CLOSE_REASON_MAX_BYTES of UTF-8. */
  readonly reason: string;
}
/** The sender's next record is under its rekeyed key; the last frame of its record. */
export interface RekeyFrame {
  readonly type: typeof FrameType.REKEY;
}

/** The frames a link consumes itself. */
export type LinkFrame = PingFrame | PongFrame | CloseFrame | RekeyFrame;

/** The frames a session sends and receives through a link. */
export type SessionFrame =
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

export type Frame = SessionFrame | LinkFrame;
