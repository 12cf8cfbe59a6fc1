// The STREAM_OPEN metadata: which mapping a visitor came in on, from where, and which public address it
// reached. A fixed binary layout (no msgpack, no schema walk: it is on every new connection's path), at
// most MAX_OPEN_META_BYTES. It knows nothing of streams; the forward layer passes the bytes along.
import { isIPv4 } from 'node:net';
import { XnatError } from '../errors.ts';
import { MAX_OPEN_META_BYTES } from '../wire/frame.ts';

/** One end of the visitor's TCP connection: a text IPv4/IPv6 address ('' when unknown) and a port. */
export interface OpenEndpoint {
  readonly address: string;
  readonly port: number;
}

/** Metadata of one visitor stream. Only tcp today (UDP rides flows, not streams). */
export interface OpenMeta {
  readonly mapping: string;
  readonly protocol: 'tcp';
  readonly visitor: OpenEndpoint;
  /** The relay's address and port the visitor connected to (a PROXY protocol header's destination). */
  readonly local?: OpenEndpoint;
  /** The relay deflates this stream (the agent inflates and deflates back): `compress: deflate`. */
  readonly compress?: 'deflate';
}

/** Layout version 1: version, protocol, mapping, visitor endpoint, optional local endpoint, optional flags. */
const OPEN_META_VERSION = 1;
/** The trailing flags byte, present only when not 0 (so each meta has one encoding); other bits refused. */
const FLAG_DEFLATE = 0x01;
const PROTOCOL_TCP = 1;
/** Endpoint address kinds: absent (only for `local`), none (''), 4 raw IPv4 bytes, or text (IPv6, zones). */
const ADDR_ABSENT = 0;
const ADDR_NONE = 1;
const ADDR_IPV4 = 4;
const ADDR_TEXT = 0x74;
const MAX_ADDRESS_CHARS = 64;
const MAPPING_RE = /^[A-Za-z0-9._-]{1,64}$/;
// Printable ASCII only: an address is shown in logs and the dashboard and goes into PROXY headers.
const ADDRESS_RE = /^[\x21-\x7e]*$/;

const invalid = (detail: string): XnatError => new XnatError('XNAT_ERR_PROTOCOL_OPEN_META', { detail });

/** Checks one endpoint; returns its encoded length (kind, address, port). */
function endpointLength(e: OpenEndpoint | undefined): number {
  if (typeof e !== 'object' || e === null) throw invalid('endpoint');
  if (!Number.isInteger(e.port) || e.port < 0 || e.port > 65535) throw invalid('port');
  if (typeof e.address !== 'string' || e.address.length > MAX_ADDRESS_CHARS || !ADDRESS_RE.test(e.address))
    throw invalid('address');
  if (e.address === '') return 3;
  if (isIPv4(e.address)) return 7;
  return 2 + e.address.length + 2;
}

/** Writes a checked endpoint at `at`; returns the offset after it. */
function writeEndpoint(out: Buffer, at: number, e: OpenEndpoint): number {
  if (e.address === '') out[at++] = ADDR_NONE;
  else if (isIPv4(e.address)) {
    out[at++] = ADDR_IPV4;
    let octet = 0;
    for (let i = 0; i < e.address.length; i++) {
      const c = e.address.charCodeAt(i);
      if (c === 0x2e) {
        out[at++] = octet;
        octet = 0;
      } else octet = octet * 10 + (c - 0x30);
    }
    out[at++] = octet;
  } else {
    out[at++] = ADDR_TEXT;
    out[at++] = e.address.length;
    at += out.write(e.address, at, 'latin1');
  }
  out[at++] = e.port >> 8;
  out[at++] = e.port & 0xff;
  return at;
}

