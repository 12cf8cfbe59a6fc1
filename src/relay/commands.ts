// The commands an agent may call on the relay (hello, mapping.register, mapping.unregister,
// mapping.status, stats.query, flow.close, mapping.health).
// Handlers act on one AgentSession; the catalogue in src/protocol/ owns names and schemas.
import { createRegistry, type CommandDef, type CommandRegistry } from '../command/registry.ts';
import {
  checkProtocolVersion,
  flowClose,
  handleOneWay,
  handleRequest,
  hello,
  mappingHealth,
  mappingRegister,
  mappingStatus,
  mappingUnregister,
  statsQuery,
  type RegisterResult,
} from '../protocol/index.ts';
import { toXnatError } from '../errors.ts';
import type { AgentSession } from './agent-session.ts';
import { registerDiagInbox } from './diag-relay.ts';

/** `appCommands`: an embedder's commands (src/api/), consulted for names not registered here. */
export function buildRelayRegistry(
  ctx: AgentSession,
  appCommands?: (name: string) => CommandDef | undefined,
): CommandRegistry {
  const registry = createRegistry(appCommands);
  handleRequest(registry, hello, (req) => {
    checkProtocolVersion(req.protocolVersion);
    if (req.agentName !== ctx.agent.name) {
      ctx.log.info({ announced: req.agentName }, 'agent announces another name than its profile entry');
    }
    return { protocolVersion: req.protocolVersion, resumeWindowMs: ctx.resumeWindowMs };
  });
  // One claim at a time per session keeps the port table's answers in request order.
  handleRequest(
    registry,
    mappingRegister,
    async (req) => {
      const results: RegisterResult[] = [];
      for (const m of req.mappings) {
        try {
          const entry = await ctx.claim(m);
          results.push({ name: m.name, ok: true, remotePort: entry.port });
          ctx.log.info({ mapping: m.name, protocol: m.protocol, remotePort: entry.port }, 'mapping ready');
        } catch (err) {
          const e = toXnatError(err);
          results.push({ name: m.name, ok: false, error: { code: e.code, message: e.message } });
          ctx.log.warn({ mapping: m.name, code: e.code, detail: e.detail }, 'mapping failed');
        }
      }
      return { results };
    },
    { serial: true },
  );
  handleRequest(
    registry,
    mappingUnregister,
    async (req) => {
      const removed = await ctx.unclaim(req.names, 'XNAT_ERR_MAPPING_UNKNOWN');
      for (const name of removed) ctx.log.info({ mapping: name }, 'mapping unregistered');
      return { removed };
    },
    { serial: true },
  );
  handleRequest(registry, mappingStatus, (req) => ({
    mappings: ctx
      .mappingStatus()
      .filter((m) => req.name === undefined || m.name === req.name)
      .map((m) => ({ ...m, agents: m.agents && [...m.agents] })),
  }));
  handleRequest(registry, statsQuery, () => {
    const s = ctx.session.stats;
    return {
      at: Date.now(),
      session: {
        bytesSent: s.bytesSent,
        bytesReceived: s.bytesReceived,
        framesSent: s.framesSent,
        framesReceived: s.framesReceived,
        replayBytes: s.replayBytes,
        links: s.links,
        resumes: s.resumes,
      },
      streams: { active: ctx.activeStreams },
    };
  });
  handleOneWay(registry, flowClose, (req) => ctx.dropFlow(req.flowId));
  handleOneWay(registry, mappingHealth, (req) => ctx.setHealth(req.name, req.healthy, req.retryAfterMs));
  registerDiagInbox(registry, ctx);
  return registry;
}
