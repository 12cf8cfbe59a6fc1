// The zod schemas of relay and agent profiles: every key, its type, range and default, one value at a time.
// Checks across values (duplicates, key sources, env overrides, port clashes) live in checks.ts.
import * as z from 'zod';
import {
  allowEntry,
  block,
  cidr,
  duration,
  entryProtocol,
  host,
  hostPort,
  int,
  keyText,
  list,
  localTarget,
  name,
  portSpan,
  presetName,
  size,
  strict,
  typeError,
} from './fields.ts';

const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;

/** Default relay port agents dial. */
export const DEFAULT_RELAY_PORT = 7000;

/** The cipher suites of links, as profiles name them (docs/profiles.md). */
export const CIPHER_SUITE_NAMES = ['aes-256-gcm', 'chacha20-poly1305'] as const;
const cipherSuite = () =>
  z.enum(CIPHER_SUITE_NAMES, { error: typeError('aes-256-gcm or chacha20-poly1305') });

// Every schema is built when a profile is parsed, one kind at a time, and dropped after: a zod schema
// costs CPU to construct (`xnat check` or a relay needs one kind only) and memory to keep (about 0.4 MiB
// per kind, for a daemon that parses at start and on reload only). Issue 10: start-up and footprint.

const tuningShape = () => ({
  replayBuffer: size(64 * KiB, GiB).default(8 * MiB),
  streamWindow: size(16 * KiB, 16 * MiB).default(256 * KiB),
  // How far all streams' windows may grow together (mux SESSION_WINDOW_BUDGET_BYTES): the memory bound.
  sessionWindow: size(MiB, GiB).default(16 * MiB),
  maxStreams: int(1, 65_536).default(4096),
  keepaliveInterval: duration(100, MINUTE_MS).default(SECOND_MS),
  // 2 s (two missed pings; never below 4 x the link's smoothed RTT): a dead link is declared within 3 s,
  // well inside the 5 s a user tolerates before a game client gives up (docs/operations.md).
  keepaliveTimeout: duration(500, 5 * MINUTE_MS).default(2 * SECOND_MS),
  // UDP flow caps (docs/security.md): agent, LAN sockets per session; relay, per mapping and per visitor address.
  maxFlows: int(1, 65_536).default(4096),
  maxFlowsPerMapping: int(1, 1_048_576).default(4096),
  maxFlowsPerSource: int(1, 65_536).default(64),
  // The UDP path for datagrams (docs/protocol.md, "UDP path"): auto = use it when probes get through.
  udpPath: z.enum(['auto', 'off'], { error: typeError('auto or off') }).default('auto'),
  // Agent: keepalive of the UDP path (and its re-probe while on the TCP lane); 15 s keeps home NATs open.
  udpPathKeepalive: duration(SECOND_MS, 5 * MINUTE_MS).default(15 * SECOND_MS),
  // The implementation of the suite's AEAD; the suite itself is the agent's tuning.cipher.
  cipherBackend: z
    .enum(['auto', 'node', 'noble'], { error: typeError('one of auto, node, noble') })
    .default('auto'),
});
const relayTuning = () =>
  strict({
    ...tuningShape(),
    // Before suites, tuning.cipher named the backend on both sides; say where it went instead of "unknown key".
    cipher: z
      .unknown()
      .optional()
      .superRefine((value, ctx) => {
        if (value !== undefined)
          ctx.addIssue({
            code: 'custom',
            message:
              'is agent only; on a relay use tuning.cipherBackend (implementation) or relay.cipherSuites',
          });
      }),
  });
const agentTuning = () =>
  strict({
    ...tuningShape(),
    // The suite the agent proposes; auto = AES-256-GCM where the CPU has AES instructions, else ChaCha20.
    cipher: z
      .enum(['auto', ...CIPHER_SUITE_NAMES], {
        error: typeError('one of auto, aes-256-gcm, chacha20-poly1305 (the backend is tuning.cipherBackend)'),
      })
      .default('auto'),
  });

