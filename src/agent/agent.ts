// The agent: one RelayConnection per relay of its profile, and its status snapshot.
// It knows nothing of the CLI; `xnat agent` builds one from a profile and closes it on a signal.
import type { AgentProfile } from '../config/index.ts';
import type { Logger } from '../observe/log.ts';
import type { AgentStatus } from '../observe/status.ts';
import { realClock, type Clock } from '../util/clock.ts';
import { VERSION } from '../util/version.ts';
import { RelayConnection } from './relay-connection.ts';

export interface AgentOptions {
  readonly logger: Logger;
  readonly clock?: Clock;
}

export class Agent {
  readonly startedAt = Date.now();
  private readonly connections: RelayConnection[];

  constructor(
    readonly profile: AgentProfile,
    options: AgentOptions,
  ) {
    const clock = options.clock ?? realClock;
    this.connections = profile.relays.map((r) => new RelayConnection(profile, r, options.logger, clock));
  }

  start(): void {
    for (const c of this.connections) c.start();
  }

  close(): void {
    for (const c of this.connections) c.close();
  }

  /** Resets one visitor stream of the session `sessionId` (admin connection.close); false if none held it. */
  closeStream(sessionId: string, streamId: number): boolean {
    return this.connections.some((c) => c.sessionId === sessionId && c.closeStream(streamId));
  }

  status(): AgentStatus {
    return {
      role: 'agent',
      version: VERSION,
      name: this.profile.agent.name,
      startedAt: this.startedAt,
      relays: this.connections.map((c) => c.status()),
      // Mappings are registered with every relay; the first relay's view stands for the mapping table.
      mappings: this.connections[0]?.mappingStatus() ?? [],
    };
  }
}
