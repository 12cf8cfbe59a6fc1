// The established Link: one Duplex with its keys, speaking frames; it wires batching, sealing, opening,
// keepalive and rekey together, handles the link's own frames and its close. It knows nothing of the
// handshake that made its keys nor of what the session's frames mean.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { XnatError, toXnatError, type ErrorCode } from '../errors.ts';
import { realClock, type Clock, type TimerHandle } from '../util/clock.ts';
import { silentLogger, type Logger } from '../observe/log.ts';
import { readChunks } from '../transport/reused-reads.ts';
import { encodeFrame } from '../wire/codec.ts';
import { decodeFrames } from '../wire/decoder.ts';
import { FrameType, type Frame } from '../wire/frame.ts';
import { RecordBatcher } from './batcher.ts';
import { Keepalive } from './keepalive.ts';
import { RecordOpener } from './opener.ts';
import {
  CLOSE_LINGER_MS,
  KEEPALIVE_INTERVAL_MS,
  KEEPALIVE_TIMEOUT_MS,
  LINK_HIGH_WATER_MARK_BYTES,
  REKEY_AFTER_BYTES,
  REKEY_AFTER_MS,
  type LinkInit,
  type LinkStats,
  type RecordCipher,
} from './options.ts';
import { RekeySchedule } from './rekey.ts';
import { RecordSealer } from './sealer.ts';
import type { CipherSuite } from './suites.ts';
import type { UdpPathKeys } from './udp-keys.ts';

/** The REKEY frame, sealed alone in its record (it is the last frame of its record by rule). */
const REKEY_FRAME: readonly Buffer[] = encodeFrame({ type: FrameType.REKEY });
const REKEY_FRAME_BYTES = REKEY_FRAME.reduce((n, b) => n + b.length, 0);

/** A CLOSE frame as received: the peer's code (empty for a plain close) and reason. */
export interface CloseBody {
  readonly code: string;
  readonly reason: string;
}

/**
 * One physical connection with its own keys. Events: 'frame' (frame: Frame, every frame but the link's
 * own PING/PONG/CLOSE/REKEY, in order; payloads are views of the decrypted record), 'drain', 'rtt'
 * (smoothed RTT in ms after each PONG, then the raw sample), 'suspect' (silentMs: nothing received for about
 * one keepalive interval), 'alive' (a record arrived on a suspect link), 'close' (err?: XnatError; none
 * after a local close()).
 * The socket is read from the next macrotask on, so listeners attached right after `await` miss nothing.
 */
export class Link extends EventEmitter {
  readonly role: 'initiator' | 'responder';
  /** The cipher suite of this link's handshake and records. */
  readonly suite: CipherSuite;
  readonly remoteStaticKey: Buffer;
  readonly handshakeHash: Buffer;
  /** Keys of this link's UDP path (udp-path.ts), from the same handshake by a separate derivation. */
  readonly udpKeys: UdpPathKeys | undefined;
  readonly stats: LinkStats = { bytesIn: 0, bytesOut: 0, recordsIn: 0, recordsOut: 0, rekeys: 0 };
  /** The peer's CLOSE frame, once received. */
  remoteClose: CloseBody | undefined;

  private readonly socket: Duplex;
  private readonly send: RecordCipher;
  private readonly recv: RecordCipher;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly batcher: RecordBatcher;
  private readonly sealer: RecordSealer;
  private readonly opener: RecordOpener;
  private readonly keepalive: Keepalive;
  private readonly rekeys: RekeySchedule;
  private isClosed = false;
  /** A REKEY was read in the record being decoded: no frame may follow it there. */
  private rekeyedInRecord = false;
  private lingerTimer: TimerHandle | undefined;

