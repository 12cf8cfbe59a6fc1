// The one catalogue of xnat's control commands: name, kind, direction, zod schemas, one-line doc.
// It knows no handler: relay, agent and admin register their own against these specs (see client.ts).
import * as z from 'zod';
import { XnatError } from '../errors.ts';
import { MAX_ADMIN_TOKEN_CHARS } from '../config/index.ts';
import type { CommandKind } from '../command/registry.ts';

/** Version of this catalogue and of the STREAM_OPEN meta; hello refuses any other. */
export const PROTOCOL_VERSION = 2;

/** Who sends a command to whom. 'admin': an admin client to an admin endpoint; 'admin-push': the reverse. */
export type CommandDirection = 'agent->relay' | 'relay->agent' | 'either' | 'admin' | 'admin-push';

/** One catalogue entry. `reply` is absent for one-way commands. */
export interface CommandSpec<Req extends z.ZodType = z.ZodType, Rep extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly kind: CommandKind;
  readonly direction: CommandDirection;
  readonly request: Req;
  readonly reply?: Rep;
  readonly doc: string;
}

function spec<Req extends z.ZodType, Rep extends z.ZodType>(
  s: CommandSpec<Req, Rep> & { reply: Rep },
): CommandSpec<Req, Rep> & { reply: Rep };
function spec<Req extends z.ZodType>(
  s: CommandSpec<Req, z.ZodNever> & { reply?: undefined },
): CommandSpec<Req, z.ZodNever>;
function spec(s: CommandSpec): CommandSpec {
  return s;
}

// ---- shared shapes

/** Names of agents and mappings: 1-64 of [A-Za-z0-9._-]. */
export const nameSchema = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/);
const port = z.number().int().min(0).max(65535);
const shortText = z.string().max(200);
/** An error as it crosses the wire inside a reply: code and message, never a stack. */
export const wireErrorSchema = z.object({ code: z.string().max(64), message: z.string().max(300) });
const counters = z.record(z.string().max(64), z.number());

export const mappingPhaseSchema = z.enum(['pending', 'registering', 'ready', 'failed']);

// ---- the commands

export const hello = spec({
  name: 'hello',
  kind: 'request',
  direction: 'agent->relay',
  request: z.object({
    protocolVersion: z.number().int().min(0),
    agentName: nameSchema,
    software: shortText,
  }),
  reply: z.object({
    relayName: nameSchema.optional(),
    protocolVersion: z.number().int().min(0),
    /** How long the relay keeps a detached session, in ms. */
    resumeWindowMs: z.number().int().min(0),
  }),
  doc: 'First command of a session: versions and names; another protocolVersion fails with XNAT_ERR_PROTOCOL_VERSION.',
});

export const mappingRegister = spec({
  name: 'mapping.register',
  kind: 'request',
  direction: 'agent->relay',
  request: z.object({
    mappings: z
      .array(
        z.object({
          name: nameSchema,
          protocol: z.enum(['tcp', 'udp']),
          /** 0 = any port in the range this agent is allowed. */
          remotePort: port,
          /** A flow (udp) or visitor connection (tcp) idle this long is dropped, in ms (the relay times it). */
          idleTimeoutMs: z.number().int().min(1000).max(86_400_000).optional(),
          /** Share of new visitors against other agents of the mapping (weighted least-loaded); default 1. */
          weight: z.number().int().min(1).max(1000).optional(),
          /** tcp: the relay deflates this mapping's streams (STREAM_OPEN meta says so per stream). */
          compress: z.literal('deflate').optional(),
        }),
      )
      .max(256),
  }),
  reply: z.object({
    results: z
      .array(
        z.object({
          name: nameSchema,
          ok: z.boolean(),
          remotePort: port.optional(),
          error: wireErrorSchema.optional(),
        }),
      )
      .max(256),
  }),
  doc: 'Claims public ports for mappings; each mapping succeeds or fails on its own.',
});

