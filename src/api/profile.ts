// Turns what an embedder passes (a file path, a plain object shaped like the YAML, or a loaded profile)
// into a checked profile, through the very schema and checks `xnat relay -p FILE` uses. No defaults of its own.
import { stringify } from 'yaml';
import {
  loadAgentProfile,
  loadRelayProfile,
  parseAgentProfile,
  parseRelayProfile,
  type AgentProfile,
  type AgentProfileInput,
  type RelayProfile,
  type RelayProfileInput,
} from '../config/index.ts';

/** A profile as the API takes it: a YAML file's path, plain data shaped like the YAML, or an already loaded one. */
export type ProfileSourceOf<Input, Loaded> = string | Input | Loaded;

/** Name a plain-object profile carries in error messages (`(object) mappings[0].local: ...`). */
const OBJECT_SOURCE = '(object)';

function isLoaded(p: unknown, kind: 'relay' | 'agent'): boolean {
  return typeof p === 'object' && p !== null && (p as { kind?: unknown }).kind === kind && 'source' in p;
}

/**
 * Plain data goes through YAML text so it meets the same parser, schema, checks and error paths as a file;
 * the environment (XNAT_PRIVATE_KEY, XNAT_ADMIN_TOKEN) applies only when `env` is given: an object is the
 * whole profile.
 */
export function relayProfileOf(
  p: ProfileSourceOf<RelayProfileInput, RelayProfile>,
  env?: NodeJS.ProcessEnv,
): RelayProfile {
  if (typeof p === 'string') return loadRelayProfile(p, env ?? process.env);
  if (isLoaded(p, 'relay')) return p as RelayProfile;
  return parseRelayProfile(stringify(p), OBJECT_SOURCE, env ?? {});
}

/** See relayProfileOf. */
export function agentProfileOf(
  p: ProfileSourceOf<AgentProfileInput, AgentProfile>,
  env?: NodeJS.ProcessEnv,
): AgentProfile {
  if (typeof p === 'string') return loadAgentProfile(p, env ?? process.env);
  if (isLoaded(p, 'agent')) return p as AgentProfile;
  return parseAgentProfile(stringify(p), OBJECT_SOURCE, env ?? {});
}
