// Checks across values of a schema-valid profile, env overrides and key files; builds the final profile.
// It knows nothing of YAML parsing; it reports through ProfileSource so every problem carries its line.
import { resolve } from 'node:path';
import { XnatError } from '../errors.ts';
import { decodeKey32 } from '../util/bytes.ts';
import { formatHostPort, isWildcardHost, type HostPort } from '../util/ports.ts';
import type { RawAgentProfile, RawRelayProfile } from './schema.ts';
import { entryName, expandMappings, toBandwidth } from './mapping-expand.ts';
import { formatPath, type ProfileIssue, type ProfileSource } from './source.ts';
import { MAX_ADMIN_TOKEN_CHARS, MIN_ADMIN_TOKEN_CHARS } from './limits.ts';
import { readBoundedFile } from './read-file.ts';
import { openFileWarning, openToOthers } from './warnings.ts';
import type {
  AdminProfile,
  AgentProfile,
  PrivateKeySource,
  RelayProfile,
  Tuning,
  VisitorRules,
  VisitorsProfile,
} from './types.ts';

/** Environment variable that replaces the profile's own private key (base64). */
export const ENV_PRIVATE_KEY = 'XNAT_PRIVATE_KEY';
/** Environment variable that replaces admin.token. */
export const ENV_ADMIN_TOKEN = 'XNAT_ADMIN_TOKEN';
/** Largest private key file read, in bytes: a key is 44 characters; anything far bigger is the wrong file. */
export const MAX_KEY_FILE_BYTES = 4096;

/** What the checks need beyond the parsed values. */
export interface CheckContext {
  readonly src: ProfileSource;
  readonly env: NodeJS.ProcessEnv;
  /** Warnings collected on the way (a key file others may read); the profile carries them. */
  readonly warnings: string[];
  /** Folder that relative `privateKeyFile` paths start from. */
  readonly baseDir: string;
}

type Path = readonly PropertyKey[];

/** An env var counts only when set and non-empty (`VAR= cmd` is a common way to unset). */
function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

function resolvePrivateKey(
  own: { privateKey?: Buffer | undefined; privateKeyFile?: string | undefined },
  at: string,
  ctx: CheckContext,
  issues: ProfileIssue[],
): { key: Buffer; source: PrivateKeySource } | undefined {
  if (own.privateKey && own.privateKeyFile !== undefined)
    issues.push({ path: [at, 'privateKeyFile'], message: 'set privateKey or privateKeyFile, not both' });
  const fromEnv = envValue(ctx.env, ENV_PRIVATE_KEY);
  if (fromEnv !== undefined) {
    const key = decodeKey32(fromEnv);
    if (!key) {
      issues.push({
        path: [ENV_PRIVATE_KEY],
        env: true,
        keyText: true,
        message: 'must be base64 of 32 bytes',
      });
      return undefined;
    }
    return { key, source: 'env' };
  }
  if (own.privateKey) return { key: own.privateKey, source: 'profile' };
  if (own.privateKeyFile !== undefined) {
    const path: Path = [at, 'privateKeyFile'];
    const file = resolve(ctx.baseDir, own.privateKeyFile);
    const r = readBoundedFile(file, MAX_KEY_FILE_BYTES);
    if (!r.ok) {
      const line = ctx.src.lineOf(path);
      const where = `${ctx.src.name}${line === undefined ? '' : `:${line}`} ${formatPath(path)}`;
      if (r.kind === 'not-file')
        throw new XnatError('XNAT_ERR_CONFIG_NOT_FILE', { detail: `${where}: ${file} is ${r.what}` });
      if (r.kind === 'too-large')
        throw new XnatError('XNAT_ERR_CONFIG_TOO_LARGE', {
          detail: `${where}: ${file} is larger than ${MAX_KEY_FILE_BYTES} bytes`,
        });
      throw new XnatError('XNAT_ERR_CONFIG_READ', {
        detail: `${where}: cannot read ${file}`,
        cause: r.cause,
      });
    }
    if (openToOthers(r.mode)) ctx.warnings.push(openFileWarning(file, r.mode, 'a private key'));
    const text = r.bytes.toString('utf8');
    const key = decodeKey32(text);
    if (!key) {
      issues.push({ path, keyText: true, message: 'the file must hold base64 of 32 bytes' });
      return undefined;
    }
    return { key, source: 'file' };
  }
  issues.push({ path: [at, 'privateKey'], message: `required (or privateKeyFile, or ${ENV_PRIVATE_KEY})` });
  return undefined;
}

