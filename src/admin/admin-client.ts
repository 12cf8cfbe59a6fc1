// A client of the admin endpoint: connects, authenticates with the token, and calls admin commands.
// Used by `xnat status` and the dashboard; it knows nothing of how snapshots are rendered.
import net from 'node:net';
import { CommandEndpoint } from '../command/endpoint.ts';
import { createRegistry } from '../command/registry.ts';
import {
  configReload,
  adminAuth,
  adminStatus,
  adminSnapshot,
  adminSubscribe,
  callRequest,
  handleOneWay,
  sessionKick,
  connectionClose,
  mappingDisable,
  adminLogs,
  adminAgentStats,
  adminDiag,
  adminDiagBundle,
  DIAG_MAX_BYTES,
  type StatsQueryReply,
} from '../protocol/index.ts';
import { DiagInbox, pullBundle, type PulledBundle } from '../protocol/diag-inbox.ts';

/** Longest wait for admin.diag's reply (it follows the whole transfer, through the relay from an agent), in ms. */
export const DIAG_TIMEOUT_MS = 150_000;
import type { LogEntry } from '../observe/log-ring.ts';
import { XnatError } from '../errors.ts';
import type { Status } from '../observe/status.ts';
import { SocketChannel, MAX_ADMIN_MESSAGE_BYTES } from './socket-channel.ts';

export class AdminClient {
  private constructor(
    private readonly endpoint: CommandEndpoint,
    private readonly socket: net.Socket,
    private readonly onSnapshot: Set<(s: Status) => void>,
    private readonly diagInbox: DiagInbox,
  ) {}

  /** Connects to host:port and authenticates; XNAT_ERR_ADMIN_CONNECT or XNAT_ERR_COMMAND_DENIED on failure. */
  static async connect(host: string, port: number, token: string, timeoutMs = 5_000): Promise<AdminClient> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host, port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new XnatError('XNAT_ERR_ADMIN_CONNECT', { detail: `${host}:${port} timeout` }));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(
          new XnatError('XNAT_ERR_ADMIN_CONNECT', {
            detail: `${host}:${port} ${err.code ?? ''}`,
            cause: err,
          }),
        );
      });
    });
    const listeners = new Set<(s: Status) => void>();
    const registry = createRegistry();
    handleOneWay(registry, adminSnapshot, (msg) => {
      for (const l of listeners) l(msg.snapshot as unknown as Status);
    });
    const diagInbox = new DiagInbox();
    diagInbox.register(registry, adminDiagBundle);
    const endpoint = new CommandEndpoint(new SocketChannel(socket), {
      registry,
      defaultTimeoutMs: timeoutMs,
      maxMessageBytes: MAX_ADMIN_MESSAGE_BYTES,
    });
    const client = new AdminClient(endpoint, socket, listeners, diagInbox);
    try {
      await callRequest(endpoint, adminAuth, { token });
    } catch (err) {
      client.close();
      throw err;
    }
    return client;
  }

  /** Calls `listener` once when the admin connection ends (the dashboard shows its banner at once). */
  onClose(listener: (err?: Error) => void): void {
    this.socket.once('close', () => listener());
  }

  async status(): Promise<Status> {
    return (await callRequest(this.endpoint, adminStatus, {})) as unknown as Status;
  }

  /** Pushes a snapshot to `listener` every intervalMs until close(). */
  async subscribe(intervalMs: number, listener: (s: Status) => void): Promise<void> {
    this.onSnapshot.add(listener);
    await callRequest(this.endpoint, adminSubscribe, { intervalMs });
  }

  async reload(): Promise<string[]> {
    return (await callRequest(this.endpoint, configReload, {})).changes;
  }

  /** The named agent's own counters, through the relay (stats.query over its session). */
  async agentStats(agentName: string): Promise<StatsQueryReply> {
    return callRequest(this.endpoint, adminAgentStats, { agentName });
  }

  /**
   * A diagnostic bundle (admin.diag): this process's, or on a relay the named agent's. Resolves when its
   * bytes begin to arrive (read `source`; `size` is declared); `done` settles with the server's reply.
   */
  diag(agentName?: string, maxBytes = DIAG_MAX_BYTES): Promise<PulledBundle> {
    return pullBundle(this.diagInbox, maxBytes, (transferId) =>
      callRequest(
        this.endpoint,
        adminDiag,
        { transferId, maxBytes, ...(agentName !== undefined ? { agentName } : {}) },
        { timeoutMs: DIAG_TIMEOUT_MS },
      ),
    );
  }

  async kick(agentName: string): Promise<boolean> {
    return (await callRequest(this.endpoint, sessionKick, { agentName })).kicked;
  }

  async closeStream(sessionId: string, streamId: number): Promise<boolean> {
    return (await callRequest(this.endpoint, connectionClose, { sessionId, streamId })).closed;
  }

  async setMappingDisabled(name: string, disabled: boolean): Promise<number> {
    return (await callRequest(this.endpoint, mappingDisable, { name, disabled })).changed;
  }

  /** Log lines after `after` (seq), oldest first. */
  async logs(after = 0, limit = 200): Promise<{ lines: LogEntry[]; lastSeq: number }> {
    return callRequest(this.endpoint, adminLogs, { after, limit });
  }

  close(): void {
    this.endpoint.close();
    this.socket.destroy();
  }
}
