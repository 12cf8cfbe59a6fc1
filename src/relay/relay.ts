// The relay: accepts agents on its control port, authenticates them, runs their sessions and public ports.
// It knows nothing of the CLI; `xnat relay` builds one from a profile and closes it on a signal.
import type { Socket } from 'node:net';
import { LinkAcceptor } from '../link/link.ts';
import { publicKeyFromPrivate, keyFingerprint } from '../crypto/keys.ts';
import { listenTcp, type TcpListener } from '../transport/tcp.ts';
import { bindUdp, type UdpSocket } from '../transport/udp.ts';
import { UdpPathTable } from '../link/udp-path-table.ts';
import { SessionServer, type Session } from '../session/index.ts';
import { changedKeys, type AgentEntry, type RelayProfile } from '../config/index.ts';
import type { Logger } from '../observe/log.ts';
import { countCode, type RelayStatus, type MappingStatus } from '../observe/status.ts';
import { toXnatError } from '../errors.ts';
import { realClock, type Clock } from '../util/clock.ts';
import { MappingTable } from './mapping-table.ts';
import { AgentSession } from './agent-session.ts';
import { mappingEntryStatus } from './mapping-status.ts';
import { VERSION } from '../util/version.ts';
import {
  callRequest,
  relayShutdown,
  sendOneWay,
  statsQuery,
  type StatsQueryReply,
} from '../protocol/index.ts';
import { XnatError } from '../errors.ts';
import type { CommandDef } from '../command/registry.ts';
import { noEvents, type EventSink } from '../observe/events.ts';
import { fetchAgentDiag } from './diag-relay.ts';
import type { PulledBundle } from '../protocol/diag-inbox.ts';
import type { Link } from '../link/link.ts';
import type { AgentLinkState } from './agent-dialer.ts';
import { AgentDialers } from './agent-dialers.ts';

function bufEq(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.equals(b));
}

/** Top-level keys reload() applies live; a change anywhere else needs a restart. */
const LIVE_KEYS: ReadonlySet<string> = new Set(['agents']);

/** How long close() waits for sessions to end gracefully (acks, the shutdown notice) before cutting links. */
const SHUTDOWN_GRACE_MS = 2_000;

export interface RelayOptions {
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Embedder hooks (src/api/): lifecycle events and extra commands; none for the CLI's bare relay. */
  readonly hooks?: RelayHooks;
}

/** What an embedding application hooks into; each one is optional. */
export interface RelayHooks {
  readonly onEvent?: EventSink;
  /** Looks up an embedder's command by name, for names xnat's own registry does not have. */
  readonly appCommands?: (name: string) => CommandDef | undefined;
}

export class Relay {
  readonly startedAt = Date.now();
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly agentsByKey: Map<string, AgentEntry>;
  private readonly table: MappingTable;
  private readonly sessions = new Set<AgentSession>();
  private acceptor: LinkAcceptor | undefined;
  private server: SessionServer | undefined;
  private control: TcpListener | undefined;
  /** The UDP path's socket, on the control port's number, and its paths by receiver index. */
  private udpSocket: UdpSocket | undefined;
  private readonly udpTable = new UdpPathTable();
  private closing = false;
  /** The visitors block in force (reload compares against it). */
  private visitorRules: RelayProfile['visitors'];
  private readonly hooks: RelayHooks;
  /** Failed link handshakes by error code, for status and metrics. */
  private readonly handshakeFailures: Record<string, number> = {};
  /** Reverse mode: a dialer per agent entry with `dial`. */
  private readonly dialers: AgentDialers;

  constructor(
    readonly profile: RelayProfile,
    options: RelayOptions,
  ) {
    this.log = options.logger;
    this.clock = options.clock ?? realClock;
    this.hooks = options.hooks ?? {};
    this.agentsByKey = new Map(profile.agents.map((a) => [a.publicKey.toString('hex'), a]));
    this.table = new MappingTable(profile.relay.publicHost, this.log, Math.random, this.clock, {
      maxFlowsPerMapping: profile.tuning.maxFlowsPerMapping,
      maxFlowsPerSource: profile.tuning.maxFlowsPerSource,
    });
    this.table.visitors.update(profile.visitors);
    this.visitorRules = profile.visitors;
    this.dialers = new AgentDialers({
      reconnect: profile.reconnect,
      accept: (socket, expectKey) => this.admit(socket, expectKey),
      attach: (link, remote) => this.server?.attachLink(link, remote),
      agentState: (key) => this.agentState(key),
      clock: this.clock,
      logger: this.log,
    });
  }

