// Expands an agent profile's mapping entries (presets, port ranges, tcp+udp) into one mapping per port
// and protocol, with their defaults; reports missing keys, mismatched ranges, caps and overlapping ports.
// It knows nothing of YAML: problems go out as key paths of the entry they came from.
import { DEFAULT_TCP_IDLE_TIMEOUT_MS, DEFAULT_UDP_IDLE_TIMEOUT_MS, type RawAgentProfile } from './schema.ts';
import { presetOf, type PortSpan } from './presets.ts';
import type { ProfileIssue } from './source.ts';
import type { BandwidthLimit, MappingProfile, Protocol } from './types.ts';

/**
 * Most ports one mapping entry's range may hold. Valheim needs 3 and the widest game layouts a few dozen;
 * each port is a public listener, a LAN socket per flow and a status row, so a typo such as 2000-20000
 * is refused instead of opening 18 001 ports.
 */
export const MAX_PORTS_PER_RANGE = 64;
/** Most mappings of one agent after expansion: the relay takes at most 256 in one registration. */
export const MAX_MAPPINGS = 256;

type RawMapping = RawAgentProfile['mappings'][number];

const size = (s: PortSpan) => s.to - s.from + 1;
const spanText = (s: PortSpan) => (s.from === s.to ? `${s.from}` : `${s.from}-${s.to}`);

/** A profile's `bandwidth:` block (sizes per second) as a BandwidthLimit. */
export function toBandwidth(b: { up?: number; down?: number; burst?: number }): BandwidthLimit {
  return {
    ...(b.up !== undefined ? { upBytesPerSec: b.up } : {}),
    ...(b.down !== undefined ? { downBytesPerSec: b.down } : {}),
    ...(b.burst !== undefined ? { burstBytes: b.burst } : {}),
  };
}

/** The entry's name: its own, else its preset's (a preset entry may leave it out). */
export function entryName(m: RawMapping): string | undefined {
  return m.name ?? m.preset;
}

