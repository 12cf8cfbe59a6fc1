// Relay and agent profiles for end-to-end tests: fresh keys, loopback addresses, port 0 and short timings
// where a test asks for them. It renders YAML only; starting processes is cluster.ts's job.
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { encodeKey, generateKeyPair, type KeyPair } from '../../../src/crypto/keys.ts';

/** A key pair with its base64 texts, as profiles write them. */
export interface Keys {
  readonly pair: KeyPair;
  readonly privateKey: string;
  readonly publicKey: string;
}

export function makeKeys(): Keys {
  const pair = generateKeyPair();
  return { pair, privateKey: encodeKey(pair.privateKey), publicKey: encodeKey(pair.publicKey) };
}

/** A fresh 32-byte psk as base64. */
export function makePsk(): string {
  return encodeKey(randomBytes(32));
}

/** Timings shortened for tests; each is a duration string such as '200ms' (see docs/profiles.md). */
export interface Timings {
  readonly keepaliveInterval?: string;
  readonly keepaliveTimeout?: string;
  /** tuning.maxStreams, small for tests of the stream cap. */
  readonly maxStreams?: number;
}

/** One agent entry of a relay profile. */
export interface RelayAgentSpec {
  readonly name: string;
  readonly publicKey: string;
  readonly psk?: string;
  /** Default: every unprivileged tcp port. */
  readonly allow?: readonly string[];
  /** Reverse mode: the relay dials the agent at this host:port. */
  readonly dial?: string;
}

export interface RelaySpec {
  readonly keys: Keys;
  readonly agents: readonly RelayAgentSpec[];
  /** Control port; default 0 (any). */
  readonly port?: number;
  /** Default '120s'. */
  readonly resumeWindow?: string;
  readonly admin?: { readonly port: number; readonly token: string };
  /** A metrics block on 127.0.0.1:port. */
  readonly metrics?: { readonly port: number };
  readonly tuning?: Timings;
  /** relay.cipherSuites; default absent (both suites). */
  readonly cipherSuites?: readonly string[];
}

/** Ports of the default allow list (the relay picks from it for remotePort 0). */
const ALLOW_FROM = 20000;
const ALLOW_TO = 60000;
/** Default allow list: a wide range of tcp ports. */
export const ALLOW_ALL_TCP = [`${ALLOW_FROM}-${ALLOW_TO}/tcp`] as const;

/**
 * The default allow range minus `ports` (the relay's own fixed control or admin ports: a profile whose
 * allow list covers them is invalid).
 */
export function allowAllExcept(...ports: number[]): string[] {
  const ranges: string[] = [];
  let from = ALLOW_FROM;
  for (const p of [...new Set(ports)].sort((a, b) => a - b)) {
    if (p < from || p > ALLOW_TO) continue;
    if (p > from) ranges.push(`${from}-${p - 1}/tcp`);
    from = p + 1;
  }
  if (from <= ALLOW_TO) ranges.push(`${from}-${ALLOW_TO}/tcp`);
  return ranges;
}

export function relayProfile(spec: RelaySpec): string {
  return stringify({
    relay: {
      listen: `127.0.0.1:${spec.port ?? 0}`,
      privateKey: spec.keys.privateKey,
      publicHost: '127.0.0.1',
      ...(spec.resumeWindow ? { resumeWindow: spec.resumeWindow } : {}),
      ...(spec.cipherSuites ? { cipherSuites: [...spec.cipherSuites] } : {}),
    },
    agents: spec.agents.map((a) => ({
      name: a.name,
      publicKey: a.publicKey,
      ...(a.psk ? { psk: a.psk } : {}),
      allow: [...(a.allow ?? allowAllExcept(spec.port ?? 0, spec.admin?.port ?? 0))],
      ...(a.dial ? { dial: a.dial } : {}),
    })),
    // Short, like the agents' (reverse mode: the relay redials).
    reconnect: { initialDelay: '50ms', maxDelay: '500ms' },
    ...(spec.admin ? { admin: { listen: `127.0.0.1:${spec.admin.port}`, token: spec.admin.token } } : {}),
    ...(spec.metrics ? { metrics: { listen: `127.0.0.1:${spec.metrics.port}` } } : {}),
    ...(spec.tuning ? { tuning: { ...spec.tuning } } : {}),
  });
}

/** One mapping of an agent profile. */
export interface MappingSpec {
  readonly name: string;
  /** Default 0: the relay picks a port. */
  readonly remotePort?: number;
  /** LAN target port on 127.0.0.1. */
  readonly localPort: number;
  /** mappings[].idleTimeout, e.g. '2s'. */
  readonly idleTimeout?: string;
}

export interface AgentSpec {
  readonly name: string;
  readonly keys: Keys;
  /** The relay's control port (or a fault proxy's port in front of it); unused with `reverse`. */
  readonly relayPort: number;
  /** Reverse mode: listen on 127.0.0.1 at this port (0: any; the `listening` line with what=reverse names it). */
  readonly reverse?: { readonly listenPort: number };
  readonly relayPublicKey: string;
  readonly psk?: string;
  readonly mappings: readonly MappingSpec[];
  /** Redial backoff; default short (50ms..500ms) so reconnects are quick in tests. */
  readonly reconnect?: {
    readonly initialDelay: string;
    readonly maxDelay: string;
    readonly replacedDelay?: string;
    /** reconnect.authRetryDelay: the slow pace after the relay refused the agent (default 1m). */
    readonly authRetryDelay?: string;
  };
  /** Timings, and tuning.cipher (the suite the agent proposes). */
  readonly tuning?: Timings & { readonly cipher?: string };
  readonly admin?: { readonly port: number; readonly token: string };
  /** A metrics block on 127.0.0.1:port. */
  readonly metrics?: { readonly port: number };
}

export function agentProfile(spec: AgentSpec): string {
  return stringify({
    agent: { name: spec.name, privateKey: spec.keys.privateKey },
    relays: [
      {
        ...(spec.reverse
          ? { mode: 'reverse', listen: `127.0.0.1:${spec.reverse.listenPort}` }
          : { address: `127.0.0.1:${spec.relayPort}` }),
        publicKey: spec.relayPublicKey,
        ...(spec.psk ? { psk: spec.psk } : {}),
      },
    ],
    mappings: spec.mappings.map((m) => ({
      name: m.name,
      protocol: 'tcp',
      remotePort: m.remotePort ?? 0,
      local: `127.0.0.1:${m.localPort}`,
      ...(m.idleTimeout ? { idleTimeout: m.idleTimeout } : {}),
    })),
    reconnect: spec.reconnect ?? { initialDelay: '50ms', maxDelay: '500ms' },
    ...(spec.admin ? { admin: { listen: `127.0.0.1:${spec.admin.port}`, token: spec.admin.token } } : {}),
    ...(spec.metrics ? { metrics: { listen: `127.0.0.1:${spec.metrics.port}` } } : {}),
    ...(spec.tuning ? { tuning: { ...spec.tuning } } : {}),
  });
}
