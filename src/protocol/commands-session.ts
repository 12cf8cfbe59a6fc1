// The session commands of the catalogue: hello, mapping registration and its phases, counters, the
// relay's shutdown notice and the agent's per-mapping health (agent <-> relay, over the session).
import * as z from 'zod';
import {
  counters,
  mappingPhaseSchema,
  nameSchema,
  port,
  shortText,
  spec,
  wireErrorSchema,
} from './command-spec.ts';

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

export const relayShutdown = spec({
  name: 'relay.shutdown',
  kind: 'oneway',
  direction: 'relay->agent',
  request: z.object({ reason: shortText, reconnectAfterMs: z.number().int().min(0) }),
  doc: 'Broadcast before the relay stops: agents wait reconnectAfterMs before redialling.',
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