  /** Opens the control port; resolves once it listens (the `listening` line names the real port). */
  async start(): Promise<void> {
    const { relay, tuning } = this.profile;
    this.acceptor = new LinkAcceptor({
      staticKeys: { privateKey: relay.privateKey, publicKey: publicKeyFromPrivate(relay.privateKey) },
      lookupAgent: (key) => {
        const agent = this.agentsByKey.get(key.toString('hex'));
        return agent ? { psk: agent.psk } : undefined;
      },
      handshakeTimeoutMs: relay.handshakeTimeoutMs,
      maxPendingHandshakes: relay.maxPendingHandshakes,
      maxPendingHandshakesPerSource: relay.maxPendingHandshakesPerSource,
      firstMessageTimeoutMs: relay.firstMessageTimeoutMs,
      keepaliveIntervalMs: tuning.keepaliveIntervalMs,
      keepaliveTimeoutMs: tuning.keepaliveTimeoutMs,
      cipherBackend: tuning.cipherBackend,
      cipherSuites: relay.cipherSuites,
      clock: this.clock,
      logger: this.log,
    });
    this.server = new SessionServer({
      resumeWindowMs: relay.resumeWindowMs,
      replayBufferBytes: tuning.replayBufferBytes,
      clock: this.clock,
      logger: this.log,
    });
    this.server.on('session', (session: Session) => this.onSession(session));
    const listener = await listenTcp(relay.listen.host, relay.listen.port, (socket) => this.onSocket(socket));
    this.control = listener;
    this.log.info(
      {
        what: 'control',
        address: listener.address,
        port: listener.port,
        publicKey: keyFingerprint(publicKeyFromPrivate(relay.privateKey)),
      },
      'listening',
    );
    if (tuning.udpPath !== 'off') await this.listenUdpPath(relay.listen.host, listener.port);
    this.dialers.start(this.profile.agents);
  }

  /** The agent's session as the dialers see it: attached wins over detached (a takeover under way). */
  private agentState(keyHex: string): AgentLinkState {
    let state: AgentLinkState = 'none';
    for (const s of this.sessions) {
      if (s.session.agentKey.toString('hex') !== keyHex) continue;
      if (s.session.state === 'attached') return 'attached';
      if (s.session.state === 'detached') state = 'detached';
    }
    return state;
  }

  /**
   * The UDP path listens on the control port's number, so an agent needs no second address. Without it
   * (the port is taken for UDP, say) datagrams take the TCP lane: a warning, never a failure to start.
   */
  private async listenUdpPath(host: string, port: number): Promise<void> {
    try {
      this.udpSocket = await bindUdp({ host, port }, (data, address, p) =>
        this.udpTable.dispatch(data, { address, port: p }),
      );
      this.log.info(
        { what: 'udp-path', address: this.udpSocket.address, port: this.udpSocket.port },
        'listening',
      );
    } catch (err) {
      const e = toXnatError(err);
      this.log.warn({ code: e.code, detail: e.detail }, 'udp path unavailable, datagrams take the tcp lane');
    }
  }

  status(): RelayStatus {
    const dialers = this.dialers.status();
    const mappings: MappingStatus[] = this.table.list().map((e) => ({
      ...mappingEntryStatus(e, this.table.publicHost),
      servers: this.table.serverStatus(e),
      visitorsRefused: this.table.visitors.refusedFor(e.name),
    }));
    return {
      role: 'relay',
      version: VERSION,
      startedAt: this.startedAt,
      control: this.control ? { address: this.control.address, port: this.control.port } : undefined,
      ...(this.udpSocket ? { udpPath: { port: this.udpSocket.port, ...this.udpTable.stats } } : {}),
      ...(this.acceptor
        ? { handshakes: { ...this.acceptor.stats(), failuresByCode: { ...this.handshakeFailures } } }
        : {}),
      sessions: [...this.sessions].map((s) => ({
        ...s.status(),
        dialedBy: this.dialers.dialed(s.session.agentKey.toString('hex'), s.session.link)
          ? ('relay' as const)
          : ('agent' as const),
      })),
      ...(dialers.length > 0 ? { dialers } : {}),
      mappings,
      visitorsRefused: { ...this.table.visitors.refused },
    };
  }