const log = () =>
  strict({
    level: z
      .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal'], {
        error: typeError('one of trace, debug, info, warn, error, fatal'),
      })
      .default('info'),
  });

function admin(defaultPort: number) {
  return strict({
    listen: hostPort(true).default({ host: '127.0.0.1', port: defaultPort }),
    // Optional here: XNAT_ADMIN_TOKEN may supply it; checks.ts enforces presence and length after overrides.
    token: z.string({ error: typeError('a string') }).optional(),
  });
}

function metrics(defaultPort: number) {
  return strict({ listen: hostPort(true).default({ host: '127.0.0.1', port: defaultPort }) });
}

/** Key material of one side: inline text or a file; XNAT_PRIVATE_KEY may replace both (checks.ts). */
const ownKey = () => ({
  privateKey: keyText().optional(),
  privateKeyFile: z
    .string({ error: typeError('a file path') })
    .min(1, 'must not be empty')
    .optional(),
});

const sharedBlocks = <T extends z.ZodType>(adminPort: number, metricsPort: number, tuning: T) => ({
  admin: block(admin(adminPort)).optional(),
  metrics: block(metrics(metricsPort)).optional(),
  tuning: block(tuning).prefault({}),
  log: block(log()).prefault({}),
});

// Bandwidth limits in bytes per second (docs/profiles.md, "bandwidth"): up is visitor -> LAN service.
const bandwidth = () =>
  strict({
    up: size(KiB, 100 * GiB).optional(),
    down: size(KiB, 100 * GiB).optional(),
    burst: size(16 * KiB, GiB).optional(),
  });

// Who may visit (docs/security.md, "Who may visit"): relay-wide rules and per-mapping ones, by name.
const rate = () =>
  strict({
    connections: int(1, 1_000_000),
    per: duration(100, HOUR_MS),
    ban: duration(SECOND_MS, 24 * HOUR_MS).default(MINUTE_MS),
  });
const visitorRules = () => ({
  allow: list(cidr(), 0).optional(),
  deny: list(cidr(), 0).optional(),
  maxConnectionsPerSource: int(1, 1_000_000).optional(),
  rate: block(rate()).optional(),
});
const visitors = () =>
  strict({
    ...visitorRules(),
    mappings: list(
      strict({ name: name(), ...visitorRules(), maxConnections: int(1, 1_000_000).optional() }),
      0,
    ).default([]),
  });

const buildRelaySchema = () =>
  strict({
    relay: block(
      strict({
        listen: hostPort(true).default({ host: '0.0.0.0', port: DEFAULT_RELAY_PORT }),
        ...ownKey(),
        resumeWindow: duration(SECOND_MS, 24 * HOUR_MS).default(120 * SECOND_MS),
        publicHost: host().default('0.0.0.0'),
        handshakeTimeout: duration(100, 5 * MINUTE_MS).default(10 * SECOND_MS),
        maxPendingHandshakes: int(1, 65_535).default(64),
        maxPendingHandshakesPerSource: int(1, 65_535).default(8),
        firstMessageTimeout: duration(100, 5 * MINUTE_MS).default(3 * SECOND_MS),
        cipherSuites: list(cipherSuite(), 1).default([...CIPHER_SUITE_NAMES]),
      }),
    ),
    agents: list(
      strict({
        name: name(),
        publicKey: keyText(),
        psk: keyText().optional(),
        allow: list(allowEntry(), 1),
        // The agent's total over all its mappings, enforced by the relay.
        bandwidth: block(bandwidth()).optional(),
        // Reverse mode (docs/operations.md): the relay dials the agent here, the agent's relays[].listen.
        dial: hostPort(false).optional(),
      }),
      0,
    ).default([]),
    visitors: block(visitors()).optional(),
    // The relay's redial pace towards agents with `dial` (the agent's own keys, without replacedDelay).
    reconnect: block(
      strict({
        initialDelay: duration(10, MINUTE_MS).default(200),
        maxDelay: duration(100, 10 * MINUTE_MS).default(10 * SECOND_MS),
        authRetryDelay: duration(100, HOUR_MS).default(MINUTE_MS),
      }),
    ).prefault({}),
    ...sharedBlocks(7001, 9100, relayTuning()),
  });
