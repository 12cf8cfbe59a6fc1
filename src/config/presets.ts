// Game presets of agent mappings: each game's default server ports, protocol and idle timeouts.
// It knows nothing of YAML or of expanding mappings (mapping-expand.ts); values are the games' own defaults.

/** The protocol a mapping entry names; `tcp+udp` becomes one tcp and one udp mapping on the same port. */
export type EntryProtocol = 'tcp' | 'udp' | 'tcp+udp';

/** Inclusive ports; `from === to` for one port. */
export interface PortSpan {
  readonly from: number;
  readonly to: number;
}

/** What a preset fills in; explicit keys of the mapping entry win over every value here. */
export interface Preset {
  /** The game or program, for docs and `xnat init`. */
  readonly title: string;
  readonly protocol: EntryProtocol;
  /** The server's default ports, public and LAN alike; undefined (generic): remotePort is required. */
  readonly ports: PortSpan | undefined;
  /** Flow idle timeout of the udp mappings, in ms. */
  readonly udpIdleTimeoutMs: number;
  /** Visitor connection idle timeout of the tcp mappings, in ms. */
  readonly tcpIdleTimeoutMs: number;
}

const S = 1000;
const M = 60 * S;
const H = 60 * M;

/**
 * The presets. Why each timeout (docs/profiles.md, "Game presets", says the same to users): a flow must
 * outlive the game's own silences (loading screens, map changes), or the next packet opens a new flow from
 * a new agent port and the server sees a stranger; beyond the game's own timeout a flow only holds memory.
 */
export const PRESETS = {
  // 2456 game, 2457 Steam query, 2458 crossplay; world loading can leave a client quiet for many seconds.
  valheim: {
    title: 'Valheim',
    protocol: 'udp',
    ports: { from: 2456, to: 2458 },
    udpIdleTimeoutMs: 2 * M,
    tcpIdleTimeoutMs: H,
  },
  // 8211 is the only port players need (27015 query and 8212 REST are optional, add mappings for them).
  palworld: {
    title: 'Palworld',
    protocol: 'udp',
    ports: { from: 8211, to: 8211 },
    udpIdleTimeoutMs: 2 * M,
    tcpIdleTimeoutMs: H,
  },
  // RakNet pings connected peers every few seconds and drops one silent for 10 s: 60 s is ample slack.
  // 19133 is the server's IPv6 socket; through xnat the relay takes IPv6 visitors on 19132 (publicHost ::).
  bedrock: {
    title: 'Minecraft Bedrock',
    protocol: 'udp',
    ports: { from: 19132, to: 19132 },
    udpIdleTimeoutMs: M,
    tcpIdleTimeoutMs: H,
  },
  // The server sends a keep-alive every 15 s and drops a client silent for 30 s: 5 min idle is dead.
  minecraft: {
    title: 'Minecraft Java',
    protocol: 'tcp',
    ports: { from: 25565, to: 25565 },
    udpIdleTimeoutMs: M,
    tcpIdleTimeoutMs: 5 * M,
  },
  // Clients send every tick (60/s), map download included: a minute of silence is a gone client.
  factorio: {
    title: 'Factorio',
    protocol: 'udp',
    ports: { from: 34197, to: 34197 },
    udpIdleTimeoutMs: M,
    tcpIdleTimeoutMs: H,
  },
  // udp game traffic (quiet while a client loads a map), tcp for RCON (admin tools idle for long).
  cs2: {
    title: 'Counter-Strike 2',
    protocol: 'tcp+udp',
    ports: { from: 27015, to: 27015 },
    udpIdleTimeoutMs: 2 * M,
    tcpIdleTimeoutMs: H,
  },
  // Terraria speaks tcp only; no documented keep-alive, so the default hour.
  terraria: {
    title: 'Terraria',
    protocol: 'tcp',
    ports: { from: 7777, to: 7777 },
    udpIdleTimeoutMs: M,
    tcpIdleTimeoutMs: H,
  },
  // 180 s is WireGuard's REJECT_AFTER_TIME: a peer silent that long re-handshakes anyway, and the server
  // follows its new flow (roaming). PersistentKeepalive = 25 keeps a flow alive for server-initiated traffic.
  wireguard: {
    title: 'WireGuard',
    protocol: 'udp',
    ports: { from: 51820, to: 51820 },
    udpIdleTimeoutMs: 3 * M,
    tcpIdleTimeoutMs: H,
  },
  // An unknown game: both protocols (narrow with protocol:), ports required, a game-friendly flow timeout.
  generic: {
    title: 'any other game',
    protocol: 'tcp+udp',
    ports: undefined,
    udpIdleTimeoutMs: 2 * M,
    tcpIdleTimeoutMs: H,
  },
} as const satisfies Record<string, Preset>;

export type PresetName = keyof typeof PRESETS;

/** Every preset name, in the order docs list them. */
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

export function isPresetName(text: string): text is PresetName {
  return Object.hasOwn(PRESETS, text);
}

export function presetOf(name: PresetName): Preset {
  return PRESETS[name];
}

/** Edit distance of two short strings (names under 40 characters: a full table is cheap). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

/** The preset a typo most likely meant (at most 2 edits away, or a prefix), or undefined. */
export function suggestPreset(text: string): PresetName | undefined {
  const t = text.trim().toLowerCase().slice(0, 40);
  if (t === '') return undefined;
  let best: { name: PresetName; d: number } | undefined;
  for (const name of PRESET_NAMES) {
    const d = name.startsWith(t) && t.length >= 3 ? 0 : distance(t, name);
    if (d <= 2 && (best === undefined || d < best.d)) best = { name, d };
  }
  return best?.name;
}
