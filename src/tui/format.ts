// Short, fixed-width formatting for the dashboard's cells: bytes, rates, durations, truncation.
// Pure functions; they know nothing of snapshots or ink.

const BYTE_UNITS = ['B', 'K', 'M', 'G', 'T'];

/**
 * Bytes in at most 7 characters, binary units: 999B, 1.5K, 12.0M, 1023.9G. `next` is where the next unit
 * starts (1024; rates pass 1000 so `1001.1K/s` becomes `1.0M/s` and fits its column).
 */
export function shortBytes(n: number, next = 1024): string {
  if (!Number.isFinite(n) || n < 0) return '-';
  let v = n;
  let i = 0;
  while (v >= next && i < BYTE_UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(v)}B` : `${v.toFixed(1)}${BYTE_UNITS[i]}`;
}

/** A per-second byte rate in at most 8 characters, or '-' when unknown (first snapshot, new session). */
export function shortRate(bytesPerSec: number | undefined): string {
  return bytesPerSec === undefined ? '-' : `${shortBytes(bytesPerSec, 1000)}/s`;
}

/** A duration in ms as 45s, 12m03s, 3h12m or 2d04h. */
export function shortDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  const s = Math.floor(ms / 1000);
  const two = (x: number) => String(x).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${two(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d${two(Math.floor((s % 86_400) / 3600))}h`;
}

/** A round-trip time in ms: 0.4ms, 12.3ms, 250ms; '-' when not measured yet. */
export function shortRtt(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  return ms < 100 ? `${ms.toFixed(1)}ms` : `${Math.round(ms)}ms`;
}

/** An error code without its common XNAT_ERR_ prefix, which only costs columns in a table. */
export function shortCode(code: string | undefined): string {
  if (!code) return '';
  return code.startsWith('XNAT_ERR_') ? code.slice('XNAT_ERR_'.length) : code;
}

/** Wall-clock time (ms since the epoch) as local HH:MM:SS. */
export function clockTime(epochMs: number): string {
  const d = new Date(epochMs);
  const two = (x: number) => String(x).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** Fits `text` in exactly `width` columns: cut with an ellipsis, then padded (left- or right-aligned). */
export function fit(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return '';
  // Control characters would move the cursor; snapshots come from a peer, so never print them raw.
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  const cut = clean.length > width ? `${clean.slice(0, Math.max(0, width - 1))}…` : clean;
  return align === 'right' ? cut.padStart(width) : cut.padEnd(width);
}

const SPARK = '▁▂▃▄▅▆▇█';

/** The last `width` values as a sparkline scaled to their maximum (all zero: a flat low line). */
export function sparkline(values: readonly number[], width: number): string {
  const vs = values.slice(-width);
  const max = Math.max(0, ...vs);
  const line = vs
    .map((v) => (max <= 0 || v <= 0 ? SPARK[0]! : SPARK[Math.min(7, Math.floor((v / max) * 7.999))]!))
    .join('');
  return line.padStart(width, ' ');
}

/** A count in at most 5 characters: 999, 12.3k, 4.5M. */
export function shortCount(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '-';
  if (n < 1000) return String(Math.round(n));
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}
