// The relay side: reads each new link's first frame and opens, resumes, takes over or refuses a session.
// It knows nothing of how links are accepted (the caller hands over established links) nor of mappings.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { XnatError, type ErrorCode } from '../errors.ts';
import type { Logger } from '../observe/log.ts';
import { FrameType, type Frame, type SessionResumeFrame } from '../wire/frame.ts';
import { newSessionIdentity, verifyResumeProof } from './resume-proof.ts';
import { Session } from './session.ts';
import { LinkPort, type SessionLink } from './session-link.ts';
import {
  ENDED_SESSIONS_REMEMBERED,
  resolveSessionOptions,
  SESSION_HANDSHAKE_TIMEOUT_MS,
  SESSION_PROTOCOL_VERSION,
  type ResolvedSessionOptions,
  type SessionOptions,
} from './session-options.ts';

/** Two takeovers of one agent key within this window mean two agents share it, in ms (10 min). */
const TAKEOVER_WINDOW_MS = 10 * 60_000;

/** Relay-side options. */
export interface SessionServerOptions extends SessionOptions {
  /** Detached sessions expire after this many ms; default 120 000. */
  resumeWindowMs?: number;
  /** Deadline for a new link's first frame, in ms; default 10 000. */
  handshakeTimeoutMs?: number;
  /** Random bytes for session ids and resume secrets; default node:crypto randomBytes. */
  randomBytes?: (n: number) => Buffer;
}

/**
 * Relay side. Events: 'session' (session) for each new session, emitted after any older session of the
 * same agent key was closed with XNAT_ERR_SESSION_REPLACED.
 */
export class SessionServer extends EventEmitter {
  private readonly options: SessionServerOptions;
  private readonly opts: ResolvedSessionOptions;
  private readonly logger: Logger;
  private readonly handshakeTimeoutMs: number;
  private readonly random: (n: number) => Buffer;
  private readonly byId = new Map<string, Session>();
  private readonly byKey = new Map<string, Session>();
  /** Why recently ended sessions ended (hex id -> code), oldest first, bounded. */
  private readonly ended = new Map<string, ErrorCode>();
  private readonly pending = new Set<LinkPort>();
  /** Per agent key (hex): the address of its latest link, and when its session was taken over lately. */
  private readonly remoteByKey = new Map<string, string>();
  private readonly takeovers = new Map<string, { at: number[]; warnedAt: number }>();
  private isClosed = false;

  constructor(options: SessionServerOptions = {}) {
    super();
    this.options = options;
    this.opts = resolveSessionOptions(options);
    this.logger = this.opts.logger;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? SESSION_HANDSHAKE_TIMEOUT_MS;
    this.random = options.randomBytes ?? randomBytes;
  }

  /** Live sessions (attached or detached) by hex id. */
  get sessions(): ReadonlyMap<string, Session> {
    return this.byId;
  }

  /** Links that have not sent their first session frame yet. */
  get pendingLinks(): number {
    return this.pending.size;
  }

  /**
   * Takes an established link (authenticated agent key = link.remoteStaticKey); reads its first frame.
   * `remote` (the peer's address, for log lines) is optional.
   */
  attachLink(link: SessionLink, remote = '?'): void {
    if (this.isClosed) {
      link.close('XNAT_ERR_SESSION_CLOSED');
      return;
    }
    const port = new LinkPort(link, this.logger);
    port.remote = remote;
    this.pending.add(port);
    const timer = this.opts.clock.setTimeout(
      () =>
        port.destroy(
          new XnatError('XNAT_ERR_SESSION_TIMEOUT', { detail: 'no SESSION_OPEN or SESSION_RESUME' }),
        ),
      this.handshakeTimeoutMs,
    );
    const settle = () => {
      timer.cancel();
      this.pending.delete(port);
    };
    port.onClose = (err) => {
      settle();
      this.logger.debug({ code: err?.code }, 'link closed before a session frame');
    };
    port.onFrame = (frame) => {
      settle();
      // Until a session takes the link over, anything after the first frame is ignored.
      port.onFrame = () => {};
      port.onClose = () => {};
      this.firstFrame(port, frame);
    };
  }

