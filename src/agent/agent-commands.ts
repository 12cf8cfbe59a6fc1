// The agent's command registry for one session with a relay: the commands the relay sends and their handlers.
import type { Session } from '../session/index.ts';
import type { CommandEndpoint } from '../command/endpoint.ts';
import { createRegistry, type CommandDef, type CommandRegistry } from '../command/registry.ts';
import type { CommandStats } from '../command/stats.ts';
import {
  flowClose,
  flowOpen,
  handleOneWay,
  mappingRevoked,
  relayShutdown,
  udpOffer,
} from '../protocol/index.ts';
import { proxyHeaderV2 } from '../forward/proxy-protocol.ts';
import type { Logger } from '../observe/log.ts';
import type { MappingStatus } from '../observe/status.ts';
import type { AgentFlows } from './udp-flows.ts';
import type { MappingRegistrar } from './mapping-registrar.ts';
import type { AgentUdpPaths } from './udp-path-client.ts';
import { registerAgentQueries, type TargetStats } from './agent-queries.ts';
import { registerAgentDiag } from './diag-bundle.ts';

export interface AgentCommandsDeps {
  readonly session: Session;
  readonly flows: AgentFlows;
  readonly mappings: MappingRegistrar;
  readonly udp: AgentUdpPaths | undefined;
  readonly log: Logger;
  /** An embedder's commands, looked up by name after xnat's own. */
  readonly appCommands: ((name: string) => CommandDef | undefined) | undefined;
  /** This agent's diagnostic bundle within a byte cap (diag.fetch); absent: there is none. */
  readonly diagBundle: ((maxBytes: number) => Buffer) | undefined;
  /** The endpoint this registry serves (made after the registry), for diag.fetch's stream. */
  readonly endpoint: () => CommandEndpoint | undefined;
  /** The relay connection's current command counters (stats.query). */
  readonly commands: () => CommandStats | undefined;
  readonly mappingStatus: () => MappingStatus[];
  readonly targets: () => ReadonlyMap<string, TargetStats>;
  /** relay.shutdown: no redial for this long (the relay said when it expects to be back). */
  readonly holdOff: (ms: number) => void;
}

export function buildAgentRegistry(d: AgentCommandsDeps): CommandRegistry {
  const { session, flows, log } = d;
  const registry = createRegistry(d.appCommands);
  handleOneWay(registry, flowOpen, (req) => {
    const m = d.mappings.get(req.mapping)?.profile;
    if (m?.protocol !== 'udp') {
      log.warn({ mapping: req.mapping, code: 'XNAT_ERR_MAPPING_UNKNOWN' }, 'flow refused');
      flows.refuse(req.flowId);
      return;
    }
    // v2 DGRAM: the same header before every datagram of the flow (the LAN service reads each alone).
    const header = m.proxyProtocol
      ? proxyHeaderV2({ source: req.visitor, destination: req.public ?? { address: '', port: 0 } }, 'udp')
      : undefined;
    flows.open(req.flowId, m, `${req.visitor.address}:${req.visitor.port}`, header);
  });
  handleOneWay(registry, flowClose, (req) => flows.close(req.flowId));
  registerAgentQueries(registry, {
    sessionStats: () => session.stats,
    mappings: d.mappingStatus,
    targets: d.targets,
    commands: d.commands,
  });
  registerAgentDiag(registry, { endpoint: d.endpoint, bundle: d.diagBundle });
  handleOneWay(registry, udpOffer, (req) => d.udp?.offered(session, req.link, req.index));
  handleOneWay(registry, relayShutdown, (req) => {
    // The relay says when it expects to be back: redialing earlier would only be refused.
    d.holdOff(req.reconnectAfterMs);
    log.warn({ reason: req.reason, reconnectAfterMs: req.reconnectAfterMs }, 'relay shutting down');
  });
  handleOneWay(registry, mappingRevoked, (req) => d.mappings.revoked(req.name, req.error));
  return registry;
}