/** Encodes `meta` into one buffer (it is on every visitor's path); throws XNAT_ERR_PROTOCOL_OPEN_META when a field is invalid. */
export function encodeOpenMeta(meta: OpenMeta): Buffer {
  if (meta.protocol !== 'tcp') throw invalid('protocol');
  if (typeof meta.mapping !== 'string' || !MAPPING_RE.test(meta.mapping)) throw invalid('mapping');
  for (const k of Object.keys(meta)) {
    if (k !== 'mapping' && k !== 'protocol' && k !== 'visitor' && k !== 'local' && k !== 'compress')
      throw invalid('fields');
  }
  for (const e of [meta.visitor, meta.local]) {
    if (typeof e !== 'object' || e === null) continue;
    for (const k of Object.keys(e)) if (k !== 'address' && k !== 'port') throw invalid('fields');
  }
  const length =
    3 +
    meta.mapping.length +
    endpointLength(meta.visitor) +
    (meta.local === undefined ? 1 : endpointLength(meta.local)) +
    (meta.compress === undefined ? 0 : 1);
  if (meta.compress !== undefined && meta.compress !== 'deflate') throw invalid('compress');
  if (length > MAX_OPEN_META_BYTES) throw invalid('too large');
  const out = Buffer.allocUnsafe(length);
  out[0] = OPEN_META_VERSION;
  out[1] = PROTOCOL_TCP;
  out[2] = meta.mapping.length;
  let at = 3 + out.write(meta.mapping, 3, 'latin1');
  at = writeEndpoint(out, at, meta.visitor);
  if (meta.local === undefined) out[at++] = ADDR_ABSENT;
  else at = writeEndpoint(out, at, meta.local);
  if (meta.compress !== undefined) out[at++] = FLAG_DEFLATE;
  return out;
}

/** A bounds-checked reader over the meta bytes: every short read is OPEN_META, never a RangeError. */
class Reader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  u8(): number {
    if (this.at >= this.buf.length) throw invalid('truncated');
    return this.buf[this.at++]!;
  }
  bytes(n: number): Buffer {
    if (this.at + n > this.buf.length) throw invalid('truncated');
    const b = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return b;
  }
  u16(): number {
    return (this.u8() << 8) | this.u8();
  }
  get done(): boolean {
    return this.at === this.buf.length;
  }
}

function readEndpoint(r: Reader, kind: number): OpenEndpoint {
  let address: string;
  if (kind === ADDR_NONE) address = '';
  else if (kind === ADDR_IPV4) address = [...r.bytes(4)].join('.');
  else if (kind === ADDR_TEXT) {
    const n = r.u8();
    if (n === 0 || n > MAX_ADDRESS_CHARS) throw invalid('address length');
    address = r.bytes(n).toString('latin1');
    // Text is for what raw IPv4 bytes cannot say; a canonical IPv4 in text would decode to two encodings.
    if (!ADDRESS_RE.test(address) || isIPv4(address)) throw invalid('address');
  } else throw invalid(`address kind ${kind}`);
  return { address, port: r.u16() };
}

/** Decodes and checks STREAM_OPEN meta; anything malformed throws XNAT_ERR_PROTOCOL_OPEN_META. */
export function decodeOpenMeta(buf: Buffer): OpenMeta {
  if (buf.length === 0 || buf.length > MAX_OPEN_META_BYTES) throw invalid(`${buf.length} bytes`);
  const r = new Reader(buf);
  const version = r.u8();
  if (version !== OPEN_META_VERSION) throw invalid(`version ${version}`);
  if (r.u8() !== PROTOCOL_TCP) throw invalid('protocol');
  const mapping = r.bytes(r.u8()).toString('latin1');
  if (!MAPPING_RE.test(mapping)) throw invalid('mapping');
  const visitorKind = r.u8();
  if (visitorKind === ADDR_ABSENT) throw invalid('visitor');
  const visitor = readEndpoint(r, visitorKind);
  const localKind = r.u8();
  const local = localKind === ADDR_ABSENT ? undefined : readEndpoint(r, localKind);
  // Absent flags are 0; a written 0 would be a second encoding of the same meta.
  const flags = r.done ? undefined : r.u8();
  if (!r.done) throw invalid('trailing bytes');
  if (flags !== undefined && flags !== FLAG_DEFLATE) throw invalid(`flags ${flags}`);
  const meta: { -readonly [K in keyof OpenMeta]: OpenMeta[K] } = { mapping, protocol: 'tcp', visitor };
  if (local !== undefined) meta.local = local;
  if (flags === FLAG_DEFLATE) meta.compress = 'deflate';
  return meta;
}
