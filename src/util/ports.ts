// Pure parsing of addresses (`host:port`, `[v6]:port`), ports and port ranges (`N/tcp`, `A-B/udp`).
// It knows nothing of profiles or sockets; callers turn a failed parse's `reason` into their own error.
import { isIPv4, isIPv6 } from 'node:net';

/** A transport protocol of a mapping. */
export type Protocol = 'tcp' | 'udp';

/** A parsed address; `host` is an IPv4 or IPv6 literal (without brackets) or a hostname; `port` 0..65535. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** An inclusive range of ports of one protocol, as in an allow entry `20000-20100/tcp`. */
export interface PortRange {
  readonly protocol: Protocol;
  /** First port, 1..65535. */
  readonly from: number;
  /** Last port, from..65535. */
  readonly to: number;
}

/** The result of a parse: the value, or a short reason fit to follow a key path in an error. */
export type Parsed<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

export const MAX_PORT = 65_535;

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(reason: string): Parsed<T> => ({ ok: false, reason });

// RFC 1123 labels; underscores tolerated because real DNS names (and docker service names) carry them.
const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** Parses a port number text "0".."65535" (digits only). */
export function parsePort(text: string): Parsed<number> {
  if (!/^\d{1,5}$/.test(text)) return fail('port must be a number 0..65535');
  const port = Number(text);
  return port <= MAX_PORT ? ok(port) : fail('port must be a number 0..65535');
}

/** Parses a host: IPv4, IPv6 (bare or in brackets) or a DNS hostname; returns it without brackets. */
export function parseHost(text: string): Parsed<string> {
  const t = text.trim();
  if (t === '') return fail('host is empty');
  if (t.startsWith('[') && t.endsWith(']')) {
    const inner = t.slice(1, -1);
    return isIPv6(inner) ? ok(inner) : fail('bracketed host must be an IPv6 address');
  }
  if (isIPv4(t) || isIPv6(t)) return ok(t);
  const name = t.endsWith('.') ? t.slice(0, -1) : t;
  if (name.length > 253) return fail('hostname is longer than 253 characters');
  const labels = name.split('.');
  if (!labels.every((l) => LABEL.test(l))) return fail('host must be an IPv4 address, [IPv6] or a hostname');
  // "300.1.1.1" passes the label rule but is neither a valid IPv4 address nor a usable name.
  if (labels.every((l) => /^\d+$/.test(l))) return fail('host is not a valid IPv4 address');
  return ok(name);
}

/** Parses `host:port`, `[v6]:port`; an unbracketed IPv6 address with a port is refused as ambiguous. */
export function parseHostPortText(text: string): Parsed<HostPort> {
  const t = text.trim();
  let hostText: string;
  let portText: string;
  if (t.startsWith('[')) {
    const close = t.indexOf(']');
    if (close < 0) return fail('missing "]" after the IPv6 address');
    if (t[close + 1] !== ':') return fail('missing ":port" after "]"');
    hostText = t.slice(0, close + 1);
    portText = t.slice(close + 2);
  } else {
    const colon = t.lastIndexOf(':');
    if (colon < 0) return fail('missing ":port"');
    hostText = t.slice(0, colon);
    portText = t.slice(colon + 1);
    if (hostText.includes(':')) return fail('an IPv6 address with a port needs brackets: [v6]:port');
  }
  const host = parseHost(hostText);
  if (!host.ok) return host;
  const port = parsePort(portText);
  if (!port.ok) return port;
  return ok({ host: host.value, port: port.value });
}

/** Formats an address back to text, bracketing IPv6: `[::1]:7000`. */
export function formatHostPort(hp: HostPort): string {
  return isIPv6(hp.host) ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

/** Parses an allow entry: `25565/tcp` or `2456-2458/udp`; ports 1..65535, from <= to. */
export function parsePortRangeText(text: string): Parsed<PortRange> {
  const m = /^\s*(\d{1,5})(?:\s*-\s*(\d{1,5}))?\s*\/\s*(tcp|udp)\s*$/i.exec(text);
  if (!m) return fail('must be "PORT/tcp", "PORT/udp" or "FROM-TO/proto"');
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (from < 1 || from > MAX_PORT || to < 1 || to > MAX_PORT) return fail('ports must be 1..65535');
  if (from > to) return fail('range start must not exceed its end');
  return ok({ protocol: m[3]!.toLowerCase() as Protocol, from, to });
}

/** Formats a range back to its profile text: `25565/tcp`, `2456-2458/udp`. */
export function formatPortRange(r: PortRange): string {
  return r.from === r.to ? `${r.from}/${r.protocol}` : `${r.from}-${r.to}/${r.protocol}`;
}

/** True when some range of `allow` covers `port` for `protocol`. */
export function isAllowed(allow: readonly PortRange[], protocol: Protocol, port: number): boolean {
  return allow.some((r) => r.protocol === protocol && port >= r.from && port <= r.to);
}

/** True for a wildcard bind address (all interfaces). */
export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '0:0:0:0:0:0:0:0';
}
