// The UDP path's keys: two AEAD keys per link, derived from the link's finished handshake by their own
// HKDF label, never the TCP record keys, and their one-way ratchet by epoch (rekey). It knows nothing of
// sockets, headers or counters (udp-datagram.ts, udp-path.ts).
import type { AeadBackendName, AeadCipher } from '../crypto/aead.ts';
import { getAead, type Aead } from '../crypto/aead.ts';
import type { HandshakeState } from '../crypto/handshake-state.ts';
import { BLAKE2s } from '../crypto/hash.ts';

/**
 * HKDF info of the derivation: UDP keys = HKDF(ck, "xnat udp path v1", 2) over the chaining key ck of
 * the finished handshake. ck is secret (it mixed every DH output and the psk); the handshake hash h is
 * not (it hashes the protocol name, public keys and the ciphertexts on the wire, and xnat uses it as a
 * link id), so h is never a key input. Split() uses HKDF(ck, empty): a non-empty label makes these outputs
 * independent of the record keys, so a record key and a UDP key never reveal each other.
 */
export const UDP_PATH_KEY_LABEL = Buffer.from('xnat udp path v1', 'ascii');

/** The two directions of one link's UDP path, oriented for this side; plus the AEAD of the link's suite. */
export interface UdpPathKeys {
  /** Key of what this side seals (32 bytes). Secret: never logged. */
  readonly send: Buffer;
  /** Key of what this side opens (32 bytes). Secret: never logged. */
  readonly recv: Buffer;
  /** The link suite's AEAD (ChaCha20-Poly1305 or AES-256-GCM) and backend. */
  readonly aead: Aead;
}

/**
 * The UDP keys of a completed handshake, oriented for `initiator` (the agent sends with the first output,
 * the relay with the second), sealed with `cipher` under `backend`.
 */
export function deriveUdpPathKeys(
  hs: HandshakeState,
  initiator: boolean,
  cipher: AeadCipher,
  backend: AeadBackendName | undefined,
): UdpPathKeys {
  const [i2r, r2i] = hs.deriveKeys(UDP_PATH_KEY_LABEL);
  return {
    send: Buffer.from(initiator ? i2r : r2i),
    recv: Buffer.from(initiator ? r2i : i2r),
    aead: getAead(backend ?? 'auto', cipher),
  };
}

/** HKDF info of the UDP path's key ratchet: key(e+1) = HKDF(key(e), "xnat udp rekey", 2)[0]. */
export const UDP_REKEY_LABEL = Buffer.from('xnat udp rekey', 'ascii');

/**
 * The next epoch's key: one-way, so a key that leaks reveals no earlier epoch's datagrams (the old key
 * is dropped from memory two epochs on). BLAKE2s, the hash of both suites.
 */
export function nextUdpKey(key: Buffer): Buffer {
  return BLAKE2s.hkdf(key, UDP_REKEY_LABEL, 2)[0]!.subarray(0, 32);
}

/** The sending half of one direction: the key of the current epoch (u8 on the wire, wrapping). */
export class UdpSendKeys {
  epoch = 0;
  constructor(public key: Buffer) {}

  /** Moves to the next epoch; the old key is forgotten at once (the peer may keep it a while). */
  rotate(): void {
    this.key = nextUdpKey(this.key);
    this.epoch = (this.epoch + 1) & 0xff;
  }
}

/**
 * The receiving half: the current epoch's key, the previous one (datagrams reordered across a rekey)
 * and the next one, derived once on first sight (a forger repeating the next epoch costs nothing).
 */
export class UdpRecvKeys {
  private epoch = 0;
  private previous: Buffer | undefined;
  private next: Buffer | undefined;

  constructor(private current: Buffer) {}

  /** The epoch of the newest key that authenticated a datagram (0 at first). */
  get currentEpoch(): number {
    return this.epoch;
  }

  /** The key for a datagram of `epoch`, and whether it is the next epoch's; undefined: none held. */
  keyFor(epoch: number): { key: Buffer; isNext: boolean } | undefined {
    if (epoch === this.epoch) return { key: this.current, isNext: false };
    if (epoch === ((this.epoch + 1) & 0xff)) {
      this.next ??= nextUdpKey(this.current);
      return { key: this.next, isNext: true };
    }
    if (epoch === ((this.epoch - 1) & 0xff) && this.previous) return { key: this.previous, isNext: false };
    return undefined;
  }

  /** A datagram of the next epoch authenticated: it is current now, the old current is kept as previous. */
  advance(): void {
    this.previous = this.current;
    this.current = this.next ?? nextUdpKey(this.current);
    this.next = undefined;
    this.epoch = (this.epoch + 1) & 0xff;
  }
}