  constructor(init: LinkInit) {
    super();
    const o = init.options;
    this.socket = init.socket;
    this.role = init.role;
    this.suite = init.suite;
    this.send = init.send;
    this.recv = init.recv;
    this.remoteStaticKey = init.remoteStaticKey;
    this.handshakeHash = init.handshakeHash;
    this.udpKeys = init.udpKeys;
    this.clock = o.clock ?? realClock;
    this.log = (o.logger ?? silentLogger()).child({ link: init.role });
    this.sealer = new RecordSealer(this.socket, this.send, this.stats);
    this.opener = new RecordOpener(this.recv, this.stats);
    this.batcher = new RecordBatcher(
      this.socket,
      {
        sealRecord: (pieces, bytes) => this.sealRecord(pieces, bytes),
        fail: (err) => this.destroy(toXnatError(err)),
        drain: () => this.emit('drain'),
      },
      // Never below the socket's own mark: then "over our mark" implies the socket will emit 'drain'.
      Math.max(o.highWaterMark ?? LINK_HIGH_WATER_MARK_BYTES, this.socket.writableHighWaterMark),
    );
    this.rekeys = new RekeySchedule(
      this.clock,
      o.rekeyAfterBytes ?? REKEY_AFTER_BYTES,
      o.rekeyAfterMs ?? REKEY_AFTER_MS,
      () => this.guard(() => this.rekey()),
    );
    this.keepalive = new Keepalive({
      clock: this.clock,
      intervalMs: o.keepaliveIntervalMs ?? KEEPALIVE_INTERVAL_MS,
      timeoutMs: o.keepaliveTimeoutMs ?? KEEPALIVE_TIMEOUT_MS,
      sendPing: (id) => this.guard(() => this.batcher.write(encodeFrame({ type: FrameType.PING, id }))),
      onDead: (silentMs) =>
        this.destroy(
          new XnatError('XNAT_ERR_LINK_KEEPALIVE', { detail: `nothing received for ${silentMs} ms` }),
        ),
      // The raw sample rides along for percentiles (status RTT windows); the first argument stays smoothed.
      onRtt: (srtt, sample) => this.emit('rtt', srtt, sample),
      // Early warning for the agent's probe dials (session-client.ts); the link itself carries on.
      onSuspect: (silentMs) => this.emit('suspect', silentMs),
      onAlive: () => this.emit('alive'),
    });

    this.socket.on('error', this.onSocketError);
    this.socket.on('end', this.onSocketEnd);
    this.socket.on('close', this.onSocketClose);

    // The first record: for the initiator it is the key confirmation the responder waits for.
    this.keepalive.start();

    for (const c of init.leftover) this.opener.push(c);
    const first = init.firstPlaintext;
    setImmediate(() => {
      if (this.isClosed) return;
      if (first) {
        this.stats.recordsIn++;
        this.onRecord(first);
      }
      this.readInbox();
      if (this.isClosed) return;
      readChunks(this.socket, this.onSocketData);
      this.socket.resume();
    });
  }

