// One link's UDP path: sealed datagrams with its own keys and counter, the replay window, probing, the
// agent's keepalive, the relay following the agent's address (roaming), fallback to the TCP lane and
// re-probing. It knows nothing of sockets (transmit is injected) nor of what the session does with data.
import { toXnatError } from '../errors.ts';
import type { Clock, TimerHandle } from '../util/clock.ts';
import type { Logger } from '../observe/log.ts';
import { UdpRecvKeys, UdpSendKeys, type UdpPathKeys } from './udp-keys.ts';
import { REKEY_AFTER_MS } from './options.ts';
import { NONCE_BYTES } from '../crypto/nonce.ts';
import { ReplayWindow, UDP_COUNTER_MAX } from './udp-replay-window.ts';
import {
  UDP_PATH_MAX_PAYLOAD_BYTES,
  UdpMessageType,
  decodeDataBody,
  decodeProbeBody,
  encodeDataBody,
  encodeProbeBody,
  openDatagram,
  parseHeader,
  sealDatagram,
  type UdpMessageTypeValue,
} from './udp-datagram.ts';

/**
 * Default interval of the agent's keepalive probe while the path is up, and of its re-probe while
 * datagrams take the TCP lane, in ms (15 s). Home NATs drop idle UDP mappings after 30 s (RFC 4787's
 * 2-minute floor is widely ignored; 30 s is the shortest common default), so one probe and its reply
 * every 15 s keep the mapping open with a spare. Profile: tuning.udpPathKeepalive.
 */
export const UDP_PATH_KEEPALIVE_MS = 15_000;
/** Gap between the probes of one round, in ms. */
export const UDP_PATH_PROBE_INTERVAL_MS = 500;
/** Probes in one round; unanswered, the path falls back to the TCP lane (after 5 x 500 ms = 2.5 s). */
export const UDP_PATH_PROBE_ATTEMPTS = 5;
/**
 * Sending data while nothing authenticated was heard from the peer for this long starts a probe round,
 * so a path that stopped working under traffic falls back within silence + one round (about 4.5 s),
 * not at the next keepalive.
 */
export const UDP_PATH_SILENCE_MS = 2_000;

/**
 * Age of a sending key before the next epoch's (one-way ratchet, udp-keys.ts), in ms: the link's own rekey
 * interval, 10 minutes. The receiver keeps the previous epoch's key for datagrams reordered across it.
 */
export const UDP_PATH_REKEY_AFTER_MS = REKEY_AFTER_MS;
/** Datagrams sealed under one key before the next epoch's, whatever its age (2^30, about 1 TiB). */
export const UDP_PATH_REKEY_AFTER_MESSAGES = 2 ** 30;

/** Which way datagrams go now: the UDP path, the link's TCP lane, or the UDP path not yet confirmed. */
export type UdpPathState = 'probing' | 'udp' | 'tcp-lane';

/** Where a datagram came from (the relay follows it) or goes to. */
export interface UdpPeerAddress {
  readonly address: string;
  readonly port: number;
}

/** Counters of one path since it was made. */
export interface UdpPathStats {
  /** Datagrams sealed and sent on the path (DATA only). */
  sent: number;
  /** DATA datagrams received, authenticated and delivered. */
  received: number;
  /** Dropped: a counter already seen or too far behind the window. */
  replayed: number;
  /** Dropped: the tag did not verify (forged, corrupted, or sealed under another link's keys). */
  badTag: number;
  /** Dropped: authenticated but with a body that makes no sense (a bug or a broken peer). */
  malformed: number;
  /** Probes (keepalives included) and replies sent. */
  probes: number;
  /** Times the path went from udp to the TCP lane (a path that never came up is not counted). */
  fallbacks: number;
  /** Times it came back to udp from the TCP lane after a fallback. */
  recoveries: number;
  /** Relay side: times the agent's address or port changed (authenticated, with a fresh counter). */
  roams: number;
}

