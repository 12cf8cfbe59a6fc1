// IP address text to bytes and back to a canonical form: IPv4 dotted quads, IPv6 with `::` and an IPv4
// tail, IPv4-mapped IPv6 folded to IPv4, zone ids dropped. It knows nothing of sockets or CIDR policy.
import { isIPv4, isIPv6 } from 'node:net';

/** An address as 4 (IPv4) or 16 (IPv6) bytes; undefined for anything else ('' or a hostname). */
export function ipBytes(text: string): Buffer | undefined {
  const addr = canonicalIp(text);
  if (isIPv4(addr)) return Buffer.from(addr.split('.').map(Number));
  if (!isIPv6(addr)) return undefined;
  return ipv6Bytes(addr);
}

/** Drops a zone id and folds `::ffff:a.b.c.d` to `a.b.c.d`; other text is returned as it is. */
export function canonicalIp(text: string): string {
  const noZone = text.includes('%') ? text.slice(0, text.indexOf('%')) : text;
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(noZone);
  return m ? m[1]! : noZone;
}

/** The IPv4-mapped IPv6 form of an IPv4 address (for a header that must give both ends one family). */
export function mappedV6(v4: string): string {
  return `::ffff:${v4}`;
}

function ipv6Bytes(addr: string): Buffer {
  const out = Buffer.alloc(16);
  let text = addr;
  const tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    tail.push(...v4[1]!.split('.').map(Number));
    text = text.slice(0, -v4[1]!.length) + '0:0';
  }
  const [head, rest] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = rest ? rest.split(':') : [];
  const groups =
    rest === undefined
      ? left
      : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  if (tail.length === 4) Buffer.from(tail).copy(out, 12);
  return out;
}