  /** Smoothed round-trip time from keepalive PINGs, in milliseconds; undefined before the first PONG. */
  get rttMs(): number | undefined {
    return this.keepalive.rttMs;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Queues one or more whole encoded frames (src/wire's encodeFrame; at most one record's plaintext,
   * RECORD_MAX_PLAINTEXT_BYTES, together). They are batched into records without ever splitting a frame
   * and flushed with one socket write per batch (batcher.ts). Returns false once queued plus
   * socket-buffered bytes exceed highWaterMark; 'drain' follows. After close or destroy the bytes are
   * dropped and false is returned.
   */
  write(chunk: Buffer | readonly Buffer[]): boolean {
    if (this.isClosed) return false;
    return this.batcher.write(chunk);
  }

  /** What was just written is to be answered soon (the session's reliable frames): see Keepalive.expectReply. */
  expectReply(): void {
    this.keepalive.expectReply();
  }

  /** Sends queued frames and a CLOSE frame (code may be empty; reason up to 256 bytes), then ends the socket. */
  close(code: ErrorCode | '' = '', reason = ''): void {
    if (this.isClosed) return;
    try {
      this.batcher.write(encodeFrame({ type: FrameType.CLOSE, code, reason }));
      this.batcher.flush();
    } catch (err) {
      this.destroy(toXnatError(err));
      return;
    }
    if (this.isClosed) return;
    this.finish(undefined);
    this.socket.end();
    this.lingerTimer = this.clock.setTimeout(() => this.socket.destroy(), CLOSE_LINGER_MS);
  }

  /** Tears the link down now: queued frames are dropped, the socket destroyed, 'close' emitted once with err. */
  destroy(err?: XnatError): void {
    this.lingerTimer?.cancel();
    this.socket.destroy();
    if (this.isClosed) return;
    this.finish(err);
  }

  private finish(err: XnatError | undefined): void {
    this.isClosed = true;
    this.keepalive.stop();
    this.rekeys.stop();
    this.batcher.stop();
    if (err) this.log.debug({ code: err.code, detail: err.detail }, 'link closed');
    else this.log.debug('link closed');
    this.emit('close', err);
  }

  // ---- sending

  /** One record out (from the batcher), then the rekey budget; a rekey seals its REKEY right after it. */
  private sealRecord(pieces: readonly Buffer[], bytes: number): void {
    this.sealer.seal(pieces, bytes);
    this.rekeys.sent(bytes);
  }

  /**
   * Sends REKEY alone in a record under the old key, then switches the sending key (the peer switches
   * after reading it). Frames still queued in the batcher go out after it, under the new key.
   */
  private rekey(): void {
    this.sealer.seal(REKEY_FRAME, REKEY_FRAME_BYTES);
    this.send.rekey();
    this.rekeys.rekeyed();
    this.stats.rekeys++;
    this.log.debug({ rekeys: this.stats.rekeys }, 'link rekeyed');
  }

  /** Runs a send step; a failure there (nonce exhausted, socket gone) destroys the link instead of throwing. */
  private guard(fn: () => void): void {
    if (this.isClosed) return;
    try {
      fn();
    } catch (err) {
      this.destroy(toXnatError(err));
    }
  }

  // ---- receiving

  private readonly onSocketData = (chunk: Buffer, transient: boolean): void => {
    this.opener.push(chunk);
    this.readInbox();
    // A reused read buffer is read into again after this returns: keep the partial record's bytes.
    if (transient) this.opener.retainRest();
  };

  private readInbox(): void {
    try {
      this.opener.open(this.onRecord, () => this.isClosed);
    } catch (err) {
      const e = toXnatError(err, 'XNAT_ERR_CRYPTO_DECRYPT');
      this.log.warn({ code: e.code }, 'link record rejected');
      this.destroy(e);
    }
  }

  private readonly onRecord = (plaintext: Buffer | readonly Buffer[]): void => {
    this.keepalive.received();
    this.rekeyedInRecord = false;
    try {
      decodeFrames(plaintext, this.onFrame);
    } catch (err) {
      if (this.isClosed) return;
      const e = toXnatError(err);
      if (e.code === 'XNAT_ERR_INTERNAL') this.log.error({ err }, 'link frame handler failed');
      else this.log.warn({ code: e.code, detail: e.detail }, 'link broke the frame protocol');
      this.destroy(e);
    }
  };

  private readonly onFrame = (frame: Frame): void => {
    // After a CLOSE (or a destroy by a handler) the rest of the record is dropped.
    if (this.isClosed) return;
    if (this.rekeyedInRecord) {
      throw new XnatError('XNAT_ERR_LINK_RECORD_MALFORMED', { detail: 'a frame after REKEY in its record' });
    }
    switch (frame.type) {
      case FrameType.PING:
        this.batcher.write(encodeFrame({ type: FrameType.PONG, id: frame.id }));
        return;
      case FrameType.PONG:
        this.keepalive.pong(frame.id);
        return;
      case FrameType.CLOSE:
        return this.onClose(frame);
      case FrameType.REKEY:
        this.recv.rekey();
        this.rekeyedInRecord = true;
        return;
      default:
        this.emit('frame', frame);
    }
  };

  private onClose(close: CloseBody): void {
    this.remoteClose = { code: close.code, reason: close.reason };
    const detail = close.code
      ? `${close.code}${close.reason ? `: ${close.reason}` : ''}`
      : close.reason || 'normal';
    this.finish(new XnatError('XNAT_ERR_LINK_CLOSED_BY_PEER', { detail }));
    this.socket.end();
    this.lingerTimer = this.clock.setTimeout(() => this.socket.destroy(), CLOSE_LINGER_MS);
  }

  private readonly onSocketError = (cause: NodeJS.ErrnoException): void => {
    if (this.isClosed) return;
    this.destroy(new XnatError('XNAT_ERR_LINK_RESET', { detail: cause.code ?? 'socket error', cause }));
  };

  private readonly onSocketEnd = (): void => {
    if (this.isClosed) return;
    this.destroy(new XnatError('XNAT_ERR_LINK_RESET', { detail: 'peer ended without CLOSE' }));
  };

  private readonly onSocketClose = (): void => {
    this.lingerTimer?.cancel();
    if (this.isClosed) return;
    this.destroy(new XnatError('XNAT_ERR_LINK_RESET', { detail: 'socket closed' }));
  };
}