  /** Closes every session gracefully and drops links still in their handshake. Idempotent. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const port of [...this.pending]) port.destroy(new XnatError('XNAT_ERR_SESSION_CLOSED'));
    this.pending.clear();
    for (const session of [...this.byId.values()]) session.close();
  }

  private firstFrame(port: LinkPort, frame: Frame): void {
    switch (frame.type) {
      case FrameType.SESSION_OPEN:
        if (frame.version !== SESSION_PROTOCOL_VERSION) {
          this.refuse(port, 'XNAT_ERR_SESSION_VERSION', `version ${frame.version}`);
          return;
        }
        this.open(port);
        return;
      case FrameType.SESSION_RESUME:
        this.resume(port, frame);
        return;
      default:
        this.refuse(port, 'XNAT_ERR_SESSION_PROTOCOL', `first frame type ${frame.type}`);
    }
  }

  private open(port: LinkPort): void {
    const agentKey = Buffer.from(port.link.remoteStaticKey);
    const keyHex = agentKey.toString('hex');
    const old = this.byKey.get(keyHex);
    if (old) {
      // Takeover: a restarted agent gets its identity (and so its ports) back at once, even when the old
      // link still looks alive because it is half-open.
      const previous = this.remoteByKey.get(keyHex) ?? '?';
      this.logger.warn(
        { session: old.idHex, previous, remote: port.remote },
        'session replaced by a new SESSION_OPEN of the same agent key',
      );
      this.noteTakeover(keyHex, agentKey, previous, port.remote);
      old.destroy(
        new XnatError('XNAT_ERR_SESSION_REPLACED', { detail: 'new SESSION_OPEN from the same agent key' }),
      );
    }
    const { id, resumeSecret } = newSessionIdentity(this.random);
    const session = new Session(
      { id, role: 'relay', agentKey, resumeSecret },
      { ...this.options, clock: this.opts.clock, logger: this.logger },
    );
    const idHex = session.idHex;
    this.byId.set(idHex, session);
    this.byKey.set(keyHex, session);
    this.remoteByKey.set(keyHex, port.remote);
    session.once('closed', (err?: XnatError) => {
      this.byId.delete(idHex);
      if (this.byKey.get(keyHex) === session) this.byKey.delete(keyHex);
      this.remember(idHex, err?.code ?? 'XNAT_ERR_SESSION_CLOSED');
    });
    const err = session.attach(port, 0n);
    if (err) {
      // Only a session closed by a listener during attach gets here.
      this.refuse(port, err.code, err.detail);
      return;
    }
    this.logger.info({ session: idHex, agent: agentKey.toString('base64').slice(0, 12) }, 'session opened');
    this.emit('session', session);
  }

  private resume(port: LinkPort, frame: SessionResumeFrame): void {
    const idHex = frame.sessionId.toString('hex');
    const session = this.byId.get(idHex);
    if (!session) {
      this.refuse(port, this.ended.get(idHex) ?? 'XNAT_ERR_SESSION_UNKNOWN', `resume ${idHex}`);
      return;
    }
    const link = port.link;
    if (
      !session.agentKey.equals(link.remoteStaticKey) ||
      !verifyResumeProof(session.resumeSecret, session.id, link.handshakeHash, frame.proof)
    ) {
      // The session itself is untouched: only its own agent key with a proof bound to this link may resume.
      this.refuse(port, 'XNAT_ERR_SESSION_FORBIDDEN', `resume ${idHex}`);
      return;
    }
    const err = session.attach(port, frame.received);
    if (err) this.refuse(port, err.code, err.detail);
    else this.remoteByKey.set(session.agentKey.toString('hex'), port.remote);
  }

  /**
   * A second takeover of one agent key within TAKEOVER_WINDOW_MS is no restart: two running agents share
   * the key and take the session from each other (each time resetting visitors). Said once per window,
   * with both addresses; the agents themselves slow down (SessionClient's replacedDelayMs).
   */
  private noteTakeover(keyHex: string, agentKey: Buffer, previous: string, remote: string): void {
    const now = this.opts.clock.now();
    const t = this.takeovers.get(keyHex) ?? { at: [], warnedAt: -Infinity };
    t.at = [...t.at.filter((at) => now - at < TAKEOVER_WINDOW_MS), now].slice(-8);
    this.takeovers.set(keyHex, t);
    if (this.takeovers.size > ENDED_SESSIONS_REMEMBERED) {
      const oldest = this.takeovers.keys().next().value;
      if (oldest !== undefined) this.takeovers.delete(oldest);
    }
    if (t.at.length < 2 || now - t.warnedAt < TAKEOVER_WINDOW_MS) return;
    t.warnedAt = now;
    this.logger.warn(
      {
        code: 'XNAT_ERR_SESSION_REPLACED',
        agent: agentKey.toString('base64').slice(0, 12),
        addresses: [previous, remote],
        takeovers: t.at.length,
        windowMs: TAKEOVER_WINDOW_MS,
      },
      'two agents share one key',
    );
  }

  private refuse(port: LinkPort, code: ErrorCode, detail?: string): void {
    this.logger.warn({ code, detail }, 'session frame refused');
    port.writeFrame({ type: FrameType.SESSION_REJECT, code });
    port.end(code);
  }

  private remember(idHex: string, code: ErrorCode): void {
    this.ended.set(idHex, code);
    if (this.ended.size > ENDED_SESSIONS_REMEMBERED) {
      const oldest = this.ended.keys().next().value;
      if (oldest !== undefined) this.ended.delete(oldest);
    }
  }
}
