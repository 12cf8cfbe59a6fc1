// The one catalogue of xnat's control commands: name, kind, direction, zod schemas, one-line doc.
// It knows no handler: relay, agent and admin register their own against these specs (see client.ts).
// The specs live by area (commands-session/-admin/-udp/-diag.ts); this file gathers them by name.
import type * as z from 'zod';
import {
  checkProtocolVersion,
  mappingPhaseSchema,
  nameSchema,
  PROTOCOL_VERSION,
  wireErrorSchema,
  type CommandDirection,
  type CommandSpec,
} from './command-spec.ts';
import {
  hello,
  mappingRegister,
  mappingUnregister,
  mappingRevoked,
  mappingStatus,
  statsQuery,
  relayShutdown,
  mappingHealth,
} from './commands-session.ts';
import {
  adminAgentStats,
  sessionKick,
  configReload,
  connectionClose,
  mappingDisable,
  adminLogs,
  adminStatus,
  adminSubscribe,
  adminSnapshot,
  adminUnsubscribe,
  adminAuth,
} from './commands-admin.ts';
import { flowOpen, flowClose, udpOffer } from './commands-udp.ts';
import { diagFetch, diagBundle, adminDiag, adminDiagBundle } from './commands-diag.ts';

export { checkProtocolVersion, mappingPhaseSchema, nameSchema, PROTOCOL_VERSION, wireErrorSchema };
export type { CommandDirection, CommandSpec };
export * from './commands-session.ts';
export * from './commands-admin.ts';
export * from './commands-udp.ts';
export * from './commands-diag.ts';

/** Every command of xnat, by name. */
export const COMMANDS = {
  [hello.name]: hello,
  [mappingRegister.name]: mappingRegister,
  [mappingUnregister.name]: mappingUnregister,
  [mappingRevoked.name]: mappingRevoked,
  [mappingStatus.name]: mappingStatus,
  [statsQuery.name]: statsQuery,
  [adminAgentStats.name]: adminAgentStats,
  [sessionKick.name]: sessionKick,
  [configReload.name]: configReload,
  [connectionClose.name]: connectionClose,
  [mappingDisable.name]: mappingDisable,
  [adminLogs.name]: adminLogs,
  [relayShutdown.name]: relayShutdown,
  [flowOpen.name]: flowOpen,
  [flowClose.name]: flowClose,
  [mappingHealth.name]: mappingHealth,
  [udpOffer.name]: udpOffer,
  [adminStatus.name]: adminStatus,
  [adminSubscribe.name]: adminSubscribe,
  [adminSnapshot.name]: adminSnapshot,
  [adminUnsubscribe.name]: adminUnsubscribe,
  [adminAuth.name]: adminAuth,
  [diagFetch.name]: diagFetch,
  [diagBundle.name]: diagBundle,
  [adminDiag.name]: adminDiag,
  [adminDiagBundle.name]: adminDiagBundle,
} as const satisfies Record<string, CommandSpec>;

export type HelloRequest = z.output<typeof hello.request>;
export type HelloReply = z.output<typeof hello.reply>;
export type MappingRegisterRequest = z.output<typeof mappingRegister.request>;
export type MappingRegisterReply = z.output<typeof mappingRegister.reply>;
export type RegisterResult = MappingRegisterReply['results'][number];
export type MappingStatusReply = z.output<typeof mappingStatus.reply>;
export type StatsQueryReply = z.output<typeof statsQuery.reply>;
export type RelayShutdown = z.output<typeof relayShutdown.request>;
