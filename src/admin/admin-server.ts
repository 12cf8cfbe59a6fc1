// The admin endpoint: the command framework over local TCP, token-authenticated, serving status
// snapshots (one-shot and pushed) and admin actions to `xnat status` and the dashboard.
import net from 'node:net';
import { timingSafeEqual, createHash } from 'node:crypto';
import { CommandEndpoint } from '../command/endpoint.ts';
import { createRegistry } from '../command/registry.ts';
import {
  adminAuth,
  adminStatus,
  adminSubscribe,
  adminSnapshot,
  adminUnsubscribe,
  sessionKick,
  configReload,
  handleRequest,
  sendOneWay,
} from '../protocol/index.ts';
import { XnatError } from '../errors.ts';
import type { Logger } from '../observe/log.ts';
import type { Status } from '../observe/status.ts';
import type { HostPort } from '../config/index.ts';
import { realClock, type Clock, type TimerHandle } from '../util/clock.ts';
import { SocketChannel, MAX_ADMIN_MESSAGE_BYTES } from './socket-channel.ts';

/** Wrong tokens allowed per admin connection before it is closed (slows guessing to one connection per try). */
const MAX_AUTH_FAILURES = 3;
/** Cap on admin connections at once; the endpoint is local and for a few operators. */
const MAX_ADMIN_CONNECTIONS = 32;

export interface AdminActions {
  status(): Status;
  /** Kicks the named agent's session (relay only); returns whether one was kicked. */
  kick?(agentName: string): boolean;
  /** Re-reads the profile and applies what can change live; throws the profile's XNAT_ERR_CONFIG_ error. */
  reload?(): string[];
}

export interface AdminServerOptions {
  readonly listen: HostPort;
  readonly token: string;
  readonly actions: AdminActions;
  readonly logger: Logger;
  readonly clock?: Clock;
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

/** Compares tokens in constant time (hashing first makes the lengths equal). */
function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function startAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  const clock = opts.clock ?? realClock;
  const log = opts.logger.child({ what: 'admin' });
  const sockets = new Set<net.Socket>();
  let nextSub = 1;

  const server = net.createServer((socket) => {
    if (sockets.size >= MAX_ADMIN_CONNECTIONS) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    const peer: AdminPeer = { authed: false, failures: 0, subs: new Map() };
    const registry = createRegistry();
    const channel = new SocketChannel(socket);
    // eslint-disable-next-line prefer-const
    let endpoint: CommandEndpoint;
    handleRequest(registry, adminAuth, (req) => {
      if (tokenMatches(req.token, opts.token)) {
        peer.authed = true;
        return { ok: true as const };
      }
      peer.failures++;
      log.warn({ remote: socket.remoteAddress, failures: peer.failures }, 'admin auth failed');
      if (peer.failures >= MAX_AUTH_FAILURES) setImmediate(() => socket.destroy());
      throw new XnatError('XNAT_ERR_COMMAND_DENIED', { detail: 'admin token' });
    });
    handleRequest(registry, adminStatus, () => opts.actions.status() as never);
    handleRequest(registry, adminSubscribe, (req) => {
      const id = nextSub++;
      const push = () => {
        try {
          sendOneWay(endpoint, adminSnapshot, {
            subscriptionId: id,
            snapshot: opts.actions.status() as never,
          });
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
    handleRequest(registry, configReload, () => {
      if (!opts.actions.reload) throw new XnatError('XNAT_ERR_COMMAND_UNKNOWN', { detail: 'reload here' });
      const changes = opts.actions.reload();
      log.info({ changes: changes.length }, 'admin reload');
      return { reloaded: true, changes };
    });
    endpoint = new CommandEndpoint(channel, {
      registry,
      peer,
      clock,
      maxMessageBytes: MAX_ADMIN_MESSAGE_BYTES,
      logger: log,
      // Everything but admin.auth needs an authenticated connection.
      allow: (p, name) => name === adminAuth.name || (p as AdminPeer).authed,
    });
    socket.on('close', () => {
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
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
