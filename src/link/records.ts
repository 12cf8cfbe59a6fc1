// The established Link: the record layer over one Duplex (batching, encryption, keepalive, rekey, close).
// It knows nothing of the handshake that made its keys nor of what the upper layer's bytes mean.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { XnatError, toXnatError, type ErrorCode } from '../errors.ts';
import { realClock, type Clock, type TimerHandle } from '../util/clock.ts';
import { silentLogger, type Logger } from '../observe/log.ts';
import {
  CLOSE_LINGER_MS,
  KEEPALIVE_INTERVAL_MS,
  KEEPALIVE_RTT_FACTOR,
  KEEPALIVE_TIMEOUT_MS,
  LINK_HIGH_WATER_MARK_BYTES,
  REKEY_AFTER_BYTES,
  REKEY_AFTER_MS,
  type LinkInit,
  type LinkStats,
  type RecordCipher,
} from './options.ts';
import {
  ByteQueue,
  LENGTH_PREFIX_BYTES,
  RECORD_MAX_BYTES,
  RECORD_MAX_DATA_BYTES,
  RECORD_MAX_PLAINTEXT_BYTES,
  RECORD_MIN_BYTES,
  RecordKind,
  decodeClose,
  encodeClose,
  encodePingPong,
  type CloseBody,
} from './wire.ts';
import type { CipherSuite } from './suites.ts';
import type { UdpPathKeys } from './udp-keys.ts';

/** PINGs awaiting their PONG that are remembered for RTT; older ones are forgotten. */
const MAX_PINGS_IN_FLIGHT = 16;
/** Weight of a new RTT sample in the smoothed RTT (RFC 6298's alpha). */
const RTT_ALPHA = 0.125;

const EMPTY = new Uint8Array(0);

/**
 * A DATA record's plaintext is assembled in one buffer shared by every link of the process and encrypted
 * at once (the cipher copies it out), so sending allocates only the ciphertext; likewise a record split
 * across socket reads is joined in a shared buffer and decrypted at once. Safe because both are used and
 * released within one synchronous step; allocated on first use.
 */
let sendScratch: Buffer | undefined;
let recvScratch: Buffer | undefined;

