// zod building blocks for profile values: durations, sizes, keys, addresses, names, allow entries, blocks.
// It knows nothing of relay or agent profiles as a whole; messages never repeat the value (it may be secret).
import { z } from 'zod';
import { decodeKey32, parseDuration, parseSize } from '../util/bytes.ts';
import { isIPv4, isIPv6 } from 'node:net';
import { parseHost, parseHostPortText, parsePortRangeText } from '../util/ports.ts';

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
