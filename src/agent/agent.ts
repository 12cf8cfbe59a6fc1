// The agent: one RelayConnection per relay of its profile, and its status snapshot.
// It knows nothing of the CLI; `xnat agent` builds one from a profile and closes it on a signal.
import type { AgentProfile } from '../config/index.ts';
import type { Logger } from '../observe/log.ts';
import type { AgentStatus } from '../observe/status.ts';
import { realClock, type Clock } from '../util/clock.ts';
import { VERSION } from '../util/version.ts';
import { RelayConnection, type AgentHooks } from './relay-connection.ts';

export interface AgentOptions {
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Embedder hooks (src/api/): lifecycle events, extra commands, in-process services. */
  readonly hooks?: AgentHooks;
}

export class Agent {
  readonly startedAt = Date.now();
  private readonly connections: RelayConnection[];

  constructor(
    readonly profile: AgentProfile,
    options: AgentOptions,
  ) {
    const clock = options.clock ?? realClock;
    this.connections = profile.relays.map(
      (r) => new RelayConnection(profile, r, options.logger, clock, options.hooks),
    );
  }

  start(): void {
    for (const c of this.connections) c.start();
  }

  close(): void {
    for (const c of this.connections) c.close();
  }

  /** The tie to each relay of the profile, in profile order (an embedder calls commands through them). */
  get relays(): readonly RelayConnection[] {
    return this.connections;
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
