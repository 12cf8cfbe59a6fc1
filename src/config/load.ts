// Loading profiles: read the file, parse YAML, validate with the schema, apply env overrides and checks.
// It knows nothing of what relays and agents do with a profile; every failure is a typed CONFIG error.
import { dirname } from 'node:path';
import { XnatError } from '../errors.ts';
import { parseHostPortText, type HostPort } from '../util/ports.ts';
import { buildAgentProfile, buildRelayProfile } from './checks.ts';
import { agentSchema, relaySchema } from './schema.ts';
import { ProfileSource } from './source.ts';
import { schemaKeysAt } from './suggest.ts';
import { openFileWarning, openToOthers } from './warnings.ts';
import { ENV_ADMIN_TOKEN } from './checks.ts';
import { readBoundedFile } from './read-file.ts';
import type { AgentProfile, Profile, RelayProfile } from './types.ts';

/** Largest profile file read, in bytes; a real profile is a few KiB, so more is the wrong file. */
export const MAX_PROFILE_BYTES = 1024 * 1024;

type Kind = 'relay' | 'agent';

/**
 * The profile's text. XNAT_ERR_CONFIG_READ (missing, unreadable), XNAT_ERR_CONFIG_NOT_FILE (a directory,
 * device, FIFO) or XNAT_ERR_CONFIG_TOO_LARGE (over MAX_PROFILE_BYTES, read no further than that).
 */
function readProfileText(path: string): { text: string; mode: number } {
  const r = readBoundedFile(path, MAX_PROFILE_BYTES);
  if (r.ok) return { text: r.bytes.toString('utf8'), mode: r.mode };
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
  const ctx = { src, env, baseDir: dirname(src.name), warnings: [] };
  let profile: Profile;
  if (kind === 'relay') {
    const schema = relaySchema();
    const r = schema.safeParse(src.data);
    if (!r.success) throw src.toError(src.fromZod(r.error, (path) => schemaKeysAt(schema, path)));
    profile = buildRelayProfile(r.data, ctx);
  } else {
    const schema = agentSchema();
    const r = schema.safeParse(src.data);
    if (!r.success) throw src.toError(src.fromZod(r.error, (path) => schemaKeysAt(schema, path)));
    profile = buildAgentProfile(r.data, ctx);
  }
  return withWarnings(profile, ctx.warnings);
}

function withWarnings<P extends Profile>(profile: P, warnings: readonly string[]): P {
  if (warnings.length === 0) return profile;
  return { ...profile, warnings: [...(profile.warnings ?? []), ...warnings] };
}

/** The secrets a profile's own text holds (a private key, psks, the admin token), for the mode warning. */
function secretsInText(profile: Profile, env: NodeJS.ProcessEnv): string | undefined {
  const own = profile.kind === 'relay' ? profile.relay : profile.agent;
  const peers = profile.kind === 'relay' ? profile.agents : profile.relays;
  const held = [
    own.privateKeySource === 'profile' ? 'a private key' : undefined,
    peers.some((p) => p.psk) ? 'a psk' : undefined,
    profile.admin && !env[ENV_ADMIN_TOKEN] ? 'the admin token' : undefined,
  ].filter((x) => x !== undefined);
  if (held.length === 0) return undefined;
  return held.length === 1 ? held[0] : `${held.slice(0, -1).join(', ')} and ${held.at(-1)}`;
}

/** A loaded profile, warned about when its file holds secrets other users may read. */
function checkMode<P extends Profile>(profile: P, path: string, mode: number, env: NodeJS.ProcessEnv): P {
  const holds = openToOthers(mode) ? secretsInText(profile, env) : undefined;
  return holds ? withWarnings(profile, [openFileWarning(path, mode, holds)]) : profile;
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
  const { text, mode } = readProfileText(path);
  return checkMode(parseProfile(text, path, env), path, mode, env);
}

/** Loads a relay profile file; an agent profile is an error. */
export function loadRelayProfile(path: string, env: NodeJS.ProcessEnv = process.env): RelayProfile {
  const { text, mode } = readProfileText(path);
  return checkMode(parseRelayProfile(text, path, env), path, mode, env);
}

/** Loads an agent profile file; a relay profile is an error. */
export function loadAgentProfile(path: string, env: NodeJS.ProcessEnv = process.env): AgentProfile {
  const { text, mode } = readProfileText(path);
  return checkMode(parseAgentProfile(text, path, env), path, mode, env);
}

/** Parses `host:port` / `[v6]:port` (port 0..65535); throws XNAT_ERR_CONFIG_INVALID naming the text. */
export function parseHostPort(text: string): HostPort {
  const parsed = parseHostPortText(text);
  if (!parsed.ok)
    throw new XnatError('XNAT_ERR_CONFIG_INVALID', { detail: `"${text.slice(0, 300)}": ${parsed.reason}` });
  return parsed.value;
}