/** The relay profile's schema, built afresh by each call. */
export const relaySchema = buildRelaySchema;

// One mapping entry; ranges, tcp+udp and presets expand into mappings in mapping-expand.ts, which also
// supplies the defaults (they depend on the preset and the protocol) and requires name, remotePort, local.
const mapping = () =>
  strict({
    name: name().optional(),
    preset: presetName().optional(),
    protocol: entryProtocol().optional(),
    remotePort: portSpan().optional(),
    local: localTarget().optional(),
    // Instead of local: a service inside the embedding process (src/api/, agent.serve).
    handler: name().optional(),
    idleTimeout: duration(SECOND_MS, 24 * HOUR_MS).optional(),
    // Share of new visitors against other agents serving the same mapping (weighted least-loaded).
    weight: int(1, 1000).optional(),
    // The agent writes a PROXY protocol header to the LAN service first (v1: tcp only; checks.ts).
    proxyProtocol: z.enum(['v1', 'v2'], { error: typeError('v1 or v2') }).optional(),
    // tcp: enforced by the agent for this mapping's visitors together.
    bandwidth: block(bandwidth()).optional(),
    // tcp: deflate between relay and agent (docs/security.md: not for TLS or compressed data).
    compress: z.enum(['none', 'deflate'], { error: typeError('none or deflate') }).optional(),
  });

const buildAgentSchema = () =>
  strict({
    agent: block(strict({ name: name(), ...ownKey() })),
    relays: list(
      strict({
        // Required unless mode is reverse (checks.ts): then it only serves the UDP path and shown addresses.
        address: hostPort(false).optional(),
        publicKey: keyText(),
        psk: keyText().optional(),
        // dial: the agent dials the relay; reverse: the relay dials the agent at `listen` (docs/operations.md).
        mode: z.enum(['dial', 'reverse'], { error: typeError('dial or reverse') }).default('dial'),
        listen: hostPort(true).optional(),
      }),
      1,
    ),
    mappings: list(mapping(), 1),
    reconnect: block(
      strict({
        initialDelay: duration(10, MINUTE_MS).default(200),
        maxDelay: duration(100, 10 * MINUTE_MS).default(10 * SECOND_MS),
        // Another agent with our key took the session: wait this long (doubling) before taking it back.
        replacedDelay: duration(100, HOUR_MS).default(30 * SECOND_MS),
        // The relay refused our key or psk: only an operator's change helps, so retry at minutes, not seconds.
        authRetryDelay: duration(100, HOUR_MS).default(MINUTE_MS),
      }),
    ).prefault({}),
    ...sharedBlocks(7002, 9101, agentTuning()),
  });
/** The agent profile's schema, built afresh by each call. */
export const agentSchema = buildAgentSchema;

export type RawRelayProfile = z.output<ReturnType<typeof buildRelaySchema>>;
export type RawAgentProfile = z.output<ReturnType<typeof buildAgentSchema>>;
/** A relay profile as plain data, shaped like its YAML (what an embedder passes to createRelay). */
export type RelayProfileInput = z.input<ReturnType<typeof buildRelaySchema>>;
/** An agent profile as plain data, shaped like its YAML (what an embedder passes to createAgent). */
export type AgentProfileInput = z.input<ReturnType<typeof buildAgentSchema>>;

/** Default flow idle timeout of a udp mapping, in ms. */
export const DEFAULT_UDP_IDLE_TIMEOUT_MS = 60 * SECOND_MS;
/**
 * Default idle timeout of a tcp mapping's visitor connections, in ms: an hour frees what abandoned
 * connections hold, while an idle terminal or a quiet game lobby lives on; web mappings want minutes.
 */
export const DEFAULT_TCP_IDLE_TIMEOUT_MS = HOUR_MS;
