// The admin endpoint: the command framework over local TCP, token-authenticated, serving status
// snapshots (one-shot and pushed) and admin actions to `xnat status` and the dashboard.
// Who may connect and for how long before authenticating is admission.ts's business.
import net from 'node:net';
import { EventEmitter } from 'node:events';
import { timingSafeEqual, createHash } from 'node:crypto';
import { CommandEndpoint } from '../command/endpoint.ts';
import { createRegistry } from '../command/registry.ts';
import type { CommandChannel } from '../command/channel.ts';
import { DecodeFailure, MsgType, decodeMessage } from '../command/codec.ts';
import {
  adminAuth,
  adminStatus,
  adminSubscribe,
  adminSnapshot,
  adminUnsubscribe,
  sessionKick,
  configReload,
  connectionClose,
  mappingDisable,
  adminLogs,
  handleRequest,
  sendOneWay,
  adminAgentStats,
  adminDiag,
  adminDiagBundle,
  type StatsQueryReply,
} from '../protocol/index.ts';
import type { Readable } from 'node:stream';
import { XnatError } from '../errors.ts';
import type { Logger } from '../observe/log.ts';
import type { Status } from '../observe/status.ts';
import type { LogRing } from '../observe/log-ring.ts';
import type { HostPort } from '../config/index.ts';
import { realClock, type Clock, type TimerHandle } from '../util/clock.ts';
import { SocketChannel, MAX_ADMIN_MESSAGE_BYTES } from './socket-channel.ts';
import { AdminAdmission, DEFAULT_ADMISSION_LIMITS, type AdmissionLimits } from './admission.ts';

/** Wrong tokens allowed per admin connection before it is closed (slows guessing to one connection per try). */
export const MAX_AUTH_FAILURES = 3;
/** Wait before a wrong token's answer, in ms: with one try at a time, it bounds guesses per connection. */
export const AUTH_FAILURE_DELAY_MS = 250;
/**
 * Largest message before authentication, in bytes: an admin.auth with the longest token (512 characters,
 * up to 1.5 KiB as UTF-8) fits; a stranger cannot make the endpoint buffer more.
 */
export const PRE_AUTH_MAX_MESSAGE_BYTES = 4 * 1024;

/** How long a failed admin.diag waits for the reason its transfer in stopped, in ms. */
const DIAG_REASON_WAIT_MS = 2_000;

export interface AdminActions {
  status(): Status;
  /** Kicks the named agent's session (relay only); returns whether one was kicked. */
  kick?(agentName: string): boolean;
  /** Re-reads the profile and applies what can change live; throws the profile's XNAT_ERR_CONFIG_ error. */
  reload?(): string[] | Promise<string[]>;
  /** Resets one visitor stream of a session; returns whether it existed. */
  closeStream?(sessionId: string, streamId: number): boolean;
  /** Disables or enables a mapping (relay); returns how many public ports it changed. */
  setMappingDisabled?(name: string, disabled: boolean): number;
  /** The process's recent log lines (admin.logs); without it admin.logs answers no lines. */
  readonly logs?: LogRing;
  /** The named agent's own counters through its session (relay only). */
  agentStats?(agentName: string): Promise<StatsQueryReply>;
  /**
   * A diagnostic bundle of at most `maxBytes`: this process's (no agentName), or on a relay the named
   * agent's. `done` (a pulled bundle) settles once its sender confirmed the end.
   */
  diag?(agentName: string | undefined, maxBytes: number): Promise<DiagOut>;
}

/** A bundle on its way out to an admin client: its size and bytes, and how its own transfer in ends. */
export interface DiagOut {
  readonly size: number;
  readonly source: Readable;
  readonly done?: Promise<void>;
}

export interface AdminServerOptions {
  readonly listen: HostPort;
  readonly token: string;
  readonly actions: AdminActions;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Admission caps and deadline; default DEFAULT_ADMISSION_LIMITS (tests shrink them). */
  readonly limits?: Partial<AdmissionLimits>;
}