/** One entry's mappings, or undefined after pushing its problems. */
function expandEntry(m: RawMapping, i: number, issues: ProfileIssue[]): MappingProfile[] | undefined {
  const at = (key: string) => ['mappings', i, key];
  const preset = m.preset === undefined ? undefined : presetOf(m.preset);
  const before = issues.length;
  const name = entryName(m);
  if (name === undefined) issues.push({ path: at('name'), message: 'required' });
  const remote = m.remotePort ?? preset?.ports;
  if (remote === undefined)
    issues.push({
      path: at('remotePort'),
      message: preset ? `required: preset ${m.preset} has no default port` : 'required',
    });
  // A handler entry has no LAN target (an in-process service of an embedding application, src/api/).
  const handler = m.handler;
  if (handler !== undefined && m.local !== undefined)
    issues.push({
      path: at('handler'),
      message: 'a mapping has either local (a LAN target) or handler (an in-process service), not both',
    });
  // A preset entry may leave out local: the game server runs beside the agent, on the preset's ports.
  const local =
    handler !== undefined
      ? { host: '', ports: undefined }
      : (m.local ?? (preset ? { host: '127.0.0.1', ports: undefined } : undefined));
  if (local === undefined) issues.push({ path: at('local'), message: 'required' });
  const protocol = m.protocol ?? preset?.protocol ?? 'tcp';
  if (name === undefined || remote === undefined || local === undefined) return undefined;

  // A bare host takes the preset's ports (the server's defaults, whatever the public side), else remotePort's.
  const localOwn = local.ports ?? preset?.ports;
  const localPorts = localOwn ?? remote;
  if (size(remote) > MAX_PORTS_PER_RANGE)
    issues.push({
      path: at('remotePort'),
      message: `a range of ${size(remote)} ports; at most ${MAX_PORTS_PER_RANGE} per mapping`,
    });
  if (handler !== undefined) {
    // No LAN ports to check against remotePort.
  } else if (remote.from === 0 && localOwn === undefined)
    issues.push({ path: at('local'), message: 'needs a port when remotePort is 0' });
  else if (remote.from === 0 && protocol === 'tcp+udp')
    issues.push({
      path: at('remotePort'),
      message: 'must be a fixed port with protocol tcp+udp (0 would give each protocol its own port)',
    });
  else if (size(localPorts) !== size(remote))
    issues.push({
      path: at('local'),
      message:
        size(remote) > 1
          ? `needs a range of ${size(remote)} ports like remotePort ${spanText(remote)} (host:${remote.from}-${remote.to}, mapped port by port)`
          : `has ${size(localPorts)} ports; remotePort ${spanText(remote)} has 1 (write a range in both)`,
    });
  // An in-process service gets the visitor in its stream's meta and plain bytes: nothing to wrap.
  for (const key of ['compress', 'proxyProtocol', 'bandwidth'] as const)
    if (handler !== undefined && m[key] !== undefined && m[key] !== 'none')
      issues.push({ path: at(key), message: 'is for a LAN target, not a handler mapping' });
  // compress and bandwidth are tcp only: with tcp+udp they apply to the tcp mapping.
  if (protocol === 'udp' && m.compress === 'deflate')
    issues.push({ path: at('compress'), message: 'is tcp only (a datagram is too small to gain)' });
  if (protocol !== 'tcp' && m.proxyProtocol === 'v1')
    issues.push({
      path: at('proxyProtocol'),
      message: 'must be v2 on a udp mapping (v1 is text, tcp only)',
    });
  if (issues.length > before) return undefined;

  const shared = {
    ...(m.weight !== undefined ? { weight: m.weight } : {}),
    ...(m.proxyProtocol !== undefined ? { proxyProtocol: m.proxyProtocol } : {}),
  };
  const tcpOnly = {
    ...(m.bandwidth ? { bandwidth: toBandwidth(m.bandwidth) } : {}),
    ...(m.compress === 'deflate' ? { compress: 'deflate' as const } : {}),
  };
  const protocols: Protocol[] = protocol === 'tcp+udp' ? ['tcp', 'udp'] : [protocol];
  const many = size(remote) > 1 || protocols.length > 1;
  const out: MappingProfile[] = [];
  for (let k = 0; k < size(remote); k++) {
    for (const p of protocols) {
      const base = {
        // `.` cannot occur in an entry's name, so a derived name never equals another entry's.
        name: many ? `${name}.${remote.from + k}.${p}` : name,
        remotePort: remote.from + k,
        local: handler === undefined ? { host: local.host, port: localPorts.from + k } : undefined,
        ...(handler !== undefined ? { handler } : {}),
        ...shared,
      };
      if (p === 'udp')
        out.push({
          ...base,
          protocol: 'udp',
          idleTimeoutMs: m.idleTimeout ?? preset?.udpIdleTimeoutMs ?? DEFAULT_UDP_IDLE_TIMEOUT_MS,
        });
      else
        out.push({
          ...base,
          protocol: 'tcp',
          idleTimeoutMs: m.idleTimeout ?? preset?.tcpIdleTimeoutMs ?? DEFAULT_TCP_IDLE_TIMEOUT_MS,
          ...tcpOnly,
        });
    }
  }
  return out;
}

/**
 * Every entry's mappings in profile order. Two entries claiming one port for one protocol are reported
 * once per pair, on the later entry; port 0 never clashes (the relay picks distinct ports).
 */
export function expandMappings(entries: readonly RawMapping[], issues: ProfileIssue[]): MappingProfile[] {
  const out: MappingProfile[] = [];
  const owner = new Map<string, number>();
  const produced: number[] = [];
  entries.forEach((m, i) => {
    const mine = expandEntry(m, i, issues);
    produced[i] = mine?.length ?? 0;
    if (!mine) return;
    const reported = new Set<number>();
    for (const x of mine) {
      if (x.remotePort === 0) continue;
      const key = `${x.remotePort}/${x.protocol}`;
      const j = owner.get(key);
      if (j === undefined) owner.set(key, i);
      else if (!reported.has(j)) {
        reported.add(j);
        // Plain single-port entries keep the message they always had.
        const single = mine.length === 1 && produced[j] === 1;
        issues.push({
          path: ['mappings', i, 'remotePort'],
          message: single
            ? `same remotePort and protocol as entry [${j}]`
            : `${key} is also claimed by entry [${j}]`,
        });
      }
    }
    out.push(...mine);
  });
  if (out.length > MAX_MAPPINGS)
    issues.push({
      path: ['mappings'],
      message: `expand to ${out.length} mappings (ranges and tcp+udp count each port and protocol); at most ${MAX_MAPPINGS}`,
    });
  return out;
}
