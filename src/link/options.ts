// Settings, defaults and the handshake-to-record-layer hand-over types of links, shared by src/link.
// It knows no behaviour: established.ts and its parts apply these settings, link.ts and handshake.ts fill them in.
import type { Duplex } from 'node:stream';
import type { Clock } from '../util/clock.ts';
import type { Logger } from '../observe/log.ts';
import type { AeadBackendName } from '../crypto/aead.ts';
import type { CipherChoice, CipherSuite, SuiteProposal } from './suites.ts';
import type { UdpPathKeys } from './udp-keys.ts';
/** Default interval between keepalive PINGs, in milliseconds. */
export const KEEPALIVE_INTERVAL_MS = 1000;
/**
 * Default silence (no record at all received) after which a link is declared dead, in milliseconds:
 * two missed pings; a dead link is declared that long after its last record (a timer, not the ping tick).
 * The timeout in force is max(this, KEEPALIVE_RTT_FACTOR x smoothed RTT) (keepalive.ts).
 */
export const KEEPALIVE_TIMEOUT_MS = 2000;
/**
 * A slow link's timeout grows with its smoothed RTT: a loaded 4G uplink (RTT up to about 1 s when its
 * queues fill) keeps its link instead of dropping it every time a ping waits behind the queue.
 */
export const KEEPALIVE_RTT_FACTOR = 4;
/**
 * A link silent for one keepalive interval plus max(this, SUSPECT_RTT_FACTOR x smoothed RTT) is suspect
 * (keepalive.ts): the agent starts probe dials while it keeps the link, so a dead path is replaced as soon
 * as it returns instead of at the dead verdict. 150 ms covers most timer and event-loop jitter on a live
 * link; a false suspect costs little, since the link PINGs at once and the PONG (one round trip) comes
 * back before a probe (TCP and Noise handshakes, then the session's) can take over.
 */
export const SUSPECT_MARGIN_MS = 150;
export const SUSPECT_RTT_FACTOR = 2;
/**
 * A link that sent what the peer must answer (expectReply: the session's reliable frames, ACKed within
 * 20 ms) and has heard nothing for max(this, SUSPECT_RTT_FACTOR x smoothed RTT) PINGs again, and again
 * after each such span (keepalive.ts's echo). After a short outage whose lost bytes broke the link's byte
 * streams, that PING crosses soon after the path returns, the peer finds the stream broken and drops the
 * link, and the agent redials at once, instead of at the next interval's PING. An idle link sends none.
 */
export const ECHO_PING_MS = 250;
/** Default plaintext bytes sent on one key before a rekey: 1 GiB. */
export const REKEY_AFTER_BYTES = 1024 ** 3;
/** Default age of a sending key before a rekey, in milliseconds: 10 minutes. */
export const REKEY_AFTER_MS = 10 * 60_000;
/** Default bytes queued (unsent plus socket-buffered) before write() returns false: 1 MiB. */
export const LINK_HIGH_WATER_MARK_BYTES = 1024 * 1024;
/** After close(), how long the socket may linger for the peer's FIN before it is destroyed, in milliseconds. */
export const CLOSE_LINGER_MS = 2000;

/** Settings shared by both ends of a link. All durations in milliseconds. */
export interface LinkOptions {
  /** Time source; default the real clock. */
  clock?: Clock;
  /** Parent logger; the link binds a child. Default silent. */
  logger?: Logger;
  /** Implementation of the suite's AEAD for the handshake and records; default 'auto' (getAead). */
  cipherBackend?: AeadBackendName;
  /**
   * Agent side: the suite to propose; default 'auto' (resolveCipher). A SuiteProposal remembers, across
   * the dials it is passed to, which suites a relay refused, so `auto` moves on to another.
   */
  cipher?: CipherChoice | SuiteProposal;
  /** Relay side: the suites accepted; default every suite (CIPHER_SUITES). */
  cipherSuites?: readonly CipherSuite[];
  /** Interval between keepalive PINGs; default 1000. */
  keepaliveIntervalMs?: number;
  /**
   * No record at all received for max(this, 4 x smoothed RTT) -> XNAT_ERR_LINK_KEEPALIVE; default 2000.
   */
  keepaliveTimeoutMs?: number;
  /** Plaintext bytes sent on one key before the sender rekeys; default 1 GiB. */
  rekeyAfterBytes?: number;
  /** Age of the sending key before the sender rekeys; default 10 minutes. */
  rekeyAfterMs?: number;
  /** Bytes queued (unsent plus socket-buffered) before write() returns false; default 1 MiB. */
  highWaterMark?: number;
}

/** The two directions' cipher states as the record layer uses them (a Noise CipherState fits). */
export interface RecordCipher {
  encryptWithAd(ad: Uint8Array, pt: Uint8Array): Buffer;
  /** Same bytes as encryptWithAd, possibly as several buffers (ciphertext, tag); must not keep `pt`. */
  encryptWithAdParts?(ad: Uint8Array, pt: Uint8Array): readonly Buffer[];
  /** Same bytes as encryptWithAd over a plaintext in pieces (`total` bytes), without joining them. */
  encryptWithAdPieces?(ad: Uint8Array, pieces: readonly Uint8Array[], total: number): readonly Buffer[];
  decryptWithAd(ad: Uint8Array, ct: Uint8Array): Buffer;
  /**
   * Same as decryptWithAd over a ciphertext given in pieces (a record split across socket reads), without
   * joining them first; returns the plaintext as one buffer or as pieces, in order.
   */
  decryptWithAdPieces?(ad: Uint8Array, pieces: readonly Uint8Array[]): Buffer | Buffer[];
  rekey(): void;
}

/** What a finished handshake hands to the record layer. Built by connectLink / LinkAcceptor only. */
export interface LinkInit {
  readonly socket: Duplex;
  readonly role: 'initiator' | 'responder';
  /** The suite both ends agreed on (its protocol name was hashed into the handshake). */
  readonly suite: CipherSuite;
  readonly send: RecordCipher;
  readonly recv: RecordCipher;
  readonly remoteStaticKey: Buffer;
  readonly handshakeHash: Buffer;
  /** Keys of this link's UDP path (udp-keys.ts), derived apart from the record keys. */
  readonly udpKeys?: UdpPathKeys;
  /** Bytes already read from the socket past the handshake (records not yet processed). */
  readonly leftover: Buffer[];
  /** The plaintext of a record the handshake already decrypted (the key confirmation), processed first. */
  readonly firstPlaintext?: Buffer;
  readonly options: LinkOptions;
}

/** Counters of one link; bytes are wire bytes (length prefixes and tags included). */
export interface LinkStats {
  bytesIn: number;
  bytesOut: number;
  recordsIn: number;
  recordsOut: number;
  rekeys: number;
}
