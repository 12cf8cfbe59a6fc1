// The STREAM_OPEN metadata: which mapping a visitor came in on, and from where. msgpack, validated,
// at most MAX_OPEN_META_BYTES. It knows nothing of streams; the forward layer passes the bytes along.
import { decode, encode } from '@msgpack/msgpack';
import { z } from 'zod';
import { XnatError } from '../errors.ts';
import { MAX_OPEN_META_BYTES } from '../wire/frame.ts';
import { depthOf } from '../command/codec.ts';
import { nameSchema } from './catalogue.ts';

/** Metadata of one visitor stream. Only tcp today (UDP rides flows, not streams). */
export interface OpenMeta {
  readonly mapping: string;
  readonly protocol: 'tcp';
  readonly visitor: { readonly address: string; readonly port: number };
  /** The relay's address the visitor connected to (the PROXY protocol header's destination). */
  readonly public?: { readonly address: string; readonly port: number };
  /** The relay deflates this stream (the agent inflates and deflates back): `compress: deflate`. */
  readonly compress?: 'deflate';
}

const openMetaSchema = z.strictObject({
  mapping: nameSchema,
  protocol: z.literal('tcp'),
  visitor: z.strictObject({
    // An IPv4/IPv6 text address (zone ids included) or '' when the socket no longer knows it.
    address: z.string().max(64),
    port: z.number().int().min(0).max(65535),
  }),
  public: z
    .strictObject({ address: z.string().max(64), port: z.number().int().min(0).max(65535) })
    .optional(),
  compress: z.literal('deflate').optional(),
});

/** Encodes `meta`; throws XNAT_ERR_PROTOCOL_OPEN_META when it is invalid or over MAX_OPEN_META_BYTES. */
export function encodeOpenMeta(meta: OpenMeta): Buffer {
  const parsed = openMetaSchema.safeParse(meta);
  if (!parsed.success) throw new XnatError('XNAT_ERR_PROTOCOL_OPEN_META', { detail: 'invalid fields' });
  const bytes = encode(parsed.data);
  if (bytes.byteLength > MAX_OPEN_META_BYTES)
    throw new XnatError('XNAT_ERR_PROTOCOL_OPEN_META', { detail: 'too large' });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Decodes and checks STREAM_OPEN meta; anything malformed throws XNAT_ERR_PROTOCOL_OPEN_META. */
export function decodeOpenMeta(buf: Buffer): OpenMeta {
  if (buf.length === 0 || buf.length > MAX_OPEN_META_BYTES)
    throw new XnatError('XNAT_ERR_PROTOCOL_OPEN_META', { detail: `${buf.length} bytes` });
  let raw: unknown;
  try {
    raw = decode(buf);
  } catch (err) {
    throw new XnatError('XNAT_ERR_PROTOCOL_OPEN_META', { detail: 'not msgpack', cause: err });
  }
  if (depthOf(raw, 4) > 4) throw new XnatError('XNAT_ERR_PROTOCOL_OPEN_META', { detail: 'too deep' });
  const parsed = openMetaSchema.safeParse(raw);
  if (!parsed.success) {
    const path = parsed.error.issues[0]?.path.map(String).join('.') ?? '';
    throw new XnatError('XNAT_ERR_PROTOCOL_OPEN_META', { detail: path || 'shape' });
  }
  return parsed.data;
}
