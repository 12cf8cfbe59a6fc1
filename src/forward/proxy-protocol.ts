// PROXY protocol headers (HAProxy's proxy-protocol.txt, versions 1 and 2) that tell a LAN service the
// visitor's real address: v1 text for TCP, v2 binary for TCP (STREAM) and UDP (DGRAM, one per datagram).
// It knows nothing of sockets; the agent writes the header before the first byte of a connection.
import { isIPv4 } from 'node:net';
import { canonicalIp, ipBytes, mappedV6 } from '../util/ip.ts';

export type ProxyProtocolVersion = 'v1' | 'v2';

export interface ProxyEndpoint {
  readonly address: string;
  readonly port: number;
}

/** The visitor (source) and the public address it connected to (destination). */
export interface ProxyEndpoints {
  readonly source: ProxyEndpoint;
  readonly destination: ProxyEndpoint;
}

/** The v2 signature: 12 bytes no v1 header or HTTP request can start with. */
export const PROXY_V2_SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);

/** v2 byte 13: version 2 in the high nibble; command PROXY (1) or LOCAL (0) in the low one. */
const V2_PROXY = 0x21;
const V2_LOCAL = 0x20;
/** v2 byte 14: address family (high nibble: 1 INET, 2 INET6) and transport (low: 1 STREAM, 2 DGRAM). */
const FAMILY_INET = 0x10;
const FAMILY_INET6 = 0x20;
const TRANSPORT_STREAM = 0x01;
const TRANSPORT_DGRAM = 0x02;

/**
 * Both ends in one family: IPv4 when both are IPv4 (IPv4-mapped IPv6 counts as IPv4), else IPv6 with an
 * IPv4 end written IPv4-mapped. undefined when an address is unknown (''), so the header says so.
 */
function sameFamily(e: ProxyEndpoints): { v4: boolean; src: string; dst: string } | undefined {
  const src = canonicalIp(e.source.address);
  const dst = canonicalIp(e.destination.address);
  if (!ipBytes(src) || !ipBytes(dst)) return undefined;
  if (isIPv4(src) && isIPv4(dst)) return { v4: true, src, dst };
  return { v4: false, src: isIPv4(src) ? mappedV6(src) : src, dst: isIPv4(dst) ? mappedV6(dst) : dst };
}

/** `PROXY TCP4 <src> <dst> <sport> <dport>\r\n` (at most 107 bytes), or `PROXY UNKNOWN\r\n`. */
export function proxyHeaderV1(e: ProxyEndpoints): Buffer {
  const f = sameFamily(e);
  if (!f) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  const fam = f.v4 ? 'TCP4' : 'TCP6';
  return Buffer.from(`PROXY ${fam} ${f.src} ${f.dst} ${e.source.port} ${e.destination.port}\r\n`, 'latin1');
}

/**
 * The v2 header: signature, PROXY command, family and transport, length, then source and destination
 * addresses and ports in network order (12 bytes for IPv4, 36 for IPv6). An unknown address gives a
 * LOCAL header with no address block: the receiver then uses the connection's own addresses.
 */
export function proxyHeaderV2(e: ProxyEndpoints, transport: 'tcp' | 'udp'): Buffer {
  const f = sameFamily(e);
  if (!f) return Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([V2_LOCAL, 0x00, 0x00, 0x00])]);
  const src = ipBytes(f.src)!;
  const dst = ipBytes(f.dst)!;
  const block = Buffer.alloc(src.length * 2 + 4);
  src.copy(block, 0);
  dst.copy(block, src.length);
  block.writeUInt16BE(e.source.port, src.length * 2);
  block.writeUInt16BE(e.destination.port, src.length * 2 + 2);
  const head = Buffer.alloc(4);
  head[0] = V2_PROXY;
  head[1] = (f.v4 ? FAMILY_INET : FAMILY_INET6) | (transport === 'tcp' ? TRANSPORT_STREAM : TRANSPORT_DGRAM);
  head.writeUInt16BE(block.length, 2);
  return Buffer.concat([PROXY_V2_SIGNATURE, head, block]);
}

/** The header of `version` for a TCP connection (v1 is TCP only; the config refuses v1 on udp). */
export function proxyHeader(
  version: ProxyProtocolVersion,
  e: ProxyEndpoints,
  transport: 'tcp' | 'udp',
): Buffer {
  return version === 'v1' ? proxyHeaderV1(e) : proxyHeaderV2(e, transport);
}