  /** The live session of the named agent (the newest, if a takeover is under way), for embedders' commands. */
  sessionOf(agentName: string): AgentSession | undefined {
    let found: AgentSession | undefined;
    for (const s of this.sessions) if (s.agentName === agentName && s.session.state !== 'closed') found = s;
    return found;
  }

  /** The named agent's own counters (its LAN targets, per mapping), asked over its session with stats.query. */
  agentStats(agentName: string): Promise<StatsQueryReply> {
    const s = this.sessionOf(agentName);
    if (!s) return Promise.reject(new XnatError('XNAT_ERR_COMMAND_NO_SESSION', { detail: agentName }));
    return callRequest(s.endpoint, statsQuery, {}, { timeoutMs: 10_000 });
  }

  /** The named agent's diagnostic bundle, asked over its session (diag.fetch) and handed on as it arrives. */
  agentDiag(agentName: string, maxBytes?: number): Promise<PulledBundle> {
    const known = [...this.agentsByKey.values()].some((a) => a.name === agentName);
    return fetchAgentDiag(agentName, known, this.sessionOf(agentName), maxBytes);
  }

  /** Kicks the sessions of the named agent; returns how many were kicked. */
  kick(agentName: string): number {
    let n = 0;
    for (const s of this.sessions) {
      if (s.agentName === agentName) {
        s.kick();
        n++;
      }
    }
    return n;
  }

  /**
   * Resets one open visitor stream (admin connection.close); the visitor's socket gets a reset. Returns
   * whether a session held it.
   */
  closeStream(sessionId: string, streamId: number): boolean {
    for (const s of this.sessions) {
      if (s.session.id.toString('hex') === sessionId) return s.resetStream(streamId);
    }
    return false;
  }

  /** Disables or enables every public port of the named mapping; returns how many there were. */
  setMappingDisabled(name: string, disabled: boolean): number {
    const entries = this.table.list().filter((e) => e.name === name);
    for (const e of entries) e.disabled = disabled;
    if (entries.length > 0)
      this.log.info({ mapping: name }, disabled ? 'mapping disabled' : 'mapping enabled');
    return entries.length;
  }

  /**
   * Applies a re-read profile: new agents are accepted, removed agents' sessions are kicked, changed psks
   * apply to the next handshake, and a narrowed allow list closes the ports it no longer covers at once
   * (their visitors reset; the agent is told, mapping.revoked). Every other key (listen address, keys,
   * tuning, admin, metrics, log) needs a restart: those are named in one warning and left as they were.
   * Returns one line per change, for the admin reply and the log.
   */
  async reload(next: RelayProfile): Promise<string[]> {
    const changes: string[] = [];
    const restart = changedKeys(this.profile, next, LIVE_KEYS);
    const nextByKey = new Map(next.agents.map((a) => [a.publicKey.toString('hex'), a]));
    for (const [key, old] of this.agentsByKey) {
      if (!nextByKey.has(key)) changes.push(`agent ${old.name} removed`);
    }
    for (const [key, entry] of nextByKey) {
      const old = this.agentsByKey.get(key);
      if (!old) changes.push(`agent ${entry.name} added`);
      else if (JSON.stringify(old.allow) !== JSON.stringify(entry.allow) || !bufEq(old.psk, entry.psk)) {
        changes.push(`agent ${entry.name} changed`);
      }
    }
    // Who may visit applies to the next visitor; connections already open stay.
    if (JSON.stringify(next.visitors) !== JSON.stringify(this.visitorRules)) changes.push('visitors changed');
    this.table.visitors.update(next.visitors);
    this.visitorRules = next.visitors;
    this.agentsByKey.clear();
    for (const [k, v] of nextByKey) this.agentsByKey.set(k, v);
    this.dialers.reload(nextByKey, changes);
    const revoking: Promise<void>[] = [];
    for (const s of this.sessions) {
      const entry = nextByKey.get(s.session.agentKey.toString('hex'));
      if (!entry) {
        s.kick();
        continue;
      }
      revoking.push(
        s.applyAllow(entry).then((names) => {
          for (const n of names)
            changes.push(`mapping ${n} of agent ${entry.name} closed: no longer allowed`);
        }),
      );
    }
    await Promise.all(revoking);
    for (const c of changes) this.log.info({ change: c }, 'profile reloaded');
    if (restart.length > 0) {
      const line = `${restart.join(', ')} changed: needs a restart`;
      this.log.warn({ keys: restart }, line);
      changes.push(line);
    }
    return changes;
  }