function resolveAdmin(
  raw: { listen: HostPort; token?: string | undefined } | undefined,
  ctx: CheckContext,
  issues: ProfileIssue[],
): AdminProfile | undefined {
  if (!raw) return undefined;
  const fromEnv = envValue(ctx.env, ENV_ADMIN_TOKEN);
  const token = fromEnv ?? raw.token;
  const path: Path = fromEnv !== undefined ? [ENV_ADMIN_TOKEN] : ['admin', 'token'];
  const env = fromEnv !== undefined;
  if (token === undefined) {
    issues.push({ path, message: `required (or set ${ENV_ADMIN_TOKEN})` });
  } else if (token.length < MIN_ADMIN_TOKEN_CHARS) {
    issues.push({ path, env, message: `must be at least ${MIN_ADMIN_TOKEN_CHARS} characters` });
  } else if (token.length > MAX_ADMIN_TOKEN_CHARS) {
    issues.push({ path, env, message: `must be at most ${MAX_ADMIN_TOKEN_CHARS} characters` });
  }
  return { listen: raw.listen, token: token ?? '' };
}

function toTuning(raw: RawRelayProfile['tuning'], issues: ProfileIssue[]): Tuning {
  if (raw.keepaliveTimeout <= raw.keepaliveInterval)
    issues.push({
      path: ['tuning', 'keepaliveTimeout'],
      message: 'must be longer than tuning.keepaliveInterval',
    });
  return {
    replayBufferBytes: raw.replayBuffer,
    streamWindowBytes: raw.streamWindow,
    sessionWindowBytes: raw.sessionWindow,
    maxStreams: raw.maxStreams,
    keepaliveIntervalMs: raw.keepaliveInterval,
    keepaliveTimeoutMs: raw.keepaliveTimeout,
    cipherBackend: raw.cipherBackend,
    maxFlows: raw.maxFlows,
    maxFlowsPerMapping: raw.maxFlowsPerMapping,
    maxFlowsPerSource: raw.maxFlowsPerSource,
    udpPath: raw.udpPath,
    udpPathKeepaliveMs: raw.udpPathKeepalive,
  };
}

/** Flags a later entry whose `keyOf` equals an earlier one's. */
function duplicates<T>(
  items: readonly T[],
  keyOf: (item: T) => string | undefined,
  pathOf: (i: number) => Path,
  what: string,
  issues: ProfileIssue[],
): void {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const key = keyOf(item);
    if (key === undefined) return;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, i);
    else issues.push({ path: pathOf(i), message: `${what} as entry [${first}]` });
  });
}

/** Two listeners clash when they share a non-zero port and their hosts overlap. */
function listenClashes(listens: readonly { path: Path; at: HostPort }[], issues: ProfileIssue[]): void {
  for (let i = 0; i < listens.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = listens[j]!;
      const b = listens[i]!;
      if (b.at.port === 0 || a.at.port !== b.at.port) continue;
      if (a.at.host === b.at.host || isWildcardHost(a.at.host) || isWildcardHost(b.at.host))
        issues.push({ path: b.path, message: `port ${b.at.port} is also used by ${formatPath(a.path)}` });
    }
  }
}

function listensOf(raw: {
  admin?: { listen: HostPort } | undefined;
  metrics?: { listen: HostPort } | undefined;
}) {
  const out: { path: Path; at: HostPort }[] = [];
  if (raw.admin) out.push({ path: ['admin', 'listen'], at: raw.admin.listen });
  if (raw.metrics) out.push({ path: ['metrics', 'listen'], at: raw.metrics.listen });
  return out;
}

type RawRules = Omit<NonNullable<RawRelayProfile['visitors']>, 'mappings'>;

