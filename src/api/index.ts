// The public face of the xnat package (`import { createRelay, createAgent } from 'xnat'`): embed a relay or
// an agent, serve mappings in-process, and run the application's own commands over the session.
export { createRelay, XnatRelay, type RelayInit, type RelayProfileSource } from './relay-api.ts';
export { createAgent, XnatAgent, type AgentInit, type AgentProfileSource } from './agent-api.ts';
export { XnatEmitter } from './typed-events.ts';
export type { EmbedOptions } from './options.ts';
export { AppCommands, CommandPeer, APP_PREFIX, checkAppName } from './commands.ts';
export type { ServiceStream, StreamService, DatagramService, FlowInfo } from './services.ts';
export type * from '../observe/events.ts';
export type { RelayStatus, AgentStatus, SessionStatus, MappingStatus } from '../observe/status.ts';
export type {
  RelayProfile,
  AgentProfile,
  RelayProfileInput,
  AgentProfileInput,
  MappingProfile,
} from '../config/index.ts';
export {
  loadRelayProfile,
  loadAgentProfile,
  parseRelayProfile,
  parseAgentProfile,
  redactProfile,
} from '../config/index.ts';
export type {
  CommandContext,
  StreamContext,
  CommandOptions,
  RequestDef,
  OneWayDef,
  BufferDef,
  StreamDef,
} from '../command/registry.ts';
export type { CallOptions, BufferCallOptions, StreamCallOptions } from '../command/endpoint.ts';
export type { OpenEndpoint } from '../protocol/open-meta.ts';
export { XnatError, isXnatError, ERRORS, type ErrorCode } from '../errors.ts';
export { generateKeyPair, encodeKey } from '../crypto/keys.ts';
export { createRootLogger, silentLogger, type Logger } from '../observe/log.ts';
export { LogRing } from '../observe/log-ring.ts';
export type { PulledBundle } from '../protocol/diag-inbox.ts';
export { DIAG_MAX_BYTES } from '../protocol/catalogue.ts';
export { VERSION } from '../util/version.ts';
