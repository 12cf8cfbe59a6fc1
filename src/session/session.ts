// The Session: numbered reliable frames, cumulative acks, the replay buffer and resume across links.
// It knows nothing of dialing or accepting (session-client.ts, session-server.ts) nor of streams above it.
import { EventEmitter } from 'node:events';
import { isErrorCode, XnatError } from '../errors.ts';
import type { Logger } from '../observe/log.ts';
import type { TimerHandle } from '../util/clock.ts';
import { encodedLength, encodeFrame } from '../wire/codec.ts';
import {
  FrameType,
  isReliableType,
  RESUME_SECRET_BYTES,
  type DatagramFrame,
  type Frame,
} from '../wire/frame.ts';
import { ReplayBuffer } from './replay-buffer.ts';
import type { LinkPort, SessionLink } from './session-link.ts';
import type { DatagramPath, SessionInit, SessionRole, SessionState, SessionStats } from './session-types.ts';
import {
  ACK_EVERY_BYTES,
  ACK_EVERY_FRAMES,
  CLOSE_FLUSH_TIMEOUT_MS,
  resolveSessionOptions,
  type ResolvedSessionOptions,
  type SessionOptions,
} from './session-options.ts';

export type { DatagramPath, SessionInit, SessionRole, SessionState, SessionStats } from './session-types.ts';

function toCount(n: bigint): number | undefined {
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : undefined;
}

/**
 * One agent-relay session. Created by SessionServer (relay) or SessionClient (agent), never directly.
 * Events: 'frame' (frame) – every reliable frame exactly once and in order, plus DATAGRAM frames;
 * 'drain' – the replay buffer went back under its cap; 'attached' (link); 'detached' (err?);
 * 'closed' (err?) – once; no error after a local close().
 * Buffers inside frames given to sendReliable are kept (not copied) until the peer acknowledges them:
 * callers must not modify them afterwards.
 */
export class Session extends EventEmitter {
  readonly id: Buffer;
  readonly role: SessionRole;
  readonly agentKey: Buffer;
  /** @internal Used by SessionServer to check resume proofs. */
  readonly resumeSecret: Buffer;
  private readonly opts: ResolvedSessionOptions;
  private readonly logger: Logger;
  private currentState: SessionState = 'detached';
  private port: LinkPort | undefined;
  /** The current link's datagram path (UDP), tried before the link's datagram lane. */
  private datagramPath: DatagramPath | undefined;
  private linkBlocked = false;
  private readonly replay = new ReplayBuffer();
  private needDrain = false;
  private closing = false;
  /** Reliable frames received in this session. */
  private received = 0;
  /** The `received` value last told to the peer (ACK or handshake). */
  private ackSent = 0;
  private unackedFrames = 0;
  private unackedBytes = 0;
  /**
   * Fires at or before the ACK owed for the oldest unacked frame is due (ackDueAt). It is not cancelled
   * when an ACK rides with a reply: arming and cancelling a timer per frame was a setTimeout, a closure
   * and a clearTimeout per ping-pong round trip on each side; now one timer lives per ACK delay, and a
   * firing with nothing owed (or owed later) only looks at the clock (onAckTimer).
   */
  private ackTimer: TimerHandle | undefined;
  /** Clock time by which an ACK for the unacked frames must go out (set by the first unacked one). */
  private ackDueAt = 0;
  private expiryTimer: TimerHandle | undefined;
  private closeTimer: TimerHandle | undefined;
  private readonly counts = {
    framesSent: 0,
    framesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    replayed: 0,
    duplicatesDropped: 0,
    datagramsDropped: 0,
    datagramsOnPath: 0,
    links: 0,
    resumes: 0,
  };

  constructor(init: SessionInit, options: SessionOptions = {}) {
    super();
    this.id = init.id;
    this.role = init.role;
    this.agentKey = init.agentKey;
    this.resumeSecret = init.resumeSecret;
    this.opts = resolveSessionOptions(options);
    this.logger = this.opts.logger.child({ session: init.id.toString('hex') });
  }

  get state(): SessionState {
    return this.currentState;
  }

  /** Hex of the id, the key of SessionServer.sessions. */
  get idHex(): string {
    return this.id.toString('hex');
  }

  /** True while the replay buffer is under its cap and the session is open. */
  get writable(): boolean {
    return this.currentState !== 'closed' && !this.closing && this.replay.bytes < this.opts.replayBufferBytes;
  }

  /** Reliable frames received so far (what a resume states as `received`). */
  get receivedCount(): number {
    return this.received;
  }

  /** The link the session is attached to, if any. */
  get link(): SessionLink | undefined {
    return this.port?.link;
  }