function toRules(r: RawRules): VisitorRules {
  return {
    ...(r.allow ? { allow: r.allow } : {}),
    ...(r.deny ? { deny: r.deny } : {}),
    ...(r.maxConnectionsPerSource !== undefined
      ? { maxConnectionsPerSource: r.maxConnectionsPerSource }
      : {}),
    ...(r.rate ? { rate: { connections: r.rate.connections, perMs: r.rate.per, banMs: r.rate.ban } } : {}),
  };
}

function toVisitors(raw: NonNullable<RawRelayProfile['visitors']>): VisitorsProfile {
  return {
    ...toRules(raw),
    mappings: raw.mappings.map((m) => ({
      name: m.name,
      ...toRules(m),
      ...(m.maxConnections !== undefined ? { maxConnections: m.maxConnections } : {}),
    })),
  };
}

/** Builds a RelayProfile from schema-valid data, or throws with every problem found. */
export function buildRelayProfile(raw: RawRelayProfile, ctx: CheckContext): RelayProfile {
  const issues: ProfileIssue[] = [];
  const key = resolvePrivateKey(raw.relay, 'relay', ctx, issues);
  const admin = resolveAdmin(raw.admin, ctx, issues);
  const tuning = toTuning(raw.tuning, issues);
  duplicates(
    raw.agents,
    (a) => a.name,
    (i) => ['agents', i, 'name'],
    'same name',
    issues,
  );
  duplicates(
    raw.agents,
    (a) => a.publicKey.toString('base64'),
    (i) => ['agents', i, 'publicKey'],
    'same key',
    issues,
  );
  const listens = [{ path: ['relay', 'listen'], at: raw.relay.listen }, ...listensOf(raw)];
  listenClashes(listens, issues);
  // A mapping listener on publicHost must not land on one of the relay's own TCP ports, nor a UDP
  // mapping on the control port's number while the UDP path listens there.
  const pub = raw.relay.publicHost;
  const udpPathOn = raw.tuning.udpPath !== 'off';
  raw.agents.forEach((agent, i) => {
    // An entry is one range, or two for tcp+udp; paths name the entry as written.
    agent.allow.forEach((entry, j) => {
      for (const r of entry)
        for (const l of listens) {
          const overlaps = l.at.host === pub || isWildcardHost(pub) || isWildcardHost(l.at.host);
          const mine = r.protocol === 'tcp' || (udpPathOn && l === listens[0] && l.at.port !== 0);
          if (mine && overlaps && l.at.port >= r.from && l.at.port <= r.to)
            issues.push({
              path: ['agents', i, 'allow', j],
              message: `covers ${formatPath(l.path)} ${formatHostPort(l.at)}`,
            });
        }
    });
  });
  duplicates(
    raw.agents,
    (a) => (a.dial ? formatHostPort(a.dial).toLowerCase() : undefined),
    (i) => ['agents', i, 'dial'],
    'same dial address',
    issues,
  );
  if (raw.reconnect.maxDelay < raw.reconnect.initialDelay)
    issues.push({
      path: ['reconnect', 'maxDelay'],
      message: 'must not be shorter than reconnect.initialDelay',
    });
  if (raw.visitors)
    duplicates(
      raw.visitors.mappings,
      (m) => m.name,
      (i) => ['visitors', 'mappings', i, 'name'],
      'same name',
      issues,
    );
  if (issues.length > 0 || !key) throw ctx.src.toError(issues);
  return {
    kind: 'relay',
    source: ctx.src.name,
    relay: {
      listen: raw.relay.listen,
      privateKey: key.key,
      privateKeySource: key.source,
      resumeWindowMs: raw.relay.resumeWindow,
      publicHost: raw.relay.publicHost,
      handshakeTimeoutMs: raw.relay.handshakeTimeout,
      maxPendingHandshakes: raw.relay.maxPendingHandshakes,
      maxPendingHandshakesPerSource: raw.relay.maxPendingHandshakesPerSource,
      firstMessageTimeoutMs: raw.relay.firstMessageTimeout,
      // Duplicates are harmless; kept once each, in the profile's order.
      cipherSuites: [...new Set(raw.relay.cipherSuites)],
    },
    agents: raw.agents.map((a) => ({
      name: a.name,
      publicKey: a.publicKey,
      psk: a.psk,
      allow: a.allow.flat(),
      ...(a.bandwidth ? { bandwidth: toBandwidth(a.bandwidth) } : {}),
      ...(a.dial ? { dial: a.dial } : {}),
    })),
    ...(raw.visitors ? { visitors: toVisitors(raw.visitors) } : {}),
    reconnect: {
      initialDelayMs: raw.reconnect.initialDelay,
      maxDelayMs: raw.reconnect.maxDelay,
      authRetryDelayMs: raw.reconnect.authRetryDelay,
    },
    admin,
    metrics: raw.metrics,
    tuning,
    log: raw.log,
  };
}

