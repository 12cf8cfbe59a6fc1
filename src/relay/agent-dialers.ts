// The relay's reverse-mode dialers, one per agent entry with `dial` (agent-dialer.ts), keyed by agent key:
// started with the relay, changed by reload, woken when an agent's session loses its link.
import type { Socket } from 'node:net';
import type { Link } from '../link/link.ts';
import { formatHostPort, type AgentEntry, type RelayReconnectProfile } from '../config/index.ts';
import type { Logger } from '../observe/log.ts';
import type { AgentDialerStatus } from '../observe/status.ts';
import type { Clock } from '../util/clock.ts';
import { AgentDialer, type AgentLinkState } from './agent-dialer.ts';

/** The redial pace when a hand-built profile has no `reconnect` (the schema's defaults). */
const DEFAULT_RECONNECT: RelayReconnectProfile = {
  initialDelayMs: 200,
  maxDelayMs: 10_000,
  authRetryDelayMs: 60_000,
};

export interface AgentDialersOptions {
  readonly reconnect: RelayReconnectProfile | undefined;
  readonly accept: (socket: Socket, expectKey: Buffer) => Promise<Link>;
  readonly attach: (link: Link, remote: string) => void;
  /** The agent's session by hex key, as the relay sees it. */
  readonly agentState: (keyHex: string) => AgentLinkState;
  readonly clock: Clock;
  readonly logger: Logger;
}

export class AgentDialers {
  private readonly byKey = new Map<string, AgentDialer>();
  private closed = false;

  constructor(private readonly o: AgentDialersOptions) {}

  /** Starts a dialer for each entry with `dial` that has none. */
  start(agents: Iterable<AgentEntry>): void {
    for (const a of agents) this.add(a);
  }

  /** Did our dialer for this agent (hex key) dial `link`? False for a link the agent dialed in itself. */
  dialed(keyHex: string, link: object | undefined): boolean {
    return link !== undefined && (this.byKey.get(keyHex)?.owns(link) ?? false);
  }

  /** The agent's session lost its link or ended: its dialer (if any) dials soon. */
  wake(keyHex: string): void {
    this.byKey.get(keyHex)?.wake();
  }

  /**
   * Applies a reloaded agent list: dialers of entries gone, or whose `dial` went or moved, stop; new ones
   * start. Pushes one line per change.
   */
  reload(next: ReadonlyMap<string, AgentEntry>, changes: string[]): void {
    for (const [key, d] of this.byKey) {
      const entry = next.get(key);
      if (entry?.dial && formatHostPort(entry.dial) === formatHostPort(d.entry.dial!)) continue;
      d.close();
      this.byKey.delete(key);
      if (entry && !entry.dial) changes.push(`agent ${entry.name}: no longer dialed`);
    }
    for (const [key, entry] of next) {
      if (!entry.dial || this.byKey.has(key)) continue;
      this.add(entry);
      changes.push(`agent ${entry.name}: dialed at ${formatHostPort(entry.dial)}`);
    }
  }

  status(): AgentDialerStatus[] {
    return [...this.byKey.values()].map((d) => d.status());
  }

  /** Stops every dialer; their links stay for the sessions' graceful close (the relay is stopping). */
  close(): void {
    this.closed = true;
    for (const d of this.byKey.values()) d.close(true);
    this.byKey.clear();
  }

  private add(agent: AgentEntry): void {
    const dial = agent.dial;
    const key = agent.publicKey.toString('hex');
    if (!dial || this.closed || this.byKey.has(key)) return;
    const dialer = new AgentDialer({
      agent: { ...agent, dial },
      reconnect: this.o.reconnect ?? DEFAULT_RECONNECT,
      accept: this.o.accept,
      attach: this.o.attach,
      agentState: () => this.o.agentState(key),
      clock: this.o.clock,
      logger: this.o.logger,
    });
    this.byKey.set(key, dialer);
    dialer.start();
  }
}