export const mappingUnregister = spec({
  name: 'mapping.unregister',
  kind: 'request',
  direction: 'agent->relay',
  request: z.object({ names: z.array(nameSchema).max(256) }),
  reply: z.object({
    /** The names this session served and no longer does (their visitors reset, a port left unserved closed). */
    removed: z.array(nameSchema).max(256),
  }),
  doc: 'Gives up mappings this session serves (agent reload); names it does not serve are ignored.',
});

export const mappingRevoked = spec({
  name: 'mapping.revoked',
  kind: 'oneway',
  direction: 'relay->agent',
  request: z.object({ name: nameSchema, error: wireErrorSchema }),
  doc: 'The relay stopped serving a mapping of this agent (relay reload narrowed its allow list); the agent marks it failed and retries it with backoff.',
});

export const mappingStatus = spec({
  name: 'mapping.status',
  kind: 'request',
  direction: 'either',
  request: z.object({ name: nameSchema.optional() }),
  reply: z.object({
    mappings: z
      .array(
        z.object({
          name: nameSchema,
          protocol: z.enum(['tcp', 'udp']),
          remotePort: port,
          phase: mappingPhaseSchema,
          error: wireErrorSchema.optional(),
          agents: z.array(nameSchema).max(256).optional(),
          activeStreams: z.number().int().min(0),
          totalStreams: z.number().int().min(0),
          /** udp only: flows open now and since start (activeStreams and totalStreams repeat them). */
          activeFlows: z.number().int().min(0).optional(),
          totalFlows: z.number().int().min(0).optional(),
        }),
      )
      .max(1024),
  }),
  doc: 'Phases of the mappings (all, or the one named), as the status snapshot shows them.',
});

export const statsQuery = spec({
  name: 'stats.query',
  kind: 'request',
  direction: 'either',
  request: z.object({}),
  reply: z.object({
    /** Wall-clock ms since the epoch when the counters were read. */
    at: z.number(),
    session: counters,
    streams: counters,
    commands: counters.optional(),
    /** Per mapping of the answering agent: its LAN target's connects, connect errors and connect latency (ms). */
    mappings: z.record(nameSchema, counters).optional(),
  }),
  doc: 'Session and stream counters of the answering side (numbers only); an agent adds its LAN targets per mapping.',
});

export const adminAgentStats = spec({
  name: 'admin.agentStats',
  kind: 'request',
  direction: 'admin',
  request: z.object({ agentName: nameSchema }),
  reply: statsQuery.reply,
  doc: "The named agent's own counters, fetched by the relay with stats.query over the agent's session.",
});

export const sessionKick = spec({
  name: 'session.kick',
  kind: 'request',
  direction: 'admin',
  request: z.object({ agentName: nameSchema, reason: shortText.optional() }),
  reply: z.object({ kicked: z.boolean() }),
  doc: 'Closes the session of the named agent; kicked is false when it had none.',
});

export const configReload = spec({
  name: 'config.reload',
  kind: 'request',
  direction: 'admin',
  request: z.object({}),
  reply: z.object({ reloaded: z.boolean(), changes: z.array(shortText).max(256) }),
  doc: 'Re-reads the profile; an invalid profile fails with its XNAT_ERR_CONFIG_ code and changes nothing.',
});

export const connectionClose = spec({
  name: 'connection.close',
  kind: 'request',
  direction: 'admin',
  request: z.object({
    sessionId: z.string().regex(/^[0-9a-f]{1,64}$/),
    streamId: z.number().int().min(0).max(0xffffffff),
  }),
  reply: z.object({ closed: z.boolean() }),
  doc: 'Resets one visitor connection (stream) of a session; the visitor sees a reset. closed is false when it was gone.',
});

export const mappingDisable = spec({
  name: 'mapping.disable',
  kind: 'request',
  direction: 'admin',
  request: z.object({ name: nameSchema, disabled: z.boolean() }),
  reply: z.object({ changed: z.number().int().min(0) }),
  doc: 'Relay: disables (refuses new visitors, keeps open ones) or enables again the named mapping.',
});

