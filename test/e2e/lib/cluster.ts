// Starts real relay and agent processes from generated profiles and waits on their stable log lines
// (`listening`, `mapping ready`, ...). It knows the log vocabulary, not the internals behind it.
import type { LogLine, LogMatch, StartOptions, XnatProcess } from '../../helpers/procs.ts';
import { startFaultProxy, type FaultProxy } from '../../helpers/fault-proxy.ts';
import { WAIT_MS, type TestEnv } from './env.ts';
import {
  agentProfile,
  makeKeys,
  relayProfile,
  type AgentSpec,
  type Keys,
  type MappingSpec,
  type RelaySpec,
} from './profiles.ts';

export interface RelayHandle {
  readonly proc: XnatProcess;
  /** The control port from the relay's `listening` line. */
  readonly port: number;
  readonly profilePath: string;
}

export interface AgentHandle {
  readonly proc: XnatProcess;
  readonly profilePath: string;
}

/**
 * Writes the relay profile to `file` and starts `xnat relay` (`opts.script`: another build, such as the
 * single-file bundle); resolves once its control port listens.
 */
export async function startRelay(
  env: TestEnv,
  spec: RelaySpec,
  file = 'relay.yaml',
  opts: StartOptions = {},
): Promise<RelayHandle> {
  const profilePath = env.write(file, relayProfile(spec));
  const proc = env.start(['relay', '--profile', profilePath], { name: file, ...opts });
  const line = await proc.waitForLog({ msg: 'listening', what: 'control' }, WAIT_MS);
  return { proc, port: line.port as number, profilePath };
}

/** Restarts a relay from the profile it was started with; resolves once its control port listens. */
export async function restartRelay(
  env: TestEnv,
  relay: RelayHandle,
  name = 'relay (restarted)',
): Promise<RelayHandle> {
  const proc = env.start(['relay', '--profile', relay.profilePath], { name });
  const line = await proc.waitForLog({ msg: 'listening', what: 'control' }, WAIT_MS);
  return { proc, port: line.port as number, profilePath: relay.profilePath };
}

/** Writes the agent profile to `file` and starts `xnat agent` (without waiting: see mappingReady). */
export function startAgent(
  env: TestEnv,
  spec: AgentSpec,
  file = 'agent.yaml',
  opts: StartOptions = {},
): AgentHandle {
  const profilePath = env.write(file, agentProfile(spec));
  return { proc: env.start(['agent', '--profile', profilePath], { name: file, ...opts }), profilePath };
}

/** Restarts an agent from the profile it was started with (same key); the old process must be gone. */
export function restartAgent(env: TestEnv, agent: AgentHandle, name = 'agent (restarted)'): AgentHandle {
  return {
    proc: env.start(['agent', '--profile', agent.profilePath], { name }),
    profilePath: agent.profilePath,
  };
}

/** Resolves with the n-th line (1-based, seen or to come) that matches. */
export function waitForNth(proc: XnatProcess, match: Record<string, unknown>, n: number): Promise<LogLine> {
  const entries = Object.entries(match);
  let seen = 0;
  const test: LogMatch = (line) => entries.every(([k, v]) => line[k] === v) && ++seen >= n;
  return proc.waitForLog(test, WAIT_MS);
}

/** Waits for the n-th `mapping ready` of `mapping` in the agent's log; resolves with its public port. */
export async function mappingReady(proc: XnatProcess, mapping: string, n = 1): Promise<number> {
  const line = await waitForNth(proc, { msg: 'mapping ready', mapping }, n);
  return line.remotePort as number;
}

/** Lines worth reading when a test fails: warnings and errors, and session events, of each process. */
export function notableLogs(...procs: XnatProcess[]): string {
  return procs
    .flatMap((p) =>
      p.logs
        .filter((l) => (l.level ?? 0) >= 40 || /^session |reset|failed/.test(String(l.msg)))
        .map((l) => `${p.name}: ${JSON.stringify(l)}`),
    )
    .join('\n');
}

/** Counts the lines so far that carry all the given fields. */
export function countLogs(proc: XnatProcess, match: Record<string, unknown>): number {
  const entries = Object.entries(match);
  return proc.logs.filter((line) => entries.every(([k, v]) => line[k] === v)).length;
}

/** A relay and one agent with fresh keys, optionally with a fault proxy between them. */
export interface Pair {
  readonly relay: RelayHandle;
  readonly agent: AgentHandle;
  readonly proxy: FaultProxy | undefined;
  readonly relayKeys: Keys;
  readonly agentKeys: Keys;
  /** Public port of each mapping, by name, once ready. */
  readonly ports: Record<string, number>;
}

export interface PairOptions {
  readonly mappings: readonly MappingSpec[];
  /** Put a fault proxy between agent and relay. */
  readonly proxy?: boolean;
  readonly relay?: Partial<Omit<RelaySpec, 'keys' | 'agents'>> & { allow?: readonly string[] };
  readonly agent?: Partial<Omit<AgentSpec, 'keys' | 'relayPort' | 'relayPublicKey' | 'mappings'>>;
  /** Wait for every mapping to be ready (default true). */
  readonly waitReady?: boolean;
}

/** Starts a relay and an agent named `home` and (by default) waits until every mapping is ready. */
export async function startPair(env: TestEnv, opts: PairOptions): Promise<Pair> {
  const relayKeys = makeKeys();
  const agentKeys = makeKeys();
  const { allow, ...relayRest } = opts.relay ?? {};
  const relay = await startRelay(env, {
    ...relayRest,
    keys: relayKeys,
    agents: [
      {
        name: 'home',
        publicKey: agentKeys.publicKey,
        ...(opts.agent?.psk ? { psk: opts.agent.psk } : {}),
        ...(allow ? { allow } : {}),
      },
    ],
  });
  let proxy: FaultProxy | undefined;
  if (opts.proxy) {
    const p = await startFaultProxy(relay.port);
    env.onDispose(() => p.close());
    proxy = p;
  }
  const agent = startAgent(env, {
    name: 'home',
    ...opts.agent,
    keys: agentKeys,
    relayPort: proxy?.port ?? relay.port,
    relayPublicKey: relayKeys.publicKey,
    mappings: opts.mappings,
  });
  const ports: Record<string, number> = {};
  if (opts.waitReady ?? true) {
    for (const m of opts.mappings) ports[m.name] = await mappingReady(agent.proc, m.name);
  }
  return { relay, agent, proxy, relayKeys, agentKeys, ports };
}
