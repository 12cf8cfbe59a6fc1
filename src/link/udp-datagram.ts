// The UDP path's datagram format: a 16-byte header (type, key epoch, receiver index, 64-bit counter) and
// the AEAD-sealed body, with the header as associated data. It knows nothing of sockets, timers or the
// replay window (udp-path.ts runs them); only bytes in and out.
import type { Aead } from '../crypto/aead.ts';
import { AEAD_TAG_BYTES, NONCE_ORDER } from '../crypto/aead.ts';
import { NONCE_BYTES, writeNonce } from '../crypto/nonce.ts';
import { UDP_COUNTER_MAX } from './udp-replay-window.ts';

/** Message types (byte 0). Every one is sealed; none is ever answered unless it authenticated. */
export const UdpMessageType = {
  /** One visitor datagram: flowId u32, then the datagram. */
  DATA: 1,
  /** "Are you there?" (also the agent's keepalive): the sender's receiver index u32, its receive epoch u8. */
  PROBE: 2,
  /** The answer to an authenticated PROBE: the same body as PROBE. */
  PROBE_REPLY: 3,
} as const;
export type UdpMessageTypeValue = (typeof UdpMessageType)[keyof typeof UdpMessageType];

/** type u8, epoch u8, reserved u16 (zero), receiver index u32, counter u64; all big-endian. */
export const UDP_HEADER_BYTES = 16;
/**
 * Largest visitor datagram the UDP path carries, in bytes (1200). Sealed it is 16 + 4 + 1200 + 16 = 1236
 * bytes, 1264 with IPv4/UDP headers: under IPv6's guaranteed 1280-byte MTU and any tunnel or PPPoE uplink
 * (QUIC picks 1200 for the same reason), so the path never relies on IP fragmentation. Larger datagrams
 * take the TCP lane.
 */
export const UDP_PATH_MAX_PAYLOAD_BYTES = 1200;
/** Bytes of the DATA body before the visitor datagram (the flow id). */
const FLOW_ID_BYTES = 4;
/** Largest datagram of the path on the wire; anything longer is malformed. */
export const UDP_DATAGRAM_MAX_BYTES =
  UDP_HEADER_BYTES + FLOW_ID_BYTES + UDP_PATH_MAX_PAYLOAD_BYTES + AEAD_TAG_BYTES;
/** Smallest: a header and a tag. */
export const UDP_DATAGRAM_MIN_BYTES = UDP_HEADER_BYTES + AEAD_TAG_BYTES;

const TWO_32 = 2 ** 32;

/** A parsed header; the body is not authenticated yet. */
export interface UdpHeader {
  readonly type: UdpMessageTypeValue;
  readonly epoch: number;
  readonly receiver: number;
  readonly counter: number;
}

/**
 * The header of `buf`, or undefined when it cannot be one of ours: wrong length, unknown type, reserved
 * bits set, a counter past UDP_COUNTER_MAX. Cheap and allocation-free: runs on every packet, hostile ones too.
 */
export function parseHeader(buf: Buffer): UdpHeader | undefined {
  if (buf.length < UDP_DATAGRAM_MIN_BYTES || buf.length > UDP_DATAGRAM_MAX_BYTES) return undefined;
  const type = buf[0]!;
  if (type < UdpMessageType.DATA || type > UdpMessageType.PROBE_REPLY) return undefined;
  if (buf.readUInt16BE(2) !== 0) return undefined;
  const hi = buf.readUInt32BE(8);
  const counter = hi * TWO_32 + buf.readUInt32BE(12);
  if (counter > UDP_COUNTER_MAX) return undefined;
  return { type: type as UdpMessageTypeValue, epoch: buf[1]!, receiver: buf.readUInt32BE(4), counter };
}

/** The receiver index of a datagram, for routing before anything else is checked. */
export function receiverOf(buf: Buffer): number | undefined {
  return buf.length >= UDP_HEADER_BYTES ? buf.readUInt32BE(4) : undefined;
}

/**
 * Seals one datagram: header || AEAD(key, nonce(counter), ad = header, body), joined once (the
 * backend's ciphertext and tag are copied straight into the datagram). `nonce` is a 12-byte scratch
 * buffer the caller may reuse (the AEAD keeps no input after the call): no nonce allocation per datagram.
 */
export function sealDatagram(
  aead: Aead,
  key: Buffer,
  header: UdpHeader,
  body: Buffer,
  nonce: Buffer = Buffer.allocUnsafe(NONCE_BYTES),
): Buffer {
  const head = Buffer.allocUnsafe(UDP_HEADER_BYTES);
  head[0] = header.type;
  head[1] = header.epoch;
  head.writeUInt16BE(0, 2);
  head.writeUInt32BE(header.receiver, 4);
  head.writeUInt32BE(Math.floor(header.counter / TWO_32), 8);
  head.writeUInt32BE(header.counter >>> 0, 12);
  writeNonce(nonce, header.counter, NONCE_ORDER[aead.cipher]);
  const sealed = aead.sealParts(key, nonce, head, body);
  return Buffer.concat([head, ...sealed], UDP_HEADER_BYTES + body.length + AEAD_TAG_BYTES);
}

/** The body of `buf` under `key`; throws XNAT_ERR_CRYPTO_DECRYPT when the tag does not verify. */
export function openDatagram(
  aead: Aead,
  key: Buffer,
  header: UdpHeader,
  buf: Buffer,
  nonce: Buffer = Buffer.allocUnsafe(NONCE_BYTES),
): Buffer {
  const head = buf.subarray(0, UDP_HEADER_BYTES);
  writeNonce(nonce, header.counter, NONCE_ORDER[aead.cipher]);
  return aead.open(key, nonce, head, buf.subarray(UDP_HEADER_BYTES));
}

/** DATA body: flow id, then the visitor datagram. */
export function encodeDataBody(flowId: number, data: Buffer): Buffer {
  const body = Buffer.allocUnsafe(FLOW_ID_BYTES + data.length);
  body.writeUInt32BE(flowId >>> 0, 0);
  data.copy(body, FLOW_ID_BYTES);
  return body;
}

/** Flow id and datagram of a DATA body; undefined when too short. */
export function decodeDataBody(body: Buffer): { flowId: number; data: Buffer } | undefined {
  if (body.length < FLOW_ID_BYTES) return undefined;
  return { flowId: body.readUInt32BE(0), data: body.subarray(FLOW_ID_BYTES) };
}

/**
 * PROBE / PROBE_REPLY body: the sender's receiver index, and the epoch of the last datagram it
 * authenticated from the peer (so the peer never moves its sending key more than one epoch ahead).
 */
export interface ProbeBody {
  readonly index: number;
  readonly recvEpoch: number;
}

export function encodeProbeBody(p: ProbeBody): Buffer {
  const body = Buffer.allocUnsafe(5);
  body.writeUInt32BE(p.index >>> 0, 0);
  body[4] = p.recvEpoch & 0xff;
  return body;
}

export function decodeProbeBody(body: Buffer): ProbeBody | undefined {
  return body.length === 5 ? { index: body.readUInt32BE(0), recvEpoch: body[4]! } : undefined;
}