export interface AdminServer {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

interface AdminPeer {
  authed: boolean;
  failures: number;
  readonly subs: Map<number, TimerHandle>;
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * The channel the endpoint sees: before authentication each message is checked here first (one
 * well-formed admin.auth, and delivery paused until it is answered), so pipelined tries wait their turn.
 */
class GatedChannel extends EventEmitter implements CommandChannel {
  constructor(
    readonly inner: SocketChannel,
    private readonly pass: (body: Buffer) => boolean,
  ) {
    super();
    inner.on('message', (body: Buffer) => {
      if (this.pass(body)) this.emit('message', body);
    });
    inner.on('drain', () => this.emit('drain'));
    inner.on('close', (err?: Error) => this.emit('close', err));
  }

  send(body: Buffer): boolean {
    return this.inner.send(body);
  }
}

/** True when `msg` is a request admin.auth with a payload its schema accepts. */
function isAuthRequest(body: Buffer): boolean {
  const msg = decodeMessage(body, PRE_AUTH_MAX_MESSAGE_BYTES);
  if (msg instanceof DecodeFailure || msg.type !== MsgType.REQUEST || msg.name !== adminAuth.name)
    return false;
  return adminAuth.request.safeParse(msg.payload).success;
}

export function startAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  const clock = opts.clock ?? realClock;
  const log = opts.logger.child({ what: 'admin' });
  const admission = new AdminAdmission(clock, log, { ...DEFAULT_ADMISSION_LIMITS, ...opts.limits });
  const expected = digest(opts.token);
  const sockets = new Set<net.Socket>();
  let nextSub = 1;
  const sleep = (ms: number) => new Promise<void>((done) => clock.setTimeout(done, ms));
  // `at` (wall clock) dates the snapshot: a paused dashboard shows the uptime of the frozen one.
  const snapshot = (): Status => ({ ...opts.actions.status(), admin: admission.snapshot(), at: Date.now() });

