// A printable copy of a profile: secrets replaced by "[redacted]", keys and addresses as text.
// It knows nothing of where the copy goes (`xnat check`, a log line, the dashboard).
import { formatHostPort, formatPortRange, type HostPort, type PortRange } from '../util/ports.ts';
import type { Profile } from './types.ts';

/** What a secret prints as, everywhere. */
export const REDACTED = '[redacted]';

/** Keys whose values are secrets at any depth (the same names the log redaction uses). */
const SECRET_KEYS = new Set(['privateKey', 'psk', 'token', 'secret']);

const isHostPort = (v: object): v is HostPort =>
  Object.keys(v).length === 2 &&
  typeof (v as HostPort).host === 'string' &&
  typeof (v as HostPort).port === 'number';

const isPortRange = (v: object): v is PortRange =>
  Object.keys(v).length === 3 &&
  typeof (v as PortRange).protocol === 'string' &&
  typeof (v as PortRange).from === 'number';

function render(value: unknown, key: string | undefined): unknown {
  if (value === undefined) return undefined;
  if (key !== undefined && SECRET_KEYS.has(key)) return REDACTED;
  // Public keys are not secret; base64 is how users compare them with `xnat keygen` output.
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (Array.isArray(value)) return value.map((v) => render(v, undefined));
  if (value !== null && typeof value === 'object') {
    if (isHostPort(value)) return formatHostPort(value);
    if (isPortRange(value)) return formatPortRange(value);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = render(v, k);
      if (r !== undefined) out[k] = r;
    }
    return out;
  }
  return value;
}

/**
 * A JSON-able copy of `p` for `xnat check` and logs: private key, psks and admin token print as
 * "[redacted]" (a missing psk is left out), public keys as base64, addresses as `host:port`.
 */
export function redactProfile(p: Profile): unknown {
  return render(p, undefined);
}