  /**
   * The current link's smoothed RTT in ms (undefined without a link): what `stats.rttMs` says, without
   * building the stats snapshot (the mux reads it at every window grant).
   */
  get rttMs(): number | undefined {
    return this.port?.link.rttMs;
  }

  get stats(): SessionStats {
    return {
      ...this.counts,
      replayBytes: this.replay.bytes,
      replayHighWater: this.replay.highWater,
      rttMs: this.port?.link.rttMs,
    };
  }

  /**
   * Queues a reliable frame (types 0x01-0x0f) for exactly-once, in-order delivery. Never drops it; returns
   * false once the replay buffer is at or above its cap: stop producing until 'drain'. After close() or
   * 'closed' the frame is discarded and false returned (nothing can deliver it any more).
   */
  sendReliable(frame: Frame): boolean {
    if (!isReliableType(frame.type)) {
      throw new XnatError('XNAT_ERR_INTERNAL', { detail: `sendReliable with frame type ${frame.type}` });
    }
    if (this.currentState === 'closed' || this.closing) return false;
    this.replay.push(encodeFrame(frame));
    if (this.currentState === 'attached' && !this.linkBlocked) this.flush();
    if (this.replay.bytes < this.opts.replayBufferBytes) return true;
    this.needDrain = true;
    return false;
  }

  /**
   * Sends a datagram now: on the link's datagram path when `route` allows it and the path carries it
   * (UDP, up, small enough), else on the link's datagram lane if the link is attached and not congested;
   * otherwise drops and counts it.
   */
  sendDatagram(frame: DatagramFrame, route: 'any' | 'lane' = 'any'): boolean {
    if (frame.type !== FrameType.DATAGRAM) {
      throw new XnatError('XNAT_ERR_INTERNAL', {
        detail: `sendDatagram with frame type ${String(frame.type)}`,
      });
    }
    if (route === 'any' && !this.closing && this.datagramPath?.trySend(frame.flowId, frame.data)) {
      this.counts.datagramsOnPath++;
      return true;
    }
    const port = this.port;
    if (!port || this.currentState !== 'attached' || this.closing || this.linkBlocked) {
      this.counts.datagramsDropped++;
      return false;
    }
    const chunks = encodeFrame(frame);
    this.counts.framesSent++;
    this.counts.bytesSent += encodedLength(frame);
    if (!port.writeChunks(chunks)) this.linkBlocked = true;
    return true;
  }

  /**
   * Gives the current link a datagram path (its UDP path); false (and the path closed) when `link` is no
   * longer the attached one. The path lives as long as its link: the session closes it when the link goes
   * or another path replaces it.
   */
  useDatagramPath(link: SessionLink, path: DatagramPath): boolean {
    if (this.currentState !== 'attached' || this.port?.link !== link) {
      path.close();
      return false;
    }
    if (this.datagramPath !== path) this.datagramPath?.close();
    this.datagramPath = path;
    return true;
  }

  /** A datagram the current link's datagram path received and authenticated: delivered like the lane's. */
  deliverDatagram(flowId: number, data: Buffer): void {
    if (this.currentState !== 'attached') return;
    this.counts.framesReceived++;
    this.emit('frame', { type: FrameType.DATAGRAM, flowId, data } satisfies DatagramFrame);
  }

  /**
   * Graceful: waits (up to CLOSE_FLUSH_TIMEOUT_MS) until the peer acknowledged every frame, then tells it
   * the session is over (SESSION_REJECT XNAT_ERR_SESSION_CLOSED) and ends the link. A detached session
   * ends at once. 'closed' is emitted with no error. Idempotent.
   */
  close(): void {
    if (this.currentState === 'closed' || this.closing) return;
    this.closing = true;
    this.logger.debug({ pending: this.replay.length }, 'session closing');
    if (this.currentState !== 'attached') {
      this.finish(undefined);
      return;
    }
    this.closeTimer = this.opts.clock.setTimeout(() => this.endGracefully(), CLOSE_FLUSH_TIMEOUT_MS);
    this.maybeEndGracefully();
  }

  /** Immediate: drops the link (destroyed with `err`) and the replay buffer; emits 'closed' (err). Idempotent. */
  destroy(err?: XnatError): void {
    if (this.currentState === 'closed') return;
    const port = this.port;
    this.port = undefined;
    port?.destroy(err ?? new XnatError('XNAT_ERR_SESSION_CLOSED'));
    this.finish(err);
  }

