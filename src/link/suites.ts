// The link's cipher suites: their ids in the preface, their Noise protocol names and handshake states,
// the `auto` choice, and the agent's proposal across redials. It knows nothing of sockets or frames.
import type { AeadBackendName, AeadCipher } from '../crypto/aead.ts';
import { hasAesInstructions, type AesSupport } from '../crypto/cpu-features.ts';
import { HandshakeState } from '../crypto/handshake-state.ts';
import type { KeyPair } from '../crypto/keys.ts';

/** Offset of the suite id in the preface (wire.ts lays out the rest). */
export const PREFACE_SUITE_OFFSET = 5;

/** A suite, as profiles name it. */
export type CipherSuite = 'aes-256-gcm' | 'chacha20-poly1305';
/** What an agent profile may ask for. */
export type CipherChoice = 'auto' | CipherSuite;

/** Every suite, the default list a relay accepts. */
export const CIPHER_SUITES: readonly CipherSuite[] = ['aes-256-gcm', 'chacha20-poly1305'];

export interface SuiteInfo {
  /** Byte 5 of the preface. 0 is ChaChaPoly, so a version-1 preface with zero reserved bytes keeps its meaning. */
  readonly id: number;
  readonly cipher: AeadCipher;
  /** The full Noise protocol name, hashed into h by InitializeSymmetric: both ends must agree on it. */
  readonly protocolName: string;
}

export const SUITES: Readonly<Record<CipherSuite, SuiteInfo>> = {
  'chacha20-poly1305': { id: 0, cipher: 'ChaChaPoly', protocolName: 'Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s' },
  'aes-256-gcm': { id: 1, cipher: 'AESGCM', protocolName: 'Noise_IKpsk2_25519_AESGCM_BLAKE2s' },
};

/** The suite of a preface id; undefined for an id this version does not know. */
export function suiteById(id: number): CipherSuite | undefined {
  return CIPHER_SUITES.find((s) => SUITES[s].id === id);
}

/** `auto` -> AES-256-GCM where the CPU has AES instructions, else ChaCha20-Poly1305; a suite -> itself. */
export function resolveCipher(choice: CipherChoice, aes: AesSupport = hasAesInstructions()): CipherSuite {
  if (choice !== 'auto') return choice;
  return aes.aes ? 'aes-256-gcm' : 'chacha20-poly1305';
}

/**
 * The suite an agent proposes on each dial. A chosen suite is insisted on. `auto` starts with the CPU's
 * best and, after a relay refuses it (an authenticated reject, so a man in the middle cannot cause it),
 * proposes the next suite on later dials; once every suite was refused it starts over.
 */
export class SuiteProposal {
  private refusedSuites = new Set<CipherSuite>();
  private readonly first: CipherSuite;

  constructor(
    readonly choice: CipherChoice = 'auto',
    aes: AesSupport = hasAesInstructions(),
  ) {
    this.first = resolveCipher(choice, aes);
  }

  /** The suite the next dial proposes. */
  get current(): CipherSuite {
    if (this.choice !== 'auto' || !this.refusedSuites.has(this.first)) return this.first;
    return CIPHER_SUITES.find((s) => !this.refusedSuites.has(s)) ?? this.first;
  }

  /** A relay refused `suite`; under `auto` the next dial tries another. */
  refused(suite: CipherSuite): void {
    if (this.choice !== 'auto') return;
    this.refusedSuites.add(suite);
    if (CIPHER_SUITES.every((s) => this.refusedSuites.has(s))) this.refusedSuites = new Set();
  }
}

/** The handshake state of `suite` with `preface` as prologue (the preface carries the suite id too). */
export function suiteState(
  suite: CipherSuite,
  preface: Buffer,
  backend: AeadBackendName | undefined,
  keys: { initiator: boolean; s: KeyPair; rs?: Uint8Array; psk?: Uint8Array },
): HandshakeState {
  return new HandshakeState({
    protocolName: SUITES[suite].protocolName,
    initiator: keys.initiator,
    prologue: preface,
    s: keys.s,
    rs: keys.rs,
    psks: keys.psk ? [keys.psk] : undefined,
    backend,
  });
}

/**
 * Message 1 read under each suite other than `stated`, with that suite's id written into the prologue;
 * the first that decrypts, or undefined. Runs only after message 1 failed under the stated suite.
 */
export function trySuites(
  message1: Buffer,
  preface: Buffer,
  stated: CipherSuite,
  backend: AeadBackendName | undefined,
  keys: { initiator: boolean; s: KeyPair },
): { suite: CipherSuite; hs: HandshakeState } | undefined {
  for (const suite of CIPHER_SUITES) {
    if (suite === stated) continue;
    const prologue = Buffer.from(preface);
    prologue[PREFACE_SUITE_OFFSET] = SUITES[suite].id;
    const hs = suiteState(suite, prologue, backend, keys);
    try {
      hs.readMessage(message1);
      return { suite, hs };
    } catch {
      // Not this suite either.
    }
  }
  return undefined;
}
