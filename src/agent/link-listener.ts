// Reverse mode's listen socket on the agent: accepts the relay's TCP connections, runs the initiator
// handshake on each at once (only the relay can answer message 2) and hands established links to the
// session client's dial(). It knows nothing of sessions; strangers cost a bounded slot and never a waiter.
import type { Socket } from 'node:net';
import { listenTcp, type TcpListener } from '../transport/tcp.ts';
import type { Link } from '../link/link.ts';
import { toXnatError, XnatError } from '../errors.ts';
import type { HostPort } from '../util/ports.ts';
import type { Logger } from '../observe/log.ts';

/**
 * Unfinished handshakes at once. The relay's own needs one or two (its hedged redials); a newcomer drops
 * the oldest, so a stranger holding connections open can delay the relay's by one round trip, not block it.
 */
export const REVERSE_MAX_PENDING = 16;
/** Unfinished handshakes of one source address: a newcomer from it drops its own oldest first. */
export const REVERSE_MAX_PENDING_PER_SOURCE = 4;
/**
 * Established links kept for a dial() to come (the relay's redial can beat the session client's own
 * detection of the dead link by a few hundred ms). More are closed oldest first.
 */
export const REVERSE_MAX_READY = 2;

export interface LinkListenerOptions {
  readonly listen: HostPort;
  /** Runs the agent's side of the link handshake over an accepted socket (connectLink with its deadline). */
  readonly handshake: (socket: Socket) => Promise<Link>;
  /** The listen socket is bound (the real port when 0 was asked). */
  readonly onListening?: (at: { address: string; port: number }) => void;
  /** A handshake on the listen socket failed (a stranger, or a relay with other keys). */
  readonly onFailure?: (err: XnatError, remote: string) => void;
  readonly logger: Logger;
  readonly maxPending?: number;
  readonly maxPendingPerSource?: number;
}

/** Counters of the listen socket, for status. */
export interface LinkListenerStats {
  readonly accepted: number;
  readonly established: number;
  readonly failed: number;
  /** Unfinished handshakes dropped to make room for newer connections. */
  readonly evicted: number;
  readonly pending: number;
}

interface Pending {
  readonly socket: Socket;
  readonly source: string;
}

interface Waiter {
  readonly resolve: (link: Link) => void;
  readonly reject: (err: unknown) => void;
  readonly signal: AbortSignal;
  readonly onAbort: () => void;
}

export class LinkListener {
  private server: TcpListener | undefined;
  /** The bind under way or done; cleared after a failure so the next dial() tries again. */
  private binding: Promise<{ address: string; port: number }> | undefined;
  private closed = false;
  /** Oldest first (a Set keeps insertion order). */
  private readonly pending = new Set<Pending>();
  private readonly ready: Link[] = [];
  private readonly waiters: Waiter[] = [];
  private counts = { accepted: 0, established: 0, failed: 0, evicted: 0 };
  private readonly maxPending: number;
  private readonly maxPerSource: number;

  constructor(private readonly opts: LinkListenerOptions) {
    this.maxPending = opts.maxPending ?? REVERSE_MAX_PENDING;
    this.maxPerSource = opts.maxPendingPerSource ?? REVERSE_MAX_PENDING_PER_SOURCE;
  }

  /**
   * Binds the listen address once (XNAT_ERR_LINK_LISTEN when taken: a later call tries again); resolves
   * with the bound address (options.onListening hears of it once).
   */
  ensureBound(): Promise<{ address: string; port: number }> {
    this.binding ??= this.bind().then(
      (at) => {
        this.opts.onListening?.(at);
        return at;
      },
      (err: unknown) => {
        this.binding = undefined;
        throw err;
      },
    );
    return this.binding;
  }

  private async bind(): Promise<{ address: string; port: number }> {
    const l = await listenTcp(this.opts.listen.host, this.opts.listen.port, (s) => this.onSocket(s));
    if (this.closed) {
      await l.close();
      throw new XnatError('XNAT_ERR_SESSION_CLOSED', { detail: 'closed while binding' });
    }
    this.server = l;
    return { address: l.address, port: l.port };
  }