export interface UdpPathOptions {
  /** The agent probes and keeps alive; the relay answers and follows the agent's address. */
  readonly role: 'agent' | 'relay';
  readonly keys: UdpPathKeys;
  /** The index this side chose; the peer puts it in every datagram for us. */
  readonly localIndex: number;
  /** The peer's index when known (the agent learns the relay's from its offer; the relay from probes). */
  readonly remoteIndex?: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Sends bytes to the peer: the agent's socket is connected; the relay's needs the agent's address. */
  readonly transmit: (bytes: Buffer, to: UdpPeerAddress | undefined) => void;
  /** An authenticated DATA datagram for the session. */
  readonly onDatagram: (flowId: number, data: Buffer) => void;
  /** Keepalive and re-probe interval, ms; default UDP_PATH_KEEPALIVE_MS. */
  readonly keepaliveMs?: number;
  readonly probeIntervalMs?: number;
  readonly probeAttempts?: number;
  readonly silenceMs?: number;
  /** Sending key lifetime, ms and datagrams; defaults UDP_PATH_REKEY_AFTER_MS, _MESSAGES. */
  readonly rekeyAfterMs?: number;
  readonly rekeyAfterMessages?: number;
  /** Called once by close(). */
  readonly onClose?: () => void;
}

export class UdpPath {
  readonly localIndex: number;
  readonly stats: UdpPathStats = {
    sent: 0,
    received: 0,
    replayed: 0,
    badTag: 0,
    malformed: 0,
    probes: 0,
    fallbacks: 0,
    recoveries: 0,
    roams: 0,
  };
  private current: UdpPathState = 'probing';
  /** The path was up at least once (fallbacks and recoveries count changes of a path that worked). */
  private wasUp = false;
  private remoteIndex: number | undefined;
  private peer: UdpPeerAddress | undefined;
  private sendCounter = 0;
  private readonly sendKeys: UdpSendKeys;
  private readonly recvKeys: UdpRecvKeys;
  private epochStartedAt: number;
  private sentInEpoch = 0;
  /** The epoch of our datagrams the peer last said it authenticated (its probes and replies carry it). */
  private peerRecvEpoch = 0;
  private readonly window = new ReplayWindow();
  /** Scratch nonces of one seal and one open (filled per datagram from its counter, never kept). */
  private readonly sealNonce = Buffer.alloc(NONCE_BYTES);
  private readonly openNonce = Buffer.alloc(NONCE_BYTES);
  private lastHeard = -Infinity;
  private roundStartedAt: number | undefined;
  private roundProbes = 0;
  private roundTimer: TimerHandle | undefined;
  private periodic: TimerHandle | undefined;
  private closed = false;
  private readonly o: Required<
    Pick<
      UdpPathOptions,
      | 'keepaliveMs'
      | 'probeIntervalMs'
      | 'probeAttempts'
      | 'silenceMs'
      | 'rekeyAfterMs'
      | 'rekeyAfterMessages'
    >
  >;

  constructor(private readonly opts: UdpPathOptions) {
    this.localIndex = opts.localIndex;
    this.remoteIndex = opts.remoteIndex;
    this.o = {
      keepaliveMs: opts.keepaliveMs ?? UDP_PATH_KEEPALIVE_MS,
      probeIntervalMs: opts.probeIntervalMs ?? UDP_PATH_PROBE_INTERVAL_MS,
      probeAttempts: opts.probeAttempts ?? UDP_PATH_PROBE_ATTEMPTS,
      silenceMs: opts.silenceMs ?? UDP_PATH_SILENCE_MS,
      rekeyAfterMs: opts.rekeyAfterMs ?? UDP_PATH_REKEY_AFTER_MS,
      rekeyAfterMessages: opts.rekeyAfterMessages ?? UDP_PATH_REKEY_AFTER_MESSAGES,
    };
    // Counters run on across epochs (one replay window); only the key changes.
    this.sendKeys = new UdpSendKeys(opts.keys.send);
    this.recvKeys = new UdpRecvKeys(opts.keys.recv);
    this.epochStartedAt = opts.clock.now();
    // Both sides start a round: the agent's probes go out at once; the relay, which has no address
    // yet, waits the same time for one before it says the TCP lane.
    this.startRound();
    if (opts.role === 'agent') {
      this.periodic = opts.clock.setInterval(() => this.onPeriodic(), this.o.keepaliveMs);
    }
  }

