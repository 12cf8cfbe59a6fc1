// What the dashboard needs from a relay or agent: snapshots (pulled and pushed), recent log lines, the
// actions on a selection, and close. It knows nothing of the admin endpoint's wire or sockets;
// src/cli/dashboard.ts adapts AdminClient to it.
import type { Status } from '../observe/status.ts';
import type { LogEntry } from '../observe/log-ring.ts';
import type { StatsQueryReply } from '../protocol/index.ts';

/** One live connection to the admin endpoint of a relay or agent, as the dashboard sees it. */
export interface DashboardSource {
  /** One snapshot now; rejects when the connection is gone (the dashboard uses it as a liveness probe). */
  status(): Promise<Status>;
  /** Asks for a snapshot every `intervalMs` (ms) pushed to `listener` until close(). */
  subscribe(intervalMs: number, listener: (s: Status) => void): Promise<void>;
  /** Kicks the named agent's session (relay only); resolves to whether one was kicked. */
  kick(agentName: string): Promise<boolean>;
  /** Resets one visitor connection of a session; resolves to whether it was still open. */
  closeStream?(sessionId: string, streamId: number): Promise<boolean>;
  /** Disables or enables a mapping (relay only); resolves to the number of public ports changed. */
  setMappingDisabled?(name: string, disabled: boolean): Promise<number>;
  /** Re-reads the profile (relay only); resolves to one line per change. */
  reload?(): Promise<string[]>;
  /** Log lines with seq > `after`, oldest first. */
  logs?(after: number, limit?: number): Promise<{ lines: LogEntry[]; lastSeq: number }>;
  /** The named agent's own counters, through the relay (relay only): the LAN columns of the mappings panel. */
  agentStats?(agentName: string): Promise<StatsQueryReply>;
  /** Ends the connection; idempotent. */
  close(): void;
  /**
   * Optional: `listener` is called once when the connection ends by itself (not after close()).
   * Without it the dashboard notices a lost connection by its missing pushes and a failed probe.
   */
  onClose?(listener: (err?: Error) => void): void;
}

/** Opens a new connection; called again every retry after a loss. */
export type ConnectSource = () => Promise<DashboardSource>;
