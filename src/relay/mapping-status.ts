// A relay mapping's status from its table entry and the sessions serving it: the one place that counts a
// mapping's open streams (its own, not its sessions' totals), flows and traffic. It knows nothing of sockets.
import type { MappingStatus } from '../observe/status.ts';
import type { MappingEntry } from './mapping-table.ts';
import { udpMappingCounts } from './udp-router.ts';
import { formatHostPort } from '../util/ports.ts';

/** `publicHost`: the relay's public address, shown with the port as the mapping's public side. */
export function mappingEntryStatus(e: MappingEntry, publicHost: string): MappingStatus {
  const servers = [...e.servers];
  const t = e.traffic;
  const base = {
    name: e.name,
    protocol: e.protocol,
    remotePort: e.port,
    publicAddress: formatHostPort({ host: publicHost, port: e.port }),
    phase: 'ready' as const,
    agents: servers.map((s) => s.agentName),
    ...(e.disabled ? { disabled: true } : {}),
  };
  if (e.flowState) {
    // udp: every datagram is counted on the entry as it passes; flows stand in the stream columns.
    return { ...base, ...udpMappingCounts(e.flowState), traffic: { ...t } };
  }
  // tcp: closed streams are on the entry, open ones are read from the sessions serving the mapping.
  const live = servers.map((s) => s.liveStreams(e.name));
  return {
    ...base,
    activeStreams: live.reduce((n, l) => n + l.streams, 0),
    totalStreams: e.totalVisitors,
    traffic: {
      bytesUp: t.bytesUp + live.reduce((n, l) => n + l.bytesUp, 0),
      bytesDown: t.bytesDown + live.reduce((n, l) => n + l.bytesDown, 0),
    },
  };
}
