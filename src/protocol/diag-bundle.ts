// The diagnostic bundle `xnat diag` fetches: one JSON document of a relay or agent (versions, link
// history, status snapshot, profile with secrets redacted, recent log lines) within a byte cap.
// It knows nothing of transfers or files; diag.fetch / admin.diag carry what it builds.
import { Readable } from 'node:stream';
import { redactProfile, REDACTED, type Profile } from '../config/index.ts';
import type { LogRing } from '../observe/log-ring.ts';
import type { Status } from '../observe/status.ts';
import { XnatError } from '../errors.ts';
import { VERSION } from '../util/version.ts';
import { DIAG_MAX_BYTES, PROTOCOL_VERSION } from './catalogue.ts';

/** Format version of the bundle document (its `xnatDiag` field). */
export const DIAG_FORMAT = 1;

/** What one side puts into its bundle. */
export interface DiagParts {
  readonly status: Status;
  /** The profile in force, secrets included: the bundle holds the redacted copy only. */
  readonly profile: Profile;
  /** The process's recent log lines (already redacted by the logger); none without it. */
  readonly logs?: LogRing;
}

/** Keys whose values are secrets wherever they appear in a profile (as redact.ts names them). */
const SECRET_KEYS = new Set(['privateKey', 'psk', 'token', 'secret']);

/** Every secret value of the profile as the texts it could be printed as (hex, base64, base64url, itself). */
function secretTexts(value: unknown, key: string | undefined, out: Set<string>, depth = 0): void {
  if (depth > 16 || value === null || value === undefined) return;
  if (key !== undefined && SECRET_KEYS.has(key)) {
    if (Buffer.isBuffer(value) || value instanceof Uint8Array) {
      const b = Buffer.from(value);
      for (const t of [b.toString('hex'), b.toString('base64'), b.toString('base64url')]) out.add(t);
    } else if (typeof value === 'string') out.add(value);
    return;
  }
  if (Array.isArray(value)) for (const v of value) secretTexts(v, undefined, out, depth + 1);
  else if (typeof value === 'object' && !Buffer.isBuffer(value))
    for (const [k, v] of Object.entries(value)) secretTexts(v, k, out, depth + 1);
}

/** The links' history from a snapshot: per relay (agent side) or per session (relay side). */
function linkHistory(s: Status): unknown[] {
  if (s.role === 'agent')
    return s.relays.map((r) => ({
      relay: r.address,
      state: r.state,
      ...(r.lastError ? { lastError: r.lastError } : {}),
      linkFailures: r.linkFailures ?? {},
      reconnects: r.reconnects ?? [],
    }));
  return s.sessions.map((x) => ({
    agent: x.agent,
    session: x.id.slice(0, 12),
    state: x.state,
    links: x.links,
    resumes: x.resumes,
    reconnects: x.reconnects,
  }));
}

function logLine(l: ReturnType<LogRing['since']>[number]): string {
  const text = `${new Date(l.time).toISOString()} ${l.level.toUpperCase()} ${l.msg}`;
  return l.fields ? `${text} ${l.fields}` : text;
}

/**
 * Builds the bundle (UTF-8 JSON) within `maxBytes`: the oldest log lines go first, then the status
 * snapshot (replaced by a note); XNAT_ERR_DIAG_TOO_LARGE if even that does not fit. Any secret of the
 * profile that turns up anywhere in the text (hex, base64) is replaced by "[redacted]" as a last guard.
 */
export function buildDiagBundle(parts: DiagParts, maxBytes = DIAG_MAX_BYTES, now = Date.now()): Buffer {
  const secrets = new Set<string>();
  secretTexts(parts.profile, undefined, secrets);
  const guard = [...secrets].filter((t) => t.length >= 8).sort((a, b) => b.length - a.length);
  const lines = (parts.logs?.since() ?? []).map(logLine);
  const s = parts.status;
  const head = {
    xnatDiag: DIAG_FORMAT,
    createdAt: new Date(now).toISOString(),
    role: s.role,
    ...(s.role === 'agent' ? { name: s.name } : {}),
    versions: {
      xnat: VERSION,
      protocol: PROTOCOL_VERSION,
      node: process.version,
      openssl: process.versions.openssl,
      platform: process.platform,
      arch: process.arch,
    },
    process: {
      uptimeSec: Math.round(process.uptime()),
      rssBytes: process.memoryUsage.rss(),
    },
    linkHistory: linkHistory(s),
  };
  const profile = redactProfile(parts.profile);
  const render = (keep: number, withStatus: boolean): Buffer => {
    const dropped = lines.length - keep;
    const doc = {
      ...head,
      ...(dropped > 0 || !withStatus
        ? { truncated: { logLinesDropped: dropped, statusOmitted: !withStatus } }
        : {}),
      status: withStatus ? s : { omitted: 'larger than the bundle cap' },
      profile,
      logs: lines.slice(lines.length - keep),
    };
    let text = `${JSON.stringify(doc, null, 2)}\n`;
    for (const t of guard) text = text.replaceAll(t, REDACTED);
    return Buffer.from(text);
  };
  const whole = render(lines.length, true);
  if (whole.length <= maxBytes) return whole;
  for (const withStatus of [true, false]) {
    if (render(0, withStatus).length > maxBytes) continue;
    // The most log lines that fit: a binary search over how many of the newest to keep.
    let lo = 0;
    let hi = lines.length;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (render(mid, withStatus).length <= maxBytes) lo = mid;
      else hi = mid - 1;
    }
    return render(lo, withStatus);
  }
  throw new XnatError('XNAT_ERR_DIAG_TOO_LARGE', { detail: `cap ${maxBytes} bytes` });
}

/** A built bundle as a transfer source: its size and a Readable of it. */
export function bundleSource(bundle: Buffer): { size: number; source: Readable } {
  return { size: bundle.length, source: Readable.from(bundleChunks(bundle)) };
}

/** A bundle as the chunks a stream transfer sends (views, no copy). */
export function* bundleChunks(bundle: Buffer, chunkBytes = 64 * 1024): Generator<Buffer> {
  for (let off = 0; off < bundle.length; off += chunkBytes) yield bundle.subarray(off, off + chunkBytes);
}
