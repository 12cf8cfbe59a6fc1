// The agent: one RelayConnection per relay of its profile, its status snapshot, and live reload.
// It knows nothing of the CLI; `xnat agent` builds one from a profile and closes it on a signal.
import { mappingTarget } from './mapping-target.ts';
import { isDeepStrictEqual } from 'node:util';
import { changedKeys, type AgentProfile, type MappingProfile } from '../config/index.ts';
import type { Logger } from '../observe/log.ts';
import type { AgentStatus } from '../observe/status.ts';
import { realClock, type Clock } from '../util/clock.ts';
import { VERSION } from '../util/version.ts';
import { RelayConnection, type AgentHooks } from './relay-connection.ts';
import type { LogRing } from '../observe/log-ring.ts';
import { buildDiagBundle } from '../protocol/diag-bundle.ts';

export interface AgentOptions {
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Embedder hooks (src/api/): lifecycle events, extra commands, in-process services. */
  readonly hooks?: AgentHooks;
  /** The log ring the logger writes to: its lines go into diagnostic bundles (none without it). */
  readonly logs?: LogRing;
}

/** Top-level keys reload() applies live; a change anywhere else needs a restart. */
const LIVE_KEYS: ReadonlySet<string> = new Set(['mappings']);

/** One line per mapping that differs between two lists, in the order of `next` (removed ones last). */
export function mappingChanges(old: readonly MappingProfile[], next: readonly MappingProfile[]): string[] {
  const before = new Map(old.map((m) => [m.name, m]));
  const lines: string[] = [];
  for (const m of next) {
    const was = before.get(m.name);
    if (!was) lines.push(`mapping ${m.name} added`);
    else if (isDeepStrictEqual(was, m)) continue;
    else if (isDeepStrictEqual({ ...was, local: m.local }, m))
      lines.push(`mapping ${m.name}: local is now ${mappingTarget(m)}`);
    else lines.push(`mapping ${m.name} changed`);
  }
  const names = new Set(next.map((m) => m.name));
  for (const m of old) if (!names.has(m.name)) lines.push(`mapping ${m.name} removed`);
  return lines;
}

export class Agent {
  readonly startedAt = Date.now();
  private readonly log: Logger;
  private readonly connections: RelayConnection[];
  private current: AgentProfile;
  private readonly logs: LogRing | undefined;

  constructor(profile: AgentProfile, options: AgentOptions) {
    const clock = options.clock ?? realClock;
    this.current = profile;
    this.log = options.logger;
    this.logs = options.logs;
    const hooks: AgentHooks = { ...options.hooks, diagBundle: (maxBytes) => this.diagBundle(maxBytes) };
    this.connections = profile.relays.map(
      (r) => new RelayConnection(profile, r, options.logger, clock, hooks),
    );
  }

  /** The profile in force: the one started with, with the mappings of the last reload. */
  get profile(): AgentProfile {
    return this.current;
  }

  /** Binds reverse mode's listen sockets (XNAT_ERR_LINK_LISTEN when one is taken); start() does it otherwise. */
  async listen(): Promise<void> {
    await Promise.all(this.connections.map((c) => c.listen()));
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

  /**
   * Applies a re-read profile: added, removed and changed mappings go to every relay as commands
   * (mapping.register, mapping.unregister); unchanged mappings and their live connections are not
   * touched. Every other key needs a restart: those are named in one warning and left as they were.
   * Returns one line per change, for the admin reply and the log.
   */
  reload(next: AgentProfile): string[] {
    const changes = mappingChanges(this.current.mappings, next.mappings);
    const restart = changedKeys(this.current, next, LIVE_KEYS);
    if (changes.length > 0) {
      this.current = { ...this.current, mappings: next.mappings };
      for (const c of this.connections) c.applyMappings(next.mappings);
    }
    for (const c of changes) this.log.info({ change: c }, 'profile reloaded');
    if (restart.length > 0) {
      const line = `${restart.join(', ')} changed: needs a restart`;
      this.log.warn({ keys: restart }, line);
      changes.push(line);
    }
    return changes;
  }

  /** Resets one visitor stream of the session `sessionId` (admin connection.close); false if none held it. */
  closeStream(sessionId: string, streamId: number): boolean {
    return this.connections.some((c) => c.sessionId === sessionId && c.closeStream(streamId));
  }

  /** The diagnostic bundle (status, redacted profile, recent log lines) within `maxBytes` (diag.fetch). */
  diagBundle(maxBytes?: number): Buffer {
    return buildDiagBundle(
      { status: this.status(), profile: this.current, ...(this.logs ? { logs: this.logs } : {}) },
      maxBytes,
    );
  }

  status(): AgentStatus {
    return {
      role: 'agent',
      version: VERSION,
      name: this.current.agent.name,
      startedAt: this.startedAt,
      relays: this.connections.map((c) => c.status()),
      // Mappings are registered with every relay; the first relay's view stands for the mapping table.
      mappings: this.connections[0]?.mappingStatus() ?? [],
    };
  }
}