/**
 * One physical connection with its own keys. Events: 'data' (chunk: Buffer, upper-layer bytes in order),
 * 'drain', 'rtt' (smoothed RTT in ms after each PONG), 'close' (err?: XnatError; none after a local close()).
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
  /** The peer's CLOSE record, once received. */
  remoteClose: CloseBody | undefined;

  private readonly socket: Duplex;
  private readonly send: RecordCipher;
  private readonly recv: RecordCipher;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly keepaliveTimeoutMs: number;
  private readonly rekeyAfterBytes: number;
  private readonly rekeyAfterMs: number;
  private readonly highWaterMark: number;
  private readonly inbox = new ByteQueue();
  private readonly pings = new Map<bigint, number>();
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private corked = false;
  private flushScheduled = false;
  private needDrain = false;
  private isClosed = false;
  private srtt: number | undefined;
  private nextPingId = 0n;
  private lastReceivedAt: number;
  private bytesSinceRekey = 0;
  private keepaliveTimer: TimerHandle | undefined;
  private rekeyTimer: TimerHandle | undefined;
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
    this.keepaliveTimeoutMs = o.keepaliveTimeoutMs ?? KEEPALIVE_TIMEOUT_MS;
    this.rekeyAfterBytes = o.rekeyAfterBytes ?? REKEY_AFTER_BYTES;
    this.rekeyAfterMs = o.rekeyAfterMs ?? REKEY_AFTER_MS;
    // Never below the socket's own mark: then "over our mark" implies the socket will emit 'drain'.
    this.highWaterMark = Math.max(
      o.highWaterMark ?? LINK_HIGH_WATER_MARK_BYTES,
      this.socket.writableHighWaterMark,
    );
    this.lastReceivedAt = this.clock.now();

    this.socket.on('error', this.onSocketError);
    this.socket.on('end', this.onSocketEnd);
    this.socket.on('close', this.onSocketClose);
    this.socket.on('drain', this.maybeDrain);

    this.keepaliveTimer = this.clock.setInterval(
      this.onKeepaliveTick,
      o.keepaliveIntervalMs ?? KEEPALIVE_INTERVAL_MS,
    );
    this.armRekeyTimer();
    // The first record: for the initiator it is the key confirmation the responder waits for.
    this.sendPing();

    for (const c of init.leftover) this.inbox.push(c);
    const first = init.firstPlaintext;
    setImmediate(() => {
      if (this.isClosed) return;
      if (first) {
        this.stats.recordsIn++;
        this.onPlaintext(first);
      }
      this.processInbox();
      if (this.isClosed) return;
      this.socket.on('data', this.onSocketData);
      this.socket.resume();
    });
  }

  /** Smoothed round-trip time from keepalive PINGs, in milliseconds; undefined before the first PONG. */
  get rttMs(): number | undefined {
    return this.srtt;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Queues upper-layer bytes; they are batched into records of up to RECORD_MAX_DATA_BYTES and flushed with
   * one socket write per batch. The bytes of one call (one frame, for the session) that fit in a record are
   * never split across two: the current record is sealed first instead, so the receiver's frame decoder
   * sees whole frames and hands out views rather than joining copies. Returns false once queued plus
   * socket-buffered bytes exceed highWaterMark; 'drain' follows. After close or destroy the bytes are
   * dropped and false is returned.
   */
  write(chunk: Buffer | readonly Buffer[]): boolean {
    if (this.isClosed) return false;
    let size = 0;
    if (Buffer.isBuffer(chunk)) size = chunk.length;
    else for (const c of chunk) size += c.length;
    if (
      this.pendingBytes > 0 &&
      this.pendingBytes + size > RECORD_MAX_DATA_BYTES &&
      size <= RECORD_MAX_DATA_BYTES
    ) {
      this.guard(() => this.sendData(this.pendingBytes));
      if (this.isClosed) return false;
    }
    if (Buffer.isBuffer(chunk)) this.enqueue(chunk);
    else for (const c of chunk) this.enqueue(c);
    while (this.pendingBytes >= RECORD_MAX_DATA_BYTES && !this.isClosed) this.sendData(RECORD_MAX_DATA_BYTES);
    if (this.pendingBytes > 0) this.scheduleFlush();
    if (this.pendingBytes + this.socket.writableLength > this.highWaterMark) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  /** Sends queued data and a CLOSE record (code may be empty; reason up to 256 bytes), then ends the socket. */
  close(code: ErrorCode | '' = '', reason = ''): void {
    if (this.isClosed) return;
    try {
      this.flushPending();
      this.seal(encodeClose(code, reason));
    } catch (err) {
      this.destroy(toXnatError(err));
      return;
    }
    this.uncork();
    this.finish(undefined);
    this.socket.end();
    this.lingerTimer = this.clock.setTimeout(() => this.socket.destroy(), CLOSE_LINGER_MS);
  }

  /** Tears the link down now: queued bytes are dropped, the socket destroyed, 'close' emitted once with err. */
  destroy(err?: XnatError): void {
    this.lingerTimer?.cancel();
    this.socket.destroy();
    if (this.isClosed) return;
    this.finish(err);
  }

  private finish(err: XnatError | undefined): void {
    this.isClosed = true;
    this.keepaliveTimer?.cancel();
    this.rekeyTimer?.cancel();
    this.pending = [];
    this.pendingBytes = 0;
    if (err) this.log.debug({ code: err.code, detail: err.detail }, 'link closed');
    else this.log.debug('link closed');
    this.emit('close', err);
  }

  // ---- sending

  private enqueue(c: Buffer): void {
    if (c.length === 0) return;
    this.pending.push(c);
    this.pendingBytes += c.length;
  }

  /** Builds one DATA record of the first `n` queued bytes: one copy of the bytes into the plaintext. */
  private sendData(n: number): void {
    sendScratch ??= Buffer.allocUnsafe(RECORD_MAX_PLAINTEXT_BYTES);
    const pt = sendScratch.subarray(0, 1 + n);
    pt[0] = RecordKind.DATA;
    let filled = 1;
    while (filled <= n) {
      const c = this.pending[0]!;
      const k = Math.min(c.length, n + 1 - filled);
      c.copy(pt, filled, 0, k);
      filled += k;
      if (k === c.length) this.pending.shift();
      else this.pending[0] = c.subarray(k);
    }
    this.pendingBytes -= n;
    this.seal(pt);
  }

  private flushPending(): void {
    while (this.pendingBytes > 0) this.sendData(Math.min(this.pendingBytes, RECORD_MAX_DATA_BYTES));
  }

  /**
   * Encrypts one plaintext and writes prefix + ciphertext (+ tag, when the cipher returns it apart: one
   * writev takes them all, so joining them would only cost a copy); encryption order is wire order.
   * `pt` may be the shared sendScratch: it is not read after the encryption.
   */
  private seal(pt: Buffer): void {
    const kind = pt[0];
    const ptBytes = pt.length;
    const parts = this.send.encryptWithAdParts
      ? this.send.encryptWithAdParts(EMPTY, pt)
      : [this.send.encryptWithAd(EMPTY, pt)];
    let ctBytes = 0;
    for (const p of parts) ctBytes += p.length;
    const prefix = Buffer.allocUnsafe(LENGTH_PREFIX_BYTES);
    prefix.writeUInt16BE(ctBytes, 0);
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      this.scheduleFlush();
    }
    this.socket.write(prefix);
    for (const p of parts) this.socket.write(p);
    this.stats.recordsOut++;
    this.stats.bytesOut += LENGTH_PREFIX_BYTES + ctBytes;
    this.bytesSinceRekey += ptBytes;
    if (this.bytesSinceRekey >= this.rekeyAfterBytes && kind !== RecordKind.REKEY) this.rekey();
  }

  /** Sends REKEY under the old key, then switches the sending key (the peer switches after reading it). */
  private rekey(): void {
    this.seal(Buffer.of(RecordKind.REKEY));
    this.send.rekey();
    this.bytesSinceRekey = 0;
    this.stats.rekeys++;
    this.armRekeyTimer();
    this.log.debug({ rekeys: this.stats.rekeys }, 'link rekeyed');
  }

  private armRekeyTimer(): void {
    this.rekeyTimer?.cancel();
    this.rekeyTimer = this.clock.setTimeout(() => this.guard(() => this.rekey()), this.rekeyAfterMs);
  }

  /**
   * Write-through when idle, batching when busy: with nothing waiting in the socket, the batch goes out at
   * the end of the current task (a microtask: frames written by one event handler still share a record),
   * so a lone keypress never waits for the event loop's next turn. While the socket still holds bytes, the
   * flush waits for the next turn (setImmediate) and gathers everything written meanwhile into full records.
   */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    if (this.socket.writableLength === 0) queueMicrotask(this.onFlush);
    else setImmediate(this.onFlush);
  }

  private readonly onFlush = (): void => {
    if (this.isClosed) {
      this.flushScheduled = false;
      return;
    }
    // flushScheduled stays set while sealing, so the records sealed here do not schedule another (empty) flush.
    this.guard(() => this.flushPending());
    this.flushScheduled = false;
    this.uncork();
    this.maybeDrain();
  };

  private uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  }

  private readonly maybeDrain = (): void => {
    if (!this.needDrain || this.isClosed) return;
    if (this.pendingBytes + this.socket.writableLength > this.highWaterMark) return;
    this.needDrain = false;
    this.emit('drain');
  };

  private sendPing(): void {
    const id = this.nextPingId++;
    const body = Buffer.allocUnsafe(8);
    body.writeBigUInt64BE(id, 0);
    this.pings.set(id, this.clock.now());
    if (this.pings.size > MAX_PINGS_IN_FLIGHT) this.pings.delete(this.pings.keys().next().value!);
    this.seal(encodePingPong(RecordKind.PING, body));
  }

  private readonly onKeepaliveTick = (): void => {
    if (this.isClosed) return;
    const silentMs = this.clock.now() - this.lastReceivedAt;
    if (silentMs >= Math.max(this.keepaliveTimeoutMs, KEEPALIVE_RTT_FACTOR * (this.srtt ?? 0))) {
      this.destroy(
        new XnatError('XNAT_ERR_LINK_KEEPALIVE', { detail: `nothing received for ${silentMs} ms` }),
      );
      return;
    }
    this.guard(() => this.sendPing());
  };

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

  private readonly onSocketData = (chunk: Buffer): void => {
    this.inbox.push(chunk);
    this.processInbox();
  };

  private processInbox(): void {
    const q = this.inbox;
    while (!this.isClosed && q.length >= LENGTH_PREFIX_BYTES) {
      const len = q.peekU16();
      if (len < RECORD_MIN_BYTES || len > RECORD_MAX_BYTES) {
        this.destroy(new XnatError('XNAT_ERR_LINK_RECORD_MALFORMED', { detail: `record length ${len}` }));
        return;
      }
      if (q.length < LENGTH_PREFIX_BYTES + len) return;
      q.take(LENGTH_PREFIX_BYTES);
      // A record split across socket reads is joined in recvScratch: the decryption below consumes it.
      const ct = q.take(len, recvScratchBuffer);
      this.stats.recordsIn++;
      this.stats.bytesIn += LENGTH_PREFIX_BYTES + len;
      let pt: Buffer;
      try {
        pt = this.recv.decryptWithAd(EMPTY, ct);
      } catch (err) {
        const e = toXnatError(err, 'XNAT_ERR_CRYPTO_DECRYPT');
        this.log.warn({ code: e.code }, 'link record rejected');
        this.destroy(e);
        return;
      }
      this.onPlaintext(pt);
    }
  }

  private onPlaintext(pt: Buffer): void {
    this.lastReceivedAt = this.clock.now();
    try {
      this.handleRecord(pt);
    } catch (err) {
      const e = toXnatError(err);
      if (e.code === 'XNAT_ERR_INTERNAL') this.log.error({ err }, 'link record handler failed');
      this.destroy(e);
    }
  }

  private handleRecord(pt: Buffer): void {
    const kind = pt[0];
    const body = pt.subarray(1);
    switch (kind) {
      case RecordKind.DATA:
        if (body.length > 0) this.emit('data', body);
        return;
      case RecordKind.PING:
        expectLength(body, 8, 'ping');
        this.seal(encodePingPong(RecordKind.PONG, body));
        return;
      case RecordKind.PONG: {
        expectLength(body, 8, 'pong');
        const id = body.readBigUInt64BE(0);
        const sentAt = this.pings.get(id);
        if (sentAt === undefined) return;
        this.pings.delete(id);
        const sample = Math.max(0, this.clock.now() - sentAt);
        this.srtt = this.srtt === undefined ? sample : this.srtt + RTT_ALPHA * (sample - this.srtt);
        // The raw sample rides along for percentiles (status RTT windows); the first argument stays smoothed.
        this.emit('rtt', this.srtt, sample);
        return;
      }
      case RecordKind.CLOSE: {
        const close = decodeClose(body);
        this.remoteClose = close;
        const detail = close.code
          ? `${close.code}${close.reason ? `: ${close.reason}` : ''}`
          : close.reason || 'normal';
        this.finish(new XnatError('XNAT_ERR_LINK_CLOSED_BY_PEER', { detail }));
        this.socket.end();
        this.lingerTimer = this.clock.setTimeout(() => this.socket.destroy(), CLOSE_LINGER_MS);
        return;
      }
      case RecordKind.REKEY:
        expectLength(body, 0, 'rekey');
        this.recv.rekey();
        return;
      default:
        throw new XnatError('XNAT_ERR_LINK_RECORD_MALFORMED', { detail: `record kind ${kind}` });
    }
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

function recvScratchBuffer(): Buffer {
  return (recvScratch ??= Buffer.allocUnsafe(RECORD_MAX_BYTES));
}

function expectLength(body: Buffer, n: number, what: string): void {
  if (body.length !== n)
    throw new XnatError('XNAT_ERR_LINK_RECORD_MALFORMED', { detail: `${what} body length` });
}
