// What the session needs from a Link (SessionLink), and LinkPort: frames in and out of one link.
// It knows nothing of sequence numbers or sessions; the link decodes frames, a failing handler kills the link.
import type { EventEmitter } from 'node:events';
import { toXnatError, type ErrorCode, type XnatError } from '../errors.ts';
import type { Logger } from '../observe/log.ts';
import { encodeFrame } from '../wire/codec.ts';
import type { Frame } from '../wire/frame.ts';
import type { UdpPathKeys } from '../link/udp-keys.ts';

/**
 * The part of src/link/link.ts's Link the session uses; the Link satisfies it structurally, and
 * test/helpers/memory-link.ts implements it in memory.
 * Events: 'frame' (frame: Frame, in order, never the link's own types), 'drain', 'rtt' (ms),
 * 'close' (err?: XnatError) – once; optionally 'suspect' (silentMs) and 'alive' (the keepalive's early
 * warning and its all-clear, which SessionClient answers with probe dials). A link destroys itself with a WIRE_* code on a malformed frame.
 */
export interface SessionLink extends EventEmitter {
  /**
   * Queues whole encoded frames (one frame's chunks, as encodeFrame returns them); false once the link's
   * queue is above its high-water mark ('drain' follows).
   */
  write(chunk: Buffer | readonly Buffer[]): boolean;
  /** Graceful: flushes, tells the peer `code`, ends. Idempotent. */
  close(code?: ErrorCode, reason?: string): void;
  /** Immediate; emits 'close' once with `err`. Idempotent. */
  destroy(err?: XnatError): void;
  /** The authenticated static public key of the peer (for the relay: the agent key). */
  readonly remoteStaticKey: Buffer;
  /** The Noise handshake hash of this link: unique per link, binds resume proofs to it. */
  readonly handshakeHash: Buffer;
  /** Smoothed round-trip time in ms, once measured. */
  readonly rttMs: number | undefined;
  readonly closed: boolean;
  /**
   * What was just written must be answered soon (reliable frames, which the peer ACKs): a link that then
   * hears nothing PINGs again early (keepalive.ts's echo). Optional.
   */
  expectReply?(): void;
  /** Keys of this link's UDP path, when the link has one (memory links in tests do not). */
  readonly udpKeys?: UdpPathKeys;
}

/**
 * One link seen by its owner: hands each frame the link decoded to `onFrame`, which its owner swaps as the
 * link moves from handshake to session (frames of the same record that follow the handshake frame reach
 * the new handler). A throwing handler destroys the link.
 */
export class LinkPort {
  /** Receives each decoded frame; replaced by the owner as the link changes hands. */
  onFrame: (frame: Frame) => void = () => {};
  /** Called once when the link closes or is destroyed (by anyone), unless released first. */
  onClose: (err?: XnatError) => void = () => {};
  /** Called when the link can take more bytes after write() returned false. */
  onDrain: () => void = () => {};
  /** The peer's address as its owner knows it, for log lines ('?' when unknown). */
  remote = '?';
  private dead = false;
  private released = false;
  private readonly handleFrame = (frame: Frame) => this.receive(frame);
  private readonly handleClose = (err?: XnatError) => this.closed(err);
  private readonly handleDrain = () => {
    if (!this.dead) this.onDrain();
  };

  constructor(
    readonly link: SessionLink,
    private readonly logger: Logger,
  ) {
    link.on('frame', this.handleFrame);
    link.on('close', this.handleClose);
    link.on('drain', this.handleDrain);
    if (link.closed) queueMicrotask(() => this.closed());
  }

  /** True once the link closed or was destroyed; nothing is read or written after that. */
  get isDead(): boolean {
    return this.dead || this.link.closed;
  }

  /** Writes one frame; returns the link's backpressure answer (false: wait for onDrain). */
  writeFrame(frame: Frame): boolean {
    return this.writeChunks(encodeFrame(frame));
  }

  /** Writes already encoded frame bytes. */
  writeChunks(chunks: readonly Buffer[]): boolean {
    if (this.isDead) return false;
    return this.link.write(chunks.length === 1 ? chunks[0]! : chunks);
  }

  /** Destroys the link with `err`; onClose follows (synchronously if the link emits at once). */
  destroy(err: XnatError): void {
    if (this.dead) return;
    this.link.destroy(err);
    // A link that does not emit 'close' synchronously still counts as dead from now on.
    this.closed(err);
  }

  /** Graceful end of the link with `code`; onClose follows when the link reports its close. */
  end(code: ErrorCode): void {
    if (this.isDead) return;
    this.link.close(code);
  }

  /** Stops listening to the link without closing it (the owner hands it over or is done with it). */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.link.off('frame', this.handleFrame);
    this.link.off('close', this.handleClose);
    this.link.off('drain', this.handleDrain);
  }

  private receive(frame: Frame): void {
    // A handler may have destroyed the link while earlier frames of this record were handled.
    if (this.dead) return;
    try {
      this.onFrame(frame);
    } catch (err) {
      const e = toXnatError(err);
      if (e.code === 'XNAT_ERR_INTERNAL') this.logger.error({ err }, 'frame handler threw');
      else this.logger.warn({ code: e.code, detail: e.detail }, 'link broke the frame protocol');
      this.destroy(e);
    }
  }

  private closed(err?: XnatError): void {
    if (this.dead) return;
    this.dead = true;
    this.release();
    this.onClose(err);
  }
}