  const server = net.createServer((socket) => {
    const channel = new SocketChannel(socket, PRE_AUTH_MAX_MESSAGE_BYTES);
    const ticket = admission.admit(socket.remoteAddress, () => channel.destroy());
    if (!ticket) {
      channel.destroy();
      return;
    }
    sockets.add(socket);
    const peer: AdminPeer = { authed: false, failures: 0, subs: new Map() };
    const gated = new GatedChannel(channel, (body) => {
      if (peer.authed) return true;
      if (!isAuthRequest(body)) {
        admission.reject(ticket, 'badMessages');
        channel.destroy();
        return false;
      }
      channel.pause();
      return true;
    });
    const registry = createRegistry();
    // eslint-disable-next-line prefer-const
    let endpoint: CommandEndpoint;
    handleRequest(registry, adminAuth, async (req) => {
      // Hashing first makes the lengths equal, so the comparison is constant-time whatever was sent.
      if (timingSafeEqual(digest(req.token), expected)) {
        peer.authed = true;
        admission.authenticated(ticket);
        channel.setMaxMessageBytes(MAX_ADMIN_MESSAGE_BYTES);
        setImmediate(() => channel.resume());
        return { ok: true as const };
      }
      peer.failures++;
      admission.authFailed();
      await sleep(AUTH_FAILURE_DELAY_MS);
      // After the answer is written: the next try, or the end of this connection.
      setImmediate(() => {
        if (peer.failures < MAX_AUTH_FAILURES) return channel.resume();
        admission.reject(ticket, 'closedAfterFailures');
        channel.close();
      });
      throw new XnatError('XNAT_ERR_COMMAND_DENIED', { detail: 'admin token' });
    });
    handleRequest(registry, adminStatus, () => snapshot() as never);
    handleRequest(registry, adminSubscribe, (req) => {
      const id = nextSub++;
      const push = () => {
        try {
          sendOneWay(endpoint, adminSnapshot, { subscriptionId: id, snapshot: snapshot() as never });
        } catch {
          peer.subs.get(id)?.cancel();
          peer.subs.delete(id);
        }
      };
      peer.subs.set(id, clock.setInterval(push, req.intervalMs));
      setImmediate(push);
      return { subscriptionId: id };
    });
    handleRequest(registry, adminUnsubscribe, (req) => {
      const t = peer.subs.get(req.subscriptionId);
      t?.cancel();
      return { ok: peer.subs.delete(req.subscriptionId) || t !== undefined };
    });
    handleRequest(registry, sessionKick, (req) => {
      if (!opts.actions.kick) throw new XnatError('XNAT_ERR_COMMAND_UNKNOWN', { detail: 'kick on an agent' });
      const kicked = opts.actions.kick(req.agentName);
      log.info({ agent: req.agentName, kicked }, 'admin kick');
      return { kicked };
    });
    handleRequest(registry, adminAgentStats, (req) => {
      if (!opts.actions.agentStats)
        throw new XnatError('XNAT_ERR_COMMAND_UNKNOWN', { detail: 'agent stats on an agent' });
      return opts.actions.agentStats(req.agentName);
    });
    handleRequest(registry, adminDiag, async (req) => {
      if (!opts.actions.diag) throw new XnatError('XNAT_ERR_COMMAND_UNKNOWN', { detail: 'diag here' });
      const out = await opts.actions.diag(req.agentName, req.maxBytes);
      const upstream = out.done ?? Promise.resolve();
      try {
        await endpoint.sendStream(adminDiagBundle.name, out.source, {
          size: out.size,
          meta: { transferId: req.transferId },
        });
      } catch (err) {
        out.source.destroy();
        // The reason the transfer in stopped (the agent's error, its session's end) says more than ours,
        // if it comes soon: a detached agent's answer may not come before its session expires.
        const why = await Promise.race([
          upstream.then(
            () => undefined,
            (e: unknown) => e,
          ),
          sleep(DIAG_REASON_WAIT_MS).then(() => undefined),
        ]);
        throw why ?? err;
      }
      await upstream;
      log.info({ agent: req.agentName, bytes: out.size }, 'admin diag');
      return { size: out.size };
    });
    handleRequest(registry, configReload, async () => {
      if (!opts.actions.reload) throw new XnatError('XNAT_ERR_COMMAND_UNKNOWN', { detail: 'reload here' });
      const changes = await opts.actions.reload();
      log.info({ changes: changes.length }, 'admin reload');
      return { reloaded: true, changes };
    });
    handleRequest(registry, connectionClose, (req) => {
      if (!opts.actions.closeStream)
        throw new XnatError('XNAT_ERR_COMMAND_UNKNOWN', { detail: 'close here' });
      const closed = opts.actions.closeStream(req.sessionId, req.streamId);
      log.info({ session: req.sessionId.slice(0, 12), stream: req.streamId, closed }, 'admin close');
      return { closed };
    });
    handleRequest(registry, mappingDisable, (req) => {
      if (!opts.actions.setMappingDisabled)
        throw new XnatError('XNAT_ERR_COMMAND_UNKNOWN', { detail: 'mapping.disable on an agent' });
      const changed = opts.actions.setMappingDisabled(req.name, req.disabled);
      log.info({ mapping: req.name, disabled: req.disabled, changed }, 'admin mapping');
      return { changed };
    });
    handleRequest(registry, adminLogs, (req) => {
      const ring = opts.actions.logs;
      return {
        lines: ring ? ring.since(req.after, req.limit, req.minLevel) : [],
        lastSeq: ring?.lastSeq ?? 0,
      };
    });
    endpoint = new CommandEndpoint(gated, {
      registry,
      peer,
      clock,
      maxMessageBytes: MAX_ADMIN_MESSAGE_BYTES,
      logger: log,
      // The gate lets only admin.auth through before authentication; this says so again.
      allow: (p, name) => name === adminAuth.name || (p as AdminPeer).authed,
    });
    channel.on('close', (err?: Error) => {
      // A message over the cap (before auth: over PRE_AUTH_MAX_MESSAGE_BYTES) ends the connection.
      if (err instanceof XnatError && err.code === 'XNAT_ERR_WIRE_OVERSIZE')
        admission.reject(ticket, 'badMessages');
    });
    socket.on('close', () => {
      admission.release(ticket);
      sockets.delete(socket);
      for (const t of peer.subs.values()) t.cancel();
      peer.subs.clear();
      endpoint.close();
    });
  });

  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new XnatError('XNAT_ERR_ADMIN_LISTEN', {
          detail: `${opts.listen.host}:${opts.listen.port} ${err.code ?? ''}`,
          cause: err,
        }),
      ),
    );
    server.listen({ host: opts.listen.host, port: opts.listen.port }, () => {
      const addr = server.address() as net.AddressInfo;
      server.removeAllListeners('error');
      server.on('error', () => {});
      log.info({ address: addr.address, port: addr.port }, 'listening');
      resolve({
        address: addr.address,
        port: addr.port,
        close: () =>
          new Promise<void>((done) => {
            admission.stop();
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
