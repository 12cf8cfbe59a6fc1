// The parsed, normalised shape of relay and agent profiles: durations in ms, sizes in bytes, keys as Buffers.
// It knows nothing of YAML or validation; the structure mirrors the YAML so key paths read the same.
import type { HostPort, PortRange } from '../util/ports.ts';

export type { HostPort, PortRange, Protocol } from '../util/ports.ts';

/** pino levels a profile may set. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** Which implementation of the suite's AEAD links use; `auto` picks the fastest available. */
export type CipherBackendChoice = 'auto' | 'node' | 'noble';

/** A link cipher suite, as profiles name it. */
export type CipherSuiteName = 'aes-256-gcm' | 'chacha20-poly1305';

/** The suite an agent proposes; `auto` = AES-256-GCM where the CPU has AES instructions, else ChaCha20. */
export type CipherChoice = 'auto' | CipherSuiteName;

/** Where the private key came from, after overrides (shown by `xnat check`, never the key itself). */
export type PrivateKeySource = 'profile' | 'file' | 'env';

/** Session and mux tuning, the same block on both sides. */
export interface Tuning {
  /** Replay buffer cap of a session in bytes; default 8 MiB, 64 KiB..1 GiB. */
  readonly replayBufferBytes: number;
  /** Initial per-stream receive window in bytes; default 256 KiB, 16 KiB..16 MiB. */
  readonly streamWindowBytes: number;
  /** How far all receive windows of a session may grow beyond their initial ones, in bytes; default 16 MiB. */
  readonly sessionWindowBytes: number;
  /** Streams per session; default 4096, 1..65536. */
  readonly maxStreams: number;
  /** Keepalive ping interval in ms; default 1000, 100 ms..60 s. */
  readonly keepaliveIntervalMs: number;
  /** A link silent this long is declared dead, in ms; default 2000, above keepaliveIntervalMs, ..5 min. */
  readonly keepaliveTimeoutMs: number;
  /** AEAD implementation (node:crypto or @noble); default `auto`. */
  readonly cipherBackend: CipherBackendChoice;
  /** Agent: UDP flows (LAN sockets) per session; beyond it the least-recently-active goes; default 4096. */
  readonly maxFlows: number;
  /** Relay: UDP flows per mapping; beyond it the least-recently-active goes; default 4096. */
  readonly maxFlowsPerMapping: number;
  /** Relay: UDP flows one visitor address holds per mapping; beyond it its own oldest goes; default 64. */
  readonly maxFlowsPerSource: number;
  /** The UDP path for datagrams: `auto` (used when probes get through) or `off` (TCP lane only). */
  readonly udpPath: 'auto' | 'off';
  /** Agent: UDP path keepalive and re-probe interval in ms; default 15 000, 1 s..5 min. */
  readonly udpPathKeepaliveMs: number;
}

/** The agent's tuning: the shared block plus the suite it proposes. */
export interface AgentTuning extends Tuning {
  /** Cipher suite proposed to every relay; default `auto`. */
  readonly cipher: CipherChoice;
}

/** Logging settings. */
export interface LogProfile {
  /** Default `info`. */
  readonly level: LogLevel;
}

/** The admin endpoint (dashboard, `xnat status`); absent means no admin endpoint. */
export interface AdminProfile {
  /** Default 127.0.0.1:7001 (relay) or 127.0.0.1:7002 (agent); port 0 = any. */
  readonly listen: HostPort;
  /** Shared secret of at least 16 characters; XNAT_ADMIN_TOKEN overrides. Secret. */
  readonly token: string;
}

/** The Prometheus endpoint; absent means no metrics endpoint. */
export interface MetricsProfile {
  /** Default 127.0.0.1:9100 (relay) or 127.0.0.1:9101 (agent); port 0 = any. */
  readonly listen: HostPort;
}

/** The relay's own settings (`relay:` block). */
export interface RelaySettings {
  /** Where agents connect; default 0.0.0.0:7000; port 0 = any (tests). */
  readonly listen: HostPort;
  /** The relay's static X25519 private key, 32 bytes. Secret. */
  readonly privateKey: Buffer;
  readonly privateKeySource: PrivateKeySource;
  /** How long a detached session is kept, in ms; default 120 000, 1 s..24 h. */
  readonly resumeWindowMs: number;
  /** Address public mapping listeners bind to; default 0.0.0.0. */
  readonly publicHost: string;
  /** Deadline of a link handshake, in ms; default 10 000, 100 ms..5 min. */
  readonly handshakeTimeoutMs: number;
  /** Cap on unfinished handshakes at once; default 64, 1..65535. */
  readonly maxPendingHandshakes: number;
  /** Cap on unfinished handshakes of strangers from one source address (IPv6: /64); default 8, 1..65535. */
  readonly maxPendingHandshakesPerSource: number;
  /** Deadline of the preface and message 1 after accept, in ms; default 3 000, 100 ms..5 min. */
  readonly firstMessageTimeoutMs: number;
  /** Suites agents may use; default both. An agent proposing another is refused (XNAT_ERR_LINK_SUITE_REFUSED). */
  readonly cipherSuites: readonly CipherSuiteName[];
}