const logLevelSchema = z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);

export const adminLogs = spec({
  name: 'admin.logs',
  kind: 'request',
  direction: 'admin',
  request: z.object({
    after: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(500).default(200),
    minLevel: logLevelSchema.default('trace'),
  }),
  reply: z.object({
    lines: z
      .array(
        z.object({
          seq: z.number().int(),
          time: z.number(),
          level: logLevelSchema,
          msg: z.string().max(400),
          fields: z.string().max(400),
        }),
      )
      .max(500),
    lastSeq: z.number().int().min(0),
  }),
  doc: 'Recent log lines of the process (a bounded ring, redacted) with seq > after, oldest first.',
});

export const relayShutdown = spec({
  name: 'relay.shutdown',
  kind: 'oneway',
  direction: 'relay->agent',
  request: z.object({ reason: shortText, reconnectAfterMs: z.number().int().min(0) }),
  doc: 'Broadcast before the relay stops: agents wait reconnectAfterMs before redialling.',
});

export const flowOpen = spec({
  name: 'flow.open',
  kind: 'oneway',
  direction: 'relay->agent',
  request: z.object({
    flowId: z.number().int().min(0).max(0xffffffff),
    mapping: nameSchema,
    visitor: z.object({ address: z.string().max(64), port }),
    /** The relay's socket the visitor sent to (the PROXY protocol header's destination). */
    public: z.object({ address: z.string().max(64), port }).optional(),
  }),
  doc: 'A new UDP visitor of a mapping: DATAGRAM frames with this flowId follow (both ways); its first ones may arrive before it.',
});

export const flowClose = spec({
  name: 'flow.close',
  kind: 'oneway',
  direction: 'either',
  request: z.object({ flowId: z.number().int().min(0).max(0xffffffff) }),
  doc: 'The sender dropped a UDP flow (idle timeout, eviction at a cap); the receiver forgets it (the agent closes its LAN socket).',
});

export const mappingHealth = spec({
  name: 'mapping.health',
  kind: 'oneway',
  direction: 'agent->relay',
  request: z.object({
    name: nameSchema,
    healthy: z.boolean(),
    /** unhealthy: how long the relay sends new visitors to other agents first, in ms. */
    retryAfterMs: z.number().int().min(0).max(3_600_000),
  }),
  doc: "The agent's LAN target of a mapping refused (healthy false, for retryAfterMs) or answers again (healthy true).",
});

export const udpOffer = spec({
  name: 'udp.offer',
  kind: 'oneway',
  direction: 'relay->agent',
  request: z.object({
    /** The link it is for: hex of the first 8 bytes of that link's handshake hash. */
    link: z.string().regex(/^[0-9a-f]{16}$/),
    /** The relay's receiver index of that link's UDP path. */
    index: z.number().int().min(1).max(0xffffffff),
  }),
  doc: "The relay's UDP path for one link is open at its control port: seal datagrams to this receiver index (docs/protocol.md, UDP path). Ignored when it names another link.",
});

/**
 * Largest diagnostic bundle, in bytes: the side that builds one drops its oldest log lines to fit, and a
 * receiver refuses a declared size above what it asked for (XNAT_ERR_DIAG_TOO_LARGE).
 */
export const DIAG_MAX_BYTES = 4 * 1024 * 1024;
/** The smallest cap a caller may ask for: a bundle without its log lines fits in it. */
export const DIAG_MIN_BYTES = 16 * 1024;
const diagTransferId = z.number().int().min(1).max(0xffffffff);
const diagMaxBytes = z.number().int().min(DIAG_MIN_BYTES).max(DIAG_MAX_BYTES);

