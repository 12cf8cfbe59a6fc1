// Loading profiles: read the file, parse YAML, validate with the schema, apply env overrides and checks.
// It knows nothing of what relays and agents do with a profile; every failure is a typed CONFIG error.
import { dirname } from 'node:path';
import { XnatError } from '../errors.ts';
import { parseHostPortText, type HostPort } from '../util/ports.ts';
import { buildAgentProfile, buildRelayProfile } from './checks.ts';
import { agentSchema, relaySchema } from './schema.ts';
import { ProfileSource } from './source.ts';
import { schemaKeysAt } from './suggest.ts';
import { readBoundedFile } from './read-file.ts';
import type { AgentProfile, Profile, RelayProfile } from './types.ts';

/** Largest profile file read, in bytes; a real profile is a few KiB, so more is the wrong file. */
export const MAX_PROFILE_BYTES = 1024 * 1024;

type Kind = 'relay' | 'agent';

/**
 * The profile's text. XNAT_ERR_CONFIG_READ (missing, unreadable), XNAT_ERR_CONFIG_NOT_FILE (a directory,
 * device, FIFO) or XNAT_ERR_CONFIG_TOO_LARGE (over MAX_PROFILE_BYTES, read no further than that).
 */
function readProfileText(path: string): string {
  const r = readBoundedFile(path, MAX_PROFILE_BYTES);
  if (r.ok) return r.bytes.toString('utf8');
  if (r.kind === 'not-file')
    throw new XnatError('XNAT_ERR_CONFIG_NOT_FILE', { detail: `${path}: ${r.what}` });
  if (r.kind === 'too-large')
    throw new XnatError('XNAT_ERR_CONFIG_TOO_LARGE', {
      detail: `${path}: larger than ${MAX_PROFILE_BYTES} bytes`,
    });
  throw new XnatError('XNAT_ERR_CONFIG_READ', { detail: path, cause: r.cause });
}

/** "a relay", "an agent". */
function article(kind: Kind): string {
  return kind === 'agent' ? 'an agent' : 'a relay';
}

/** The kind a document declares by its top-level `relay:` or `agent:` key. */
function kindOf(src: ProfileSource): Kind {
  const data = src.data;
  if (data === null || data === undefined) throw src.toError([{ path: [], message: 'the profile is empty' }]);
  if (typeof data !== 'object' || Array.isArray(data))
    throw src.toError([{ path: [], message: 'must be a mapping of keys' }]);
  const hasRelay = Object.hasOwn(data, 'relay');
  const hasAgent = Object.hasOwn(data, 'agent');
  if (hasRelay && hasAgent)
    throw src.toError([
      { path: ['agent'], message: 'a profile has either a relay or an agent block, not both' },
    ]);
  if (hasRelay) return 'relay';
  if (hasAgent) return 'agent';
  throw src.toError([{ path: [], message: 'needs a top-level relay: or agent: block' }]);
}

function expectKind(src: ProfileSource, want: Kind): void {
  const got = kindOf(src);
  if (got !== want)
    throw src.toError([
      { path: [got], message: `this is ${article(got)} profile; ${article(want)} profile is needed` },
    ]);
}

function parseAs(src: ProfileSource, kind: Kind, env: NodeJS.ProcessEnv): Profile {
  const ctx = { src, env, baseDir: dirname(src.name) };
  if (kind === 'relay') {
    const r = relaySchema.safeParse(src.data);
    if (!r.success) throw src.toError(src.fromZod(r.error, (path) => schemaKeysAt(relaySchema, path)));
    return buildRelayProfile(r.data, ctx);
  }
  const r = agentSchema.safeParse(src.data);
  if (!r.success) throw src.toError(src.fromZod(r.error, (path) => schemaKeysAt(agentSchema, path)));
  return buildAgentProfile(r.data, ctx);
}

/**
 * Parses relay profile text. `source` names it in errors (a file path, or a label such as "demo") and its
 * folder is where a relative privateKeyFile is looked up. `env` defaults to process.env.
 */
export function parseRelayProfile(
  yamlText: string,
  source: string,
  env: NodeJS.ProcessEnv = process.env,
): RelayProfile {
  const src = new ProfileSource(yamlText, source);
  expectKind(src, 'relay');
  return parseAs(src, 'relay', env) as RelayProfile;
}

/** Parses agent profile text; see parseRelayProfile. */
export function parseAgentProfile(
  yamlText: string,
  source: string,
  env: NodeJS.ProcessEnv = process.env,
): AgentProfile {
  const src = new ProfileSource(yamlText, source);
  expectKind(src, 'agent');
  return parseAs(src, 'agent', env) as AgentProfile;
}

/** Parses profile text of either kind, decided by its top-level `relay:` or `agent:` key. */
export function parseProfile(
  yamlText: string,
  source: string,
  env: NodeJS.ProcessEnv = process.env,
): Profile {
  const src = new ProfileSource(yamlText, source);
  return parseAs(src, kindOf(src), env);
}

/** Loads a profile file of either kind; throws XNAT_ERR_CONFIG_* (READ, NOT_FILE, TOO_LARGE, YAML, INVALID, KEY_TEXT). */
export function loadProfile(path: string, env: NodeJS.ProcessEnv = process.env): Profile {
  return parseProfile(readProfileText(path), path, env);
}

/** Loads a relay profile file; an agent profile is an error. */
export function loadRelayProfile(path: string, env: NodeJS.ProcessEnv = process.env): RelayProfile {
  return parseRelayProfile(readProfileText(path), path, env);
}

/** Loads an agent profile file; a relay profile is an error. */
export function loadAgentProfile(path: string, env: NodeJS.ProcessEnv = process.env): AgentProfile {
  return parseAgentProfile(readProfileText(path), path, env);
}

/** Parses `host:port` / `[v6]:port` (port 0..65535); throws XNAT_ERR_CONFIG_INVALID naming the text. */
export function parseHostPort(text: string): HostPort {
  const parsed = parseHostPortText(text);
  if (!parsed.ok)
    throw new XnatError('XNAT_ERR_CONFIG_INVALID', { detail: `"${text.slice(0, 300)}": ${parsed.reason}` });
  return parsed.value;
}