/**
 * The keys of one relay entry that only make sense together: `dial` needs `address`, `reverse` needs
 * `listen`, and `listen` means nothing without `reverse` (a typo there would leave the agent dialing).
 */
function relayModeIssues(r: RawAgentProfile['relays'][number], i: number, issues: ProfileIssue[]): void {
  if (r.mode === 'reverse') {
    if (!r.listen)
      issues.push({
        path: ['relays', i, 'listen'],
        message: 'required with mode: reverse (the host:port this agent listens on for the relay to dial)',
      });
    return;
  }
  if (r.listen)
    issues.push({
      path: ['relays', i, 'listen'],
      message: 'only with mode: reverse (the relay dials it); set mode: reverse or remove listen',
    });
  if (!r.address)
    issues.push({
      path: ['relays', i, 'address'],
      message: "required (the relay's host:port), unless mode: reverse",
    });
}

/** Builds an AgentProfile from schema-valid data, or throws with every problem found. */
export function buildAgentProfile(raw: RawAgentProfile, ctx: CheckContext): AgentProfile {
  const issues: ProfileIssue[] = [];
  const key = resolvePrivateKey(raw.agent, 'agent', ctx, issues);
  const admin = resolveAdmin(raw.admin, ctx, issues);
  const tuning = { ...toTuning(raw.tuning, issues), cipher: raw.tuning.cipher };
  duplicates(
    raw.relays,
    (r) => (r.address ? formatHostPort(r.address).toLowerCase() : undefined),
    (i) => ['relays', i, 'address'],
    'same address',
    issues,
  );
  raw.relays.forEach((r, i) => relayModeIssues(r, i, issues));
  duplicates(raw.mappings, entryName, (i) => ['mappings', i, 'name'], 'same name', issues);
  // Presets, ranges and tcp+udp become one mapping per port and protocol; overlaps are found there.
  const mappings = expandMappings(raw.mappings, issues);
  if (raw.reconnect.maxDelay < raw.reconnect.initialDelay)
    issues.push({
      path: ['reconnect', 'maxDelay'],
      message: 'must not be shorter than reconnect.initialDelay',
    });
  // A reverse relay's listen port must not clash with another's, nor with admin or metrics.
  const reverseListens = raw.relays.flatMap((r, i) =>
    r.mode === 'reverse' && r.listen ? [{ path: ['relays', i, 'listen'], at: r.listen }] : [],
  );
  listenClashes([...reverseListens, ...listensOf(raw)], issues);
  if (issues.length > 0 || !key) throw ctx.src.toError(issues);
  return {
    kind: 'agent',
    source: ctx.src.name,
    agent: { name: raw.agent.name, privateKey: key.key, privateKeySource: key.source },
    relays: raw.relays.map((r) => ({
      address: r.address,
      publicKey: r.publicKey,
      psk: r.psk,
      mode: r.mode,
      ...(r.mode === 'reverse' && r.listen ? { listen: r.listen } : {}),
    })),
    mappings,
    reconnect: {
      initialDelayMs: raw.reconnect.initialDelay,
      maxDelayMs: raw.reconnect.maxDelay,
      replacedDelayMs: raw.reconnect.replacedDelay,
      authRetryDelayMs: raw.reconnect.authRetryDelay,
    },
    admin,
    metrics: raw.metrics,
    tuning,
    log: raw.log,
  };
}