export const diagFetch = spec({
  name: 'diag.fetch',
  kind: 'request',
  direction: 'relay->agent',
  request: z.object({ transferId: diagTransferId, maxBytes: diagMaxBytes }),
  reply: z.object({ size: z.number().int().min(0).max(DIAG_MAX_BYTES) }),
  doc: 'Asks the agent for its diagnostic bundle; it sends it as diag.bundle with this transferId and replies with its size once the transfer ended.',
});

export const diagBundle = spec({
  name: 'diag.bundle',
  kind: 'stream',
  direction: 'agent->relay',
  request: z.object({ transferId: diagTransferId }),
  doc: "The agent's diagnostic bundle (JSON, secrets redacted), a stream transfer with its size declared; one the relay did not ask for is refused with XNAT_ERR_DIAG_UNEXPECTED.",
});

export const adminDiag = spec({
  name: 'admin.diag',
  kind: 'request',
  direction: 'admin',
  request: z.object({
    transferId: diagTransferId,
    /** Relay: the named agent's bundle (through its session); absent: this process's own. */
    agentName: nameSchema.optional(),
    maxBytes: diagMaxBytes.default(DIAG_MAX_BYTES),
  }),
  reply: z.object({ size: z.number().int().min(0).max(DIAG_MAX_BYTES) }),
  doc: "A diagnostic bundle (this process's, or on a relay the named agent's), pushed as admin.diagBundle with this transferId; the reply follows its end.",
});

export const adminDiagBundle = spec({
  name: 'admin.diagBundle',
  kind: 'stream',
  direction: 'admin-push',
  request: z.object({ transferId: diagTransferId }),
  doc: 'The bundle an admin.diag asked for, a stream transfer with its size declared (the CLI shows its progress).',
});

/** A relay or agent status snapshot (src/observe/status.ts); checked loosely, it is for display. */
export const statusSnapshotSchema = z.looseObject({ role: z.enum(['relay', 'agent']), version: z.string() });

export const adminStatus = spec({
  name: 'admin.status',
  kind: 'request',
  direction: 'admin',
  request: z.object({}),
  reply: statusSnapshotSchema,
  doc: 'The current status snapshot object.',
});

export const adminSubscribe = spec({
  name: 'admin.subscribe',
  kind: 'request',
  direction: 'admin',
  request: z.object({ intervalMs: z.number().int().min(100).max(60_000) }),
  reply: z.object({ subscriptionId: z.number().int().min(0) }),
  doc: 'Asks for admin.snapshot pushes every intervalMs until admin.unsubscribe or the connection ends.',
});

export const adminSnapshot = spec({
  name: 'admin.snapshot',
  kind: 'oneway',
  direction: 'admin-push',
  request: z.object({ subscriptionId: z.number().int().min(0), snapshot: statusSnapshotSchema }),
  doc: 'One pushed status snapshot of a subscription.',
});

export const adminUnsubscribe = spec({
  name: 'admin.unsubscribe',
  kind: 'request',
  direction: 'admin',
  request: z.object({ subscriptionId: z.number().int().min(0) }),
  reply: z.object({ ok: z.boolean() }),
  doc: 'Stops a subscription; ok is false when it was unknown.',
});

export const adminAuth = spec({
  name: 'admin.auth',
  kind: 'request',
  direction: 'admin',
  request: z.object({ token: z.string().min(1).max(MAX_ADMIN_TOKEN_CHARS) }),
  reply: z.object({ ok: z.literal(true) }),
  doc: 'Authenticates an admin connection with its token; a wrong token fails with XNAT_ERR_COMMAND_DENIED.',
});

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

/** Throws XNAT_ERR_PROTOCOL_VERSION unless `version` is PROTOCOL_VERSION (the relay's hello handler calls it). */
export function checkProtocolVersion(version: number): void {
  if (version !== PROTOCOL_VERSION)
    throw new XnatError('XNAT_ERR_PROTOCOL_VERSION', {
      detail: `peer ${version}, this side ${PROTOCOL_VERSION}`,
    });
}
