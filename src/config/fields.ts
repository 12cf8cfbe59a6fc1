// zod building blocks for profile values: durations, sizes, keys, addresses, names, allow entries, blocks.
// It knows nothing of relay or agent profiles as a whole; messages never repeat the value (it may be secret).
import * as z from 'zod';
import { decodeKey32, parseDuration, parseSize } from '../util/bytes.ts';
import { isIPv4, isIPv6 } from 'node:net';
import {
  parseHost,
  parseHostPortText,
  parsePort,
  parsePortRangeText,
  type PortRange,
} from '../util/ports.ts';
import { PRESET_NAMES, isPresetName, suggestPreset, type PortSpan, type PresetName } from './presets.ts';

/** Marks a zod issue raised by bad key text, so the loader reports XNAT_ERR_CONFIG_KEY_TEXT. */
export const KEY_TEXT_PARAM = 'xnatKeyText';

const TYPE_CODES = new Set(['invalid_type', 'invalid_union', 'invalid_value']);

/** A type-mismatch message: "required" when the key is missing, else "must be <what>"; other issues pass. */
export function typeError(what: string): (iss: { code?: string; input?: unknown }) => string | undefined {
  return (iss) => {
    if (iss.code !== undefined && !TYPE_CODES.has(iss.code)) return undefined;
    return iss.input === undefined ? 'required' : `must be ${what}`;
  };
}