/**
 * A bandwidth limit (a token bucket per direction): `up` is visitor -> LAN service, `down` the reverse,
 * in bytes per second; `burst` bytes may pass at once after a quiet spell (default a quarter second of
 * the rate, at least 64 KiB). A direction without a rate is not limited.
 */
export interface BandwidthLimit {
  readonly upBytesPerSec?: number;
  readonly downBytesPerSec?: number;
  readonly burstBytes?: number;
}

/** One agent the relay accepts (`agents[]`). */
export interface AgentEntry {
  /** Unique, [a-z0-9-]{1,32}. */
  readonly name: string;
  /** The agent's static X25519 public key, 32 bytes; unique. */
  readonly publicKey: Buffer;
  /** Optional pre-shared key, 32 bytes. Secret. */
  readonly psk: Buffer | undefined;
  /** Ports and protocols the agent may claim; at least one entry. */
  readonly allow: readonly PortRange[];
  /** The agent's total over all its tcp mappings, enforced by the relay; default none. */
  readonly bandwidth?: BandwidthLimit;
  /** Reverse mode: the relay dials the agent at this `host:port` (the agent's relays[].listen); default none. */
  readonly dial?: HostPort;
}

/** A CIDR block of a visitor rule; one address is a /32 or /128. */
export interface CidrBlock {
  /** As the profile wrote it, for messages and status. */
  readonly text: string;
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/** New connections a visitor source may open; beyond it the source is banned for `banMs`. */
export interface RateLimit {
  /** Connections allowed per `perMs` (a token bucket: `connections` at once, refilled over `perMs`). */
  readonly connections: number;
  readonly perMs: number;
  /** Default 60 s, 1 s..24 h. */
  readonly banMs: number;
}

/** Rules on visitors' addresses (IPv4: the address, IPv6: its /64 count as one source). */
export interface VisitorRules {
  /** When present, only these blocks may visit. */
  readonly allow?: readonly CidrBlock[];
  /** These never may (deny wins over allow). */
  readonly deny?: readonly CidrBlock[];
  /** Open connections (tcp) of one source at once. */
  readonly maxConnectionsPerSource?: number;
  readonly rate?: RateLimit;
}

/** Rules of one mapping, by name (any agent serving it). */
export interface MappingVisitorRules extends VisitorRules {
  readonly name: string;
  /** Open visitor connections of the mapping at once. */
  readonly maxConnections?: number;
}

/** The relay's `visitors:` block: relay-wide rules (every mapping) and per-mapping ones. */
export interface VisitorsProfile extends VisitorRules {
  readonly mappings: readonly MappingVisitorRules[];
}

/** A parsed relay profile. */
export interface RelayProfile {
  readonly kind: 'relay';
  /** The file (or label) the profile was read from, for messages. */
  readonly source: string;
  readonly relay: RelaySettings;
  /** Default: none (then every agent is refused). */
  readonly agents: readonly AgentEntry[];
  /** Who may visit; absent: everyone, no caps. */
  readonly visitors?: VisitorsProfile;
  /** The redial pace towards agents with `dial` (reverse mode); defaults as the agent's. */
  readonly reconnect?: RelayReconnectProfile;
  readonly admin: AdminProfile | undefined;
  readonly metrics: MetricsProfile | undefined;
  readonly tuning: Tuning;
  readonly log: LogProfile;
  /** Loaded, but unsafe: e.g. a file holding a secret that other users may read. Absent when none. */
  readonly warnings?: readonly string[];
}

/** The agent's own settings (`agent:` block). */
export interface AgentSettings {
  /** [a-z0-9-]{1,32}; shown by the relay and the dashboard. */
  readonly name: string;
  /** The agent's static X25519 private key, 32 bytes. Secret. */
  readonly privateKey: Buffer;
  readonly privateKeySource: PrivateKeySource;
}

/** One relay of the agent (`relays[]`): the agent dials it, or in reverse mode it dials the agent. */
export interface RelayEntry {
  /**
   * host:port of the relay; port 1..65535. Absent only in reverse mode, where it serves the UDP path and
   * the public addresses shown, never a TCP dial.
   */
  readonly address: HostPort | undefined;
  /** `dial` (default): the agent dials `address`; `reverse`: the relay dials the agent at `listen`. */
  readonly mode: 'dial' | 'reverse';
  /** Reverse mode: where the agent listens for the relay's links; port 0 = any free port. */
  readonly listen?: HostPort;
  /** The relay's static X25519 public key, 32 bytes. */
  readonly publicKey: Buffer;
  /** Optional pre-shared key, 32 bytes. Secret. */
  readonly psk: Buffer | undefined;
}

/**
 * One public port of one protocol. A profile entry with a port range, `tcp+udp` or a preset becomes
 * several (mapping-expand.ts); consumers only ever see single mappings.
 */
interface MappingBase {
  /**
   * Unique: the entry's name ([a-z0-9-]{1,32}), or `NAME.PORT.PROTOCOL` (up to 42 characters) for each
   * mapping of an entry with a range or `tcp+udp`.
   */
  readonly name: string;
  /** Public port on the relay, 0..65535; 0 = the relay picks a free allowed port. */
  readonly remotePort: number;
  /** The LAN target; port 1..65535. Absent for a handler mapping. */
  readonly local: HostPort | undefined;
  /** The in-process service serving this mapping (an embedder's `agent.serve(name, ...)`); absent for a LAN target. */
  readonly handler?: string | undefined;
  /**
   * Share of new visitors when several agents serve the mapping: the relay picks the least
   * (open visitors + 1) / weight; default 1, 1..1000 (the seed's MaxWorkload).
   */
  readonly weight?: number;
  /**
   * The agent writes a PROXY protocol header (HAProxy's spec) with the visitor's address to the LAN
   * service: before the first byte of each tcp connection, before every udp datagram (v2 only); default none.
   */
  readonly proxyProtocol?: 'v1' | 'v2';
  /** tcp: the limit of this mapping's visitors together, enforced by the agent; default none. */
  readonly bandwidth?: BandwidthLimit;
  /**
   * tcp: `deflate` compresses the mapping's bytes between relay and agent (zlib per stream, both ends);
   * default none. Off for TLS or already-compressed traffic, see docs/security.md.
   */
  readonly compress?: 'deflate';
}

/** A TCP mapping. */
export interface TcpMapping extends MappingBase {
  readonly protocol: 'tcp';
  /** A visitor connection that moves no byte either way this long is reset, in ms; default 1 h, 1 s..24 h. */
  readonly idleTimeoutMs: number;
}

/** A UDP mapping. */
export interface UdpMapping extends MappingBase {
  readonly protocol: 'udp';
  /** A flow idle this long is dropped, in ms; default 60 000, 1 s..24 h. */
  readonly idleTimeoutMs: number;
}

export type MappingProfile = TcpMapping | UdpMapping;

/** The agent's redial policy. */
export interface ReconnectProfile {
  /** First redial delay in ms; default 200, 10 ms..60 s. */
  readonly initialDelayMs: number;
  /** Cap of any redial delay in ms; default 10 000, initialDelayMs..10 min. */
  readonly maxDelayMs: number;
  /**
   * Wait before opening a new session after another agent with the same key replaced ours, in ms;
   * doubles per replacement up to 10 x; default 30 000, 100 ms..1 h.
   */
  readonly replacedDelayMs: number;
  /**
   * Wait before redialing after the relay refused our key or psk (XNAT_ERR_AUTH_), in ms; doubles per
   * refusal up to 5 x; default 60 000, 100 ms..1 h.
   */
  readonly authRetryDelayMs: number;
}

/** The relay's redial pace towards reverse-mode agents (`reconnect:`); ReconnectProfile's meanings. */
export type RelayReconnectProfile = Omit<ReconnectProfile, 'replacedDelayMs'>;

/** A parsed agent profile. */
export interface AgentProfile {
  readonly kind: 'agent';
  readonly source: string;
  readonly agent: AgentSettings;
  /** At least one. */
  readonly relays: readonly RelayEntry[];
  /** At least one. */
  readonly mappings: readonly MappingProfile[];
  readonly reconnect: ReconnectProfile;
  readonly admin: AdminProfile | undefined;
  readonly metrics: MetricsProfile | undefined;
  readonly tuning: AgentTuning;
  readonly log: LogProfile;
  /** Loaded, but unsafe: e.g. a file holding a secret that other users may read. Absent when none. */
  readonly warnings?: readonly string[];
}

export type Profile = RelayProfile | AgentProfile;