  /** The bound address, once started. */
  get bound(): { address: string; port: number } | undefined {
    return this.server && { address: this.server.address, port: this.server.port };
  }

  stats(): LinkListenerStats {
    return { ...this.counts, pending: this.pending.size };
  }

  /**
   * The next established link from the relay: one kept ready, else the next to complete. Never rejects
   * for a failed handshake (that was someone else's connection); only for `signal` or close().
   */
  async next(signal: AbortSignal): Promise<Link> {
    await this.ensureBound();
    return this.take(signal);
  }

  private take(signal: AbortSignal): Promise<Link> {
    if (signal.aborted) return Promise.reject(signal.reason as unknown);
    if (this.closed) return Promise.reject(new XnatError('XNAT_ERR_SESSION_CLOSED'));
    const link = this.ready.pop();
    if (link) return Promise.resolve(link);
    return new Promise<Link>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          this.dropWaiter(waiter);
          reject(signal.reason as unknown);
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Stops listening, drops unfinished handshakes and kept links, and fails waiting dials. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending) p.socket.destroy();
    this.pending.clear();
    for (const l of this.ready.splice(0)) l.destroy(new XnatError('XNAT_ERR_SESSION_CLOSED'));
    for (const w of this.waiters.splice(0)) {
      w.signal.removeEventListener('abort', w.onAbort);
      w.reject(new XnatError('XNAT_ERR_SESSION_CLOSED'));
    }
    await this.server?.close();
  }

  private onSocket(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.counts.accepted++;
    const source = socket.remoteAddress ?? '?';
    const remote = `${source}:${socket.remotePort ?? 0}`;
    this.makeRoom(source);
    const entry: Pending = { socket, source };
    this.pending.add(entry);
    this.opts.handshake(socket).then(
      (link) => {
        this.pending.delete(entry);
        if (this.closed) return link.destroy(new XnatError('XNAT_ERR_SESSION_CLOSED'));
        this.counts.established++;
        this.opts.logger.debug({ remote }, 'relay link accepted');
        this.deliver(link);
      },
      (err: unknown) => {
        this.pending.delete(entry);
        if (this.closed) return;
        this.counts.failed++;
        const e = toXnatError(err);
        this.opts.logger.debug({ remote, code: e.code, detail: e.detail }, 'reverse link handshake failed');
        this.opts.onFailure?.(e, remote);
      },
    );
  }

  /** Drops the oldest unfinished handshake of `source` at its cap, else the oldest of all at the total cap. */
  private makeRoom(source: string): void {
    let own: Pending | undefined;
    let mine = 0;
    for (const p of this.pending) {
      if (p.source !== source) continue;
      own ??= p;
      mine++;
    }
    const victim =
      own && mine >= this.maxPerSource
        ? own
        : this.pending.size >= this.maxPending
          ? this.pending.values().next().value
          : undefined;
    if (!victim) return;
    this.pending.delete(victim);
    this.counts.evicted++;
    // The handshake's own promise rejects next (its socket is gone) and counts it as failed too.
    victim.socket.destroy();
  }

  /** To the newest waiting dial (the one furthest from its deadline), else kept ready. */
  private deliver(link: Link): void {
    const waiter = this.waiters.pop();
    if (waiter) {
      waiter.signal.removeEventListener('abort', waiter.onAbort);
      waiter.resolve(link);
      return;
    }
    this.ready.push(link);
    // A kept link the relay gives up on (no session frame in time) must not be handed out dead.
    link.once('close', () => {
      const i = this.ready.indexOf(link);
      if (i >= 0) this.ready.splice(i, 1);
    });
    while (this.ready.length > REVERSE_MAX_READY)
      this.ready.shift()!.destroy(new XnatError('XNAT_ERR_SESSION_CLOSED', { detail: 'a newer link came' }));
  }

  private dropWaiter(w: Waiter): void {
    const i = this.waiters.indexOf(w);
    if (i >= 0) this.waiters.splice(i, 1);
  }
}
