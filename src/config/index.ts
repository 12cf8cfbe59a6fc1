// The config area's public face: load and parse profiles, redact them, and the address helpers they use.
// Callers import from here; the schema and checks behind it are private to src/config/.
export {
  loadProfile,
  loadRelayProfile,
  loadAgentProfile,
  parseProfile,
  parseRelayProfile,
  parseAgentProfile,
  parseHostPort,
  MAX_PROFILE_BYTES,
} from './load.ts';
export { redactProfile, REDACTED } from './redact.ts';
export { ENV_PRIVATE_KEY, ENV_ADMIN_TOKEN } from './checks.ts';
export { MIN_ADMIN_TOKEN_CHARS, MAX_ADMIN_TOKEN_CHARS } from './limits.ts';
export { DEFAULT_RELAY_PORT, DEFAULT_TCP_IDLE_TIMEOUT_MS, DEFAULT_UDP_IDLE_TIMEOUT_MS } from './schema.ts';
export { isAllowed, formatHostPort, formatPortRange } from '../util/ports.ts';
export type * from './types.ts';
export type { RelayProfileInput, AgentProfileInput } from './schema.ts';
export { PRESETS, PRESET_NAMES, isPresetName, presetOf, suggestPreset } from './presets.ts';
export type { EntryProtocol, PortSpan, Preset, PresetName } from './presets.ts';
export { MAX_MAPPINGS, MAX_PORTS_PER_RANGE } from './mapping-expand.ts';
export { changedKeys } from './diff.ts';
export { openToOthers, openFileWarning } from './warnings.ts';