  get state(): UdpPathState {
    return this.current;
  }

  /** Relay side: where the agent's datagrams come from now (undefined before the first). */
  get peerAddress(): UdpPeerAddress | undefined {
    return this.peer;
  }

  /** True when a datagram of `bytes` would go on this path now. */
  canCarry(bytes: number): boolean {
    return (
      !this.closed &&
      this.current === 'udp' &&
      bytes <= UDP_PATH_MAX_PAYLOAD_BYTES &&
      this.remoteIndex !== undefined &&
      (this.opts.role === 'agent' || this.peer !== undefined)
    );
  }

  /** Seals and sends one visitor datagram; false (nothing sent) when it must take the TCP lane. */
  trySend(flowId: number, data: Buffer): boolean {
    if (!this.canCarry(data.length)) return false;
    if (!this.transmit(UdpMessageType.DATA, encodeDataBody(flowId, data))) return false;
    this.stats.sent++;
    // Traffic into silence: check the path now rather than at the next keepalive.
    const now = this.opts.clock.now();
    if (this.roundStartedAt === undefined && now - this.lastHeard > this.o.silenceMs) this.startRound();
    return true;
  }

  /**
   * One datagram addressed to our index, from `from`. Nothing is answered and nothing changes unless it
   * authenticates with a counter the window has not seen: a forged or replayed datagram only counts.
   */
  receive(buf: Buffer, from: UdpPeerAddress): void {
    if (this.closed) return;
    const header = parseHeader(buf);
    if (!header || header.receiver !== this.localIndex) {
      this.stats.malformed++;
      return;
    }
    if (!this.window.check(header.counter)) {
      this.stats.replayed++;
      return;
    }
    // An epoch we hold no key for cannot authenticate: as good as a bad tag.
    const key = this.recvKeys.keyFor(header.epoch);
    if (!key) {
      this.stats.badTag++;
      return;
    }
    let body: Buffer;
    try {
      body = openDatagram(this.opts.keys.aead, key.key, header, buf, this.openNonce);
    } catch (err) {
      // Never thrown out of a socket's message handler: anything that does not open is a bad tag.
      const e = toXnatError(err);
      if (e.code !== 'XNAT_ERR_CRYPTO_DECRYPT')
        this.opts.logger.error({ code: e.code }, 'udp path open failed');
      this.stats.badTag++;
      return;
    }
    if (key.isNext) this.recvKeys.advance();
    const fresh = header.counter > this.window.newest;
    this.window.accept(header.counter);
    this.heard(from, fresh);
    switch (header.type) {
      case UdpMessageType.DATA: {
        const d = decodeDataBody(body);
        if (!d) {
          this.stats.malformed++;
          return;
        }
        this.stats.received++;
        try {
          this.opts.onDatagram(d.flowId, d.data);
        } catch (err) {
          // A socket's message handler must never throw: it would take the whole process down.
          this.opts.logger.error({ err }, 'udp path datagram handler threw');
        }
        return;
      }
      case UdpMessageType.PROBE:
      case UdpMessageType.PROBE_REPLY: {
        const probe = decodeProbeBody(body);
        if (probe === undefined) {
          this.stats.malformed++;
          return;
        }
        this.remoteIndex ??= probe.index;
        this.peerRecvEpoch = probe.recvEpoch;
        if (header.type === UdpMessageType.PROBE) this.sendProbe(UdpMessageType.PROBE_REPLY);
        return;
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopRound();
    this.periodic?.cancel();
    this.periodic = undefined;
    this.opts.onClose?.();
  }

  /** An authenticated datagram: the peer is there; the relay follows a fresh one's source address. */
  private heard(from: UdpPeerAddress, fresh: boolean): void {
    this.lastHeard = this.opts.clock.now();
    if (this.opts.role === 'relay' && fresh) {
      const p = this.peer;
      if (p && (p.address !== from.address || p.port !== from.port)) {
        this.stats.roams++;
        this.opts.logger.info(
          { from: `${p.address}:${p.port}`, to: `${from.address}:${from.port}` },
          'udp path roamed',
        );
      }
      if (!p || p.address !== from.address || p.port !== from.port) this.peer = { ...from };
    }
    this.stopRound();
    if (this.current !== 'udp') {
      if (this.current === 'tcp-lane' && this.wasUp) this.stats.recoveries++;
      this.wasUp = true;
      this.current = 'udp';
      this.opts.logger.info({ roams: this.stats.roams }, 'udp path up');
    }
  }

  private onPeriodic(): void {
    // Up: the keepalive (a probe whose reply also proves the path). Down: the re-probe.
    if (this.roundStartedAt === undefined) this.startRound();
  }

  private startRound(): void {
    if (this.closed) return;
    this.roundStartedAt = this.opts.clock.now();
    this.roundProbes = 0;
    this.roundTimer?.cancel();
    // Armed before the probe goes: an answer may come back within the send (tests, loopback).
    this.roundTimer = this.opts.clock.setInterval(() => this.onRoundTick(), this.o.probeIntervalMs);
    this.sendProbe(UdpMessageType.PROBE);
  }

  private onRoundTick(): void {
    if (this.roundProbes < this.o.probeAttempts) {
      this.sendProbe(UdpMessageType.PROBE);
      return;
    }
    this.stopRound();
    if (this.current !== 'tcp-lane') {
      if (this.current === 'udp') this.stats.fallbacks++;
      this.current = 'tcp-lane';
      // A path that never came up (UDP blocked, the agent's path off) is worth a line, not a warning.
      this.opts.logger[this.wasUp ? 'info' : 'debug'](
        { probes: this.o.probeAttempts },
        'udp path unanswered, datagrams take the tcp lane',
      );
    }
  }

  private stopRound(): void {
    this.roundTimer?.cancel();
    this.roundTimer = undefined;
    this.roundStartedAt = undefined;
  }

  /** A probe counts towards the round only when it could be sent (the relay needs an address first). */
  private sendProbe(type: UdpMessageTypeValue): void {
    if (type === UdpMessageType.PROBE) this.roundProbes++;
    const body = encodeProbeBody({ index: this.localIndex, recvEpoch: this.recvKeys.currentEpoch });
    if (this.transmit(type, body)) this.stats.probes++;
  }

  private transmit(type: UdpMessageTypeValue, body: Buffer): boolean {
    if (this.closed || this.remoteIndex === undefined) return false;
    if (this.opts.role === 'relay' && !this.peer) return false;
    // A JS number counts exactly to 2^53-1: a path that got there (centuries at line rate) stops.
    if (this.sendCounter >= UDP_COUNTER_MAX) return false;
    const now = this.opts.clock.now();
    // Never more than one epoch ahead of what the peer holds: after any outage it still has our key.
    const due =
      now - this.epochStartedAt >= this.o.rekeyAfterMs || this.sentInEpoch >= this.o.rekeyAfterMessages;
    if (due && this.peerRecvEpoch === this.sendKeys.epoch) {
      this.sendKeys.rotate();
      this.epochStartedAt = now;
      this.sentInEpoch = 0;
    }
    this.sentInEpoch++;
    const bytes = sealDatagram(
      this.opts.keys.aead,
      this.sendKeys.key,
      { type, epoch: this.sendKeys.epoch, receiver: this.remoteIndex, counter: this.sendCounter++ },
      body,
      this.sealNonce,
    );
    this.opts.transmit(bytes, this.peer);
    return true;
  }
}