  /**
   * @internal Drops the attached link (destroyed with `err`) so that nothing more is read from it: the
   * session detaches and waits to resume, as if the link had died. SessionClient does it before it resumes
   * on a probe link, so the RESUME's count is final. No-op when detached.
   */
  detachLink(err: XnatError): void {
    this.port?.destroy(err);
  }

  /**
   * @internal Attaches a link whose peer has received `peerReceived` of our reliable frames. On the relay
   * it writes SESSION_ACCEPT first (resumed after the first link). Any older link is destroyed with
   * XNAT_ERR_SESSION_LINK_REPLACED. Then the unacknowledged frames are resent in order, before any new one.
   * Returns an error, writing nothing, when the session is closed or `peerReceived` cannot be reconciled.
   */
  attach(port: LinkPort, peerReceived: bigint): XnatError | undefined {
    if (this.currentState === 'closed') return new XnatError('XNAT_ERR_SESSION_CLOSED');
    const n = toCount(peerReceived);
    if (n === undefined || n < this.replay.acked || n > this.replay.maxSent) {
      return new XnatError('XNAT_ERR_SESSION_PROTOCOL', {
        detail: `peer received ${peerReceived}, acked ${this.replay.acked}, sent ${this.replay.maxSent}`,
      });
    }
    const old = this.port;
    this.dropDatagramPath();
    if (old) old.destroy(new XnatError('XNAT_ERR_SESSION_LINK_REPLACED'));
    // A 'detached' listener may have closed the session meanwhile.
    if (this.isEnded()) return new XnatError('XNAT_ERR_SESSION_CLOSED');
    const before = this.replay.acked;
    this.replay.rewind(n);
    this.counts.duplicatesDropped += this.replay.acked - before;
    this.expiryTimer?.cancel();
    this.expiryTimer = undefined;
    this.cancelAckTimer();
    this.port = port;
    this.linkBlocked = false;
    port.onFrame = (frame) => this.onFrame(port, frame);
    port.onClose = (err) => this.onLinkClosed(port, err);
    port.onDrain = () => this.onLinkDrain(port);
    const resumed = this.counts.links > 0;
    this.counts.links++;
    if (resumed) this.counts.resumes++;
    if (this.role === 'relay') {
      port.writeFrame({
        type: FrameType.SESSION_ACCEPT,
        resumed,
        sessionId: this.id,
        resumeSecret: resumed ? Buffer.alloc(RESUME_SECRET_BYTES) : this.resumeSecret,
        received: BigInt(this.received),
      });
    }
    // The handshake told the peer our count, so no ACK is owed for what came before.
    this.ackSent = this.received;
    this.unackedFrames = 0;
    this.unackedBytes = 0;
    this.currentState = 'attached';
    const replayedBefore = this.counts.replayed;
    this.flush();
    this.logger.info(
      {
        resumed,
        link: this.counts.links,
        replayed: this.counts.replayed - replayedBefore,
        pending: this.replay.length,
      },
      'session attached',
    );
    this.emit('attached', port.link);
    this.maybeDrain();
    return undefined;
  }

  private dropDatagramPath(): void {
    const path = this.datagramPath;
    this.datagramPath = undefined;
    path?.close();
  }

  private isEnded(): boolean {
    return this.currentState === 'closed';
  }

  // ---- link events

  private onFrame(port: LinkPort, frame: Frame): void {
    if (port !== this.port) return;
    if (isReliableType(frame.type)) {
      this.received++;
      const bytes = encodedLength(frame);
      this.counts.framesReceived++;
      this.counts.bytesReceived += bytes;
      if (this.unackedFrames++ === 0) {
        this.ackDueAt = this.opts.clock.now() + this.opts.ackDelayMs;
        this.ackTimer ??= this.opts.clock.setTimeout(this.onAckTimer, this.opts.ackDelayMs);
      }
      this.unackedBytes += bytes;
      if (this.unackedFrames >= ACK_EVERY_FRAMES || this.unackedBytes >= ACK_EVERY_BYTES) this.writeAck(port);
      this.emit('frame', frame);
      return;
    }
    switch (frame.type) {
      case FrameType.ACK: {
        const n = toCount(frame.received);
        if (n === undefined || !this.replay.ack(n)) {
          port.destroy(
            new XnatError('XNAT_ERR_SESSION_PROTOCOL', {
              detail: `ACK ${frame.received} beyond ${this.replay.maxSent} sent`,
            }),
          );
          return;
        }
        this.maybeDrain();
        if (this.closing) this.maybeEndGracefully();
        return;
      }
      case FrameType.DATAGRAM:
        this.counts.framesReceived++;
        this.counts.bytesReceived += encodedLength(frame);
        this.emit('frame', frame);
        return;
      case FrameType.SESSION_REJECT: {
        // After the handshake, SESSION_REJECT means the peer ended the session with that code.
        const code = isErrorCode(frame.code) ? frame.code : 'XNAT_ERR_SESSION_PROTOCOL';
        this.port = undefined;
        port.end(code);
        this.finish(new XnatError(code, { detail: 'ended by peer' }));
        return;
      }
      default:
        port.destroy(
          new XnatError('XNAT_ERR_SESSION_PROTOCOL', {
            detail: `unexpected frame type ${frame.type} in session`,
          }),
        );
    }
  }

