// The UDP path's keys: two AEAD keys per link, derived from the link's finished handshake by their own
// HKDF label, never the TCP record keys. It knows nothing of sockets, headers or counters (udp-datagram.ts).
import type { AeadBackendName, AeadCipher } from '../crypto/aead.ts';
import { getAead, type Aead } from '../crypto/aead.ts';
import type { HandshakeState } from '../crypto/handshake-state.ts';

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
