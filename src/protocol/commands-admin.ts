// The admin commands of the catalogue: what an admin client asks a relay or agent endpoint (status and
// its subscription, logs, kick, reload, connection close, mapping disable, auth).
import * as z from 'zod';
import { MAX_ADMIN_TOKEN_CHARS } from '../config/limits.ts';
import { nameSchema, shortText, spec } from './command-spec.ts';
import { statsQuery } from './commands-session.ts';

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