  private onLinkDrain(port: LinkPort): void {
    if (port !== this.port) return;
    this.linkBlocked = false;
    this.flush();
  }

  private onLinkClosed(port: LinkPort, err?: XnatError): void {
    if (port !== this.port) return;
    this.port = undefined;
    this.dropDatagramPath();
    this.linkBlocked = false;
    this.cancelAckTimer();
    if (this.closing) {
      this.finish(undefined);
      return;
    }
    this.currentState = 'detached';
    const windowMs = this.opts.resumeWindowMs;
    this.expiryTimer = this.opts.clock.setTimeout(() => {
      this.expiryTimer = undefined;
      this.logger.debug({ windowMs }, 'session expired');
      this.destroy(new XnatError('XNAT_ERR_SESSION_EXPIRED', { detail: `detached for ${windowMs} ms` }));
    }, windowMs);
    this.logger.debug({ code: err?.code, pending: this.replay.length }, 'session detached');
    this.emit('detached', err);
  }

  // ---- sending

  /** Writes a pending ACK, then unsent frames until the link pushes back. */
  private flush(): void {
    const port = this.port;
    if (!port || this.currentState !== 'attached') return;
    if (this.received > this.ackSent) this.writeAck(port);
    let sent = false;
    while (!this.linkBlocked && this.port === port) {
      const wasSentBefore = this.replay.maxSent;
      const entry = this.replay.takeUnsent();
      if (!entry) break;
      if (entry.seq <= wasSentBefore) this.counts.replayed++;
      else {
        this.counts.framesSent++;
        this.counts.bytesSent += entry.bytes;
      }
      if (!port.writeChunks(entry.chunks)) this.linkBlocked = true;
      sent = true;
    }
    // Reliable frames are acknowledged within the ACK delay: silence after them is news (keepalive.ts).
    if (sent) port.link.expectReply?.();
  }

  /** The ACK timer: writes the ACK owed if due, waits for it if owed later, else stays unarmed. */
  private readonly onAckTimer = (): void => {
    this.ackTimer = undefined;
    if (!this.port || this.received <= this.ackSent) return;
    const left = this.ackDueAt - this.opts.clock.now();
    if (left > 0) this.ackTimer = this.opts.clock.setTimeout(this.onAckTimer, left);
    else this.writeAck(this.port);
  };

  private writeAck(port: LinkPort): void {
    this.ackSent = this.received;
    this.unackedFrames = 0;
    this.unackedBytes = 0;
    // ACKs go out even when the link pushes back: holding them could deadlock two full replay buffers.
    port.writeFrame({ type: FrameType.ACK, received: BigInt(this.received) });
  }

  private cancelAckTimer(): void {
    this.ackTimer?.cancel();
    this.ackTimer = undefined;
  }

  private maybeDrain(): void {
    if (this.needDrain && this.writable) {
      this.needDrain = false;
      this.emit('drain');
    }
  }

  // ---- ending

  private maybeEndGracefully(): void {
    if (this.replay.length === 0) this.endGracefully();
  }

  private endGracefully(): void {
    const port = this.port;
    if (this.currentState === 'closed') return;
    this.port = undefined;
    if (port) {
      if (this.received > this.ackSent) this.writeAck(port);
      port.writeFrame({ type: FrameType.SESSION_REJECT, code: 'XNAT_ERR_SESSION_CLOSED' });
      port.end('XNAT_ERR_SESSION_CLOSED');
    }
    this.finish(undefined);
  }

  private finish(err: XnatError | undefined): void {
    if (this.currentState === 'closed') return;
    this.currentState = 'closed';
    this.closing = false;
    this.cancelAckTimer();
    this.expiryTimer?.cancel();
    this.closeTimer?.cancel();
    this.expiryTimer = this.closeTimer = undefined;
    const port = this.port;
    this.port = undefined;
    this.dropDatagramPath();
    port?.destroy(err ?? new XnatError('XNAT_ERR_SESSION_CLOSED'));
    this.replay.clear();
    this.logger.debug({ code: err?.code }, 'session closed');
    this.emit('closed', err);
  }
}
