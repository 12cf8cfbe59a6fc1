// Parsing and formatting of byte sizes, durations and base64 key text; pure functions, no I/O.

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** Parses "16MiB", "64 KiB", "1000" (bytes) into a byte count; returns undefined when invalid. */
export function parseSize(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isSafeInteger(text) && text >= 0 ? text : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!m) return undefined;
  const unit = (m[2] ?? '').toLowerCase() || 'b';
  const mult = SIZE_UNITS[unit];
  if (mult === undefined) return undefined;
  const value = Math.round(Number(m[1]) * mult);
  return Number.isSafeInteger(value) ? value : undefined;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses "120s", "250ms", "2m", "1h" or a number of milliseconds; returns undefined when invalid. */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? text : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(text);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2]!]!);
}

/** Formats a byte count for humans: 1.5 MiB. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** Decodes standard or url-safe base64 strictly; returns undefined when the text is not canonical base64. */
export function decodeBase64Strict(text: string): Buffer | undefined {
  const t = text.trim();
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(t)) return undefined;
  const buf = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  const again = buf.toString('base64').replace(/=+$/, '');
  return again === t.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '') ? buf : undefined;
}

/** Decodes a base64 32-byte key (X25519 key or psk); returns undefined when invalid. */
export function decodeKey32(text: string): Buffer | undefined {
  const buf = decodeBase64Strict(text);
  return buf && buf.length === 32 ? buf : undefined;
}