  /** Stops accepting, tells agents (relay.shutdown), closes sessions and public ports. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    // Stop accepting first, but keep live links so the shutdown notice and the graceful closes get out.
    this.control?.server.close();
    this.dialers.close();
    this.acceptor?.close();
    const ended: Promise<void>[] = [];
    for (const s of this.sessions) {
      ended.push(new Promise<void>((resolve) => s.session.once('closed', () => resolve())));
      try {
        sendOneWay(s.endpoint, relayShutdown, { reason: 'relay stopping', reconnectAfterMs: 1000 });
      } catch {
        // A session already closing cannot take the notice; it is going away anyway.
      }
      s.session.close();
    }
    await Promise.race([
      Promise.all(ended),
      new Promise((r) => this.clock.setTimeout(() => r(undefined), SHUTDOWN_GRACE_MS)),
    ]);
    await this.control?.close();
    this.udpTable.closeAll();
    await this.udpSocket?.close();
    this.server?.close();
    await this.table.closeAll();
  }

  private onSocket(socket: Socket): void {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    if (this.closing || !this.acceptor || !this.server) {
      socket.destroy();
      return;
    }
    const server = this.server;
    this.admit(socket).then(
      (link) => {
        this.log.debug({ remote, agentKey: keyFingerprint(link.remoteStaticKey) }, 'link accepted');
        server.attachLink(link, remote);
      },
      () => {},
    );
  }

  /**
   * The one acceptance path of links, inbound and dialed (reverse mode, `expectKey` set): admission,
   * preface, handshake. Failures are counted here and logged by the acceptor (aggregated for strangers,
   * `link rejected` for peers that knew our key).
   */
  private admit(socket: Socket, expectKey?: Buffer): Promise<Link> {
    if (this.closing || !this.acceptor) {
      socket.destroy();
      return Promise.reject(new XnatError('XNAT_ERR_SESSION_CLOSED', { detail: 'relay stopping' }));
    }
    return this.acceptor.accept(socket, expectKey).catch((err: unknown) => {
      countCode(this.handshakeFailures, toXnatError(err).code);
      throw err;
    });
  }

  private onSession(session: Session): void {
    const agent = this.agentsByKey.get(session.agentKey.toString('hex'));
    if (!agent) {
      session.destroy();
      return;
    }
    const ctx = new AgentSession(session, agent, {
      table: this.table,
      tuning: this.profile.tuning,
      resumeWindowMs: this.profile.relay.resumeWindowMs,
      logger: this.log,
      clock: this.clock,
      onEvent: this.hooks.onEvent ?? noEvents,
      ...(this.hooks.appCommands ? { appCommands: this.hooks.appCommands } : {}),
      ...(this.udpSocket ? { udpPaths: { table: this.udpTable, socket: this.udpSocket } } : {}),
    });
    this.sessions.add(ctx);
    // Reverse mode: a session that lost its link (or ended) is the dialer's cue.
    const wake = () => this.dialers.wake(session.agentKey.toString('hex'));
    session.on('detached', wake);
    session.on('closed', () => {
      this.sessions.delete(ctx);
      wake();
    });
  }
}