function formatMs(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

function formatSize(bytes: number): string {
  for (const [unit, n] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n}${unit}`;
  }
  return `${bytes}B`;
}

/** A duration text with a unit ("250ms", "120s", "2m", "1h") in [minMs, maxMs]; output in ms. */
export function duration(minMs: number, maxMs: number) {
  const range = `${formatMs(minMs)}..${formatMs(maxMs)}`;
  // A bare number is refused: "120" could mean seconds or milliseconds, and a wrong guess is silent.
  return z
    .string({ error: typeError('a duration with a unit, e.g. 250ms, 120s, 2m') })
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: 'must be a duration with a unit (ms, s, m, h), e.g. 120s' });
        return z.NEVER;
      }
      if (ms < minMs || ms > maxMs) {
        ctx.addIssue({ code: 'custom', message: `must be ${range}` });
        return z.NEVER;
      }
      return ms;
    });
}

/** A byte size ("16MiB", "64KiB", or a plain integer of bytes) in [min, max]; output in bytes. */
export function size(min: number, max: number) {
  const range = `${formatSize(min)}..${formatSize(max)}`;
  return z
    .union([z.string(), z.number()], { error: typeError('a size such as 8MiB') })
    .transform((value, ctx) => {
      const bytes = parseSize(value);
      if (bytes === undefined) {
        ctx.addIssue({ code: 'custom', message: 'must be a size such as 64KiB, 16MiB or a number of bytes' });
        return z.NEVER;
      }
      if (bytes < min || bytes > max) {
        ctx.addIssue({ code: 'custom', message: `must be ${range}` });
        return z.NEVER;
      }
      return bytes;
    });
}

/** An integer in [min, max]. */
export function int(min: number, max: number) {
  const msg = `must be an integer ${min}..${max}`;
  return z
    .number({ error: typeError(`an integer ${min}..${max}`) })
    .int(msg)
    .min(min, msg)
    .max(max, msg);
}

/** Base64 text of a 32-byte key (X25519 key or psk); output a Buffer. The text is never echoed. */
export function keyText() {
  return z.string({ error: typeError('base64 key text') }).transform((text, ctx) => {
    const key = decodeKey32(text);
    if (!key) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be base64 of 32 bytes (generate with xnat keygen)',
        params: { [KEY_TEXT_PARAM]: true },
      });
      return z.NEVER;
    }
    return key;
  });
}

/** `host:port` / `[v6]:port`; port 0 only where `allowZero` (listen addresses). */
export function hostPort(allowZero: boolean) {
  return z.string({ error: typeError('"host:port" text') }).transform((text, ctx) => {
    const parsed = parseHostPortText(text);
    if (!parsed.ok) {
      ctx.addIssue({ code: 'custom', message: parsed.reason });
      return z.NEVER;
    }
    if (parsed.value.port === 0 && !allowZero) {
      ctx.addIssue({ code: 'custom', message: 'port must be 1..65535' });
      return z.NEVER;
    }
    return parsed.value;
  });
}

/** A bare host (bind address): IPv4, IPv6 (brackets optional) or hostname. */
export function host() {
  return z.string({ error: typeError('a host address') }).transform((text, ctx) => {
    const parsed = parseHost(text);
    if (!parsed.ok) {
      ctx.addIssue({ code: 'custom', message: parsed.reason });
      return z.NEVER;
    }
    return parsed.value;
  });
}

/** An allow entry: `N/proto` or `A-B/proto`. */
export function portRange() {
  return z.string({ error: typeError('"PORT/tcp" or "FROM-TO/udp" text') }).transform((text, ctx) => {
    const parsed = parsePortRangeText(text);
    if (!parsed.ok) {
      ctx.addIssue({ code: 'custom', message: parsed.reason });
      return z.NEVER;
    }
    return parsed.value;
  });
}

const ALLOW_TCP_UDP_RE = /^(.*?)\s*\/\s*tcp\s*\+\s*udp\s*$/i;

/** An allow entry that may name both protocols: `27015/tcp+udp` is `27015/tcp` and `27015/udp`. */
export function allowEntry() {
  return z
    .string({ error: typeError('"PORT/tcp", "FROM-TO/udp" or "PORT/tcp+udp" text') })
    .transform((text, ctx): PortRange[] => {
      const both = ALLOW_TCP_UDP_RE.exec(text);
      const texts = both ? [`${both[1]}/tcp`, `${both[1]}/udp`] : [text];
      const out: PortRange[] = [];
      for (const t of texts) {
        const parsed = parsePortRangeText(t);
        if (!parsed.ok) {
          ctx.addIssue({
            code: 'custom',
            message: both ? parsed.reason.replace('/proto"', '/tcp+udp"') : parsed.reason,
          });
          return z.NEVER;
        }
        out.push(parsed.value);
      }
      return out;
    });
}

const RANGE_RE = /^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$/;

/** Parses `A-B` (ports 1..65535, A <= B); undefined when the text is not of that shape. */
function parseSpanText(
  text: string,
): { ok: true; value: PortSpan } | { ok: false; reason: string } | undefined {
  const m = RANGE_RE.exec(text);
  if (!m) return undefined;
  const from = Number(m[1]);
  const to = Number(m[2]);
  if (from < 1 || to < 1 || from > 65_535 || to > 65_535)
    return { ok: false, reason: 'ports must be 1..65535' };
  if (from > to) return { ok: false, reason: 'range start must not exceed its end' };
  return { ok: true, value: { from, to } };
}

/** A mapping's remotePort: an integer 0..65535 (0: the relay picks) or a range text `2456-2458`. */
export function portSpan() {
  const what = 'an integer 0..65535 or a range such as 2456-2458';
  return z.union([z.number(), z.string()], { error: typeError(what) }).transform((v, ctx): PortSpan => {
    if (typeof v === 'number') {
      if (!Number.isInteger(v) || v < 0 || v > 65_535) {
        ctx.addIssue({ code: 'custom', message: 'must be an integer 0..65535' });
        return z.NEVER;
      }
      return { from: v, to: v };
    }
    const span = parseSpanText(v);
    if (span === undefined || !span.ok) {
      ctx.addIssue({ code: 'custom', message: span?.reason ?? `must be ${what}` });
      return z.NEVER;
    }
    return span.value;
  });
}

/** A mapping's LAN target; `ports` undefined when only a host was written (the ports come from elsewhere). */
export interface LocalTarget {
  readonly host: string;
  readonly ports: PortSpan | undefined;
}

/** Splits `host:P`, `host:A-B`, `[v6]:P` into host and port text; a bare host has no port text. */
function splitLocal(t: string): { host: string; port: string | undefined } | string {
  if (isIPv6(t) || (t.startsWith('[') && t.endsWith(']')) || !t.includes(':'))
    return { host: t, port: undefined };
  if (t.startsWith('[')) {
    const close = t.indexOf(']');
    if (close < 0) return 'missing "]" after the IPv6 address';
    if (t[close + 1] !== ':') return 'missing ":port" after "]"';
    return { host: t.slice(0, close + 1), port: t.slice(close + 2) };
  }
  const colon = t.lastIndexOf(':');
  const host = t.slice(0, colon);
  if (host.includes(':')) return 'an IPv6 address with a port needs brackets: [v6]:port';
  return { host, port: t.slice(colon + 1) };
}

/** A mapping's `local`: `host:port`, `host:A-B` (a range), or a bare `host` (ports of the preset or remotePort). */
export function localTarget() {
  return z
    .string({ error: typeError('"host:port", "host:FROM-TO" or "host" text') })
    .transform((text, ctx): LocalTarget => {
      const fail = (message: string) => {
        ctx.addIssue({ code: 'custom', message });
        return z.NEVER;
      };
      const parts = splitLocal(text.trim());
      if (typeof parts === 'string') return fail(parts);
      const host = parseHost(parts.host);
      if (!host.ok) return fail(host.reason);
      if (parts.port === undefined) return { host: host.value, ports: undefined };
      const span = parseSpanText(parts.port);
      if (span !== undefined) return span.ok ? { host: host.value, ports: span.value } : fail(span.reason);
      const port = parsePort(parts.port);
      if (!port.ok) return fail(port.reason);
      if (port.value === 0) return fail('port must be 1..65535');
      return { host: host.value, ports: { from: port.value, to: port.value } };
    });
}

/** A mapping protocol: `tcp`, `udp` or `tcp+udp` (both on the same port). */
export function entryProtocol() {
  return z.enum(['tcp', 'udp', 'tcp+udp'], { error: typeError('tcp, udp or tcp+udp') });
}

/** A preset name; a typo gets a "did you mean" (the value is a preset's name, never a secret). */
export function presetName() {
  return z.string({ error: typeError('a preset name') }).transform((text, ctx): PresetName => {
    if (isPresetName(text)) return text;
    const guess = suggestPreset(text);
    ctx.addIssue({
      code: 'custom',
      message: `must be one of ${PRESET_NAMES.join(', ')}${guess ? `; did you mean ${guess}?` : ''}`,
    });
    return z.NEVER;
  });
}

/** Names of agents and mappings: they appear in logs, metric labels and the dashboard. */
export function name() {
  return z
    .string({ error: typeError('a name of a-z, 0-9 and -') })
    .regex(/^[a-z0-9-]{1,32}$/, 'must be 1-32 characters of a-z, 0-9 and -');
}

/** A list with at least `min` entries. */
export function list<T extends z.ZodType>(item: T, min: number) {
  return z
    .array(item, { error: typeError('a list') })
    .min(min, min === 1 ? 'must have at least one entry' : `must have at least ${min} entries`);
}

/** Lets an empty block (`metrics:` with nothing under it, YAML null) mean "present, all defaults". */
export function block<T extends z.ZodType>(schema: T) {
  return z.preprocess((v) => (v === null ? {} : v), schema);
}

/** A strict mapping: unknown keys are errors. */
export function strict<S extends z.ZodRawShape>(shape: S) {
  return z.strictObject(shape, { error: typeError('a mapping of keys') });
}

/** A CIDR block ("10.0.0.0/8", "2001:db8::/32") or one address (a /32 or /128); output its parts. */
export function cidr() {
  return z.string({ error: typeError('a CIDR block such as 203.0.113.0/24') }).transform((text, ctx) => {
    const slash = text.indexOf('/');
    const address = slash < 0 ? text : text.slice(0, slash);
    const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
    const max = family === 'ipv4' ? 32 : 128;
    const prefixText = slash < 0 ? String(max) : text.slice(slash + 1);
    const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
    if (!family || !(prefix >= 0 && prefix <= max)) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be an IPv4 or IPv6 address or CIDR block, e.g. 10.0.0.0/8',
      });
      return z.NEVER;
    }
    return { text, address, prefix, family } as const;
  });
}
