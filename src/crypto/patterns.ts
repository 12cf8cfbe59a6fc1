// Noise handshake patterns (spec sections 7 and 9) as token lists, and the parsing of full protocol
// names such as Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s. It knows nothing of keys or state.
import { XnatError } from '../errors.ts';
import type { AeadCipher } from './aead.ts';

/** A message-pattern token (spec section 7.1, plus `psk` of section 9). */
export type Token = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss' | 'psk';
/** A pre-message token: a public key both sides know before the first message. */
export type PreToken = 'e' | 's';

/** One handshake pattern with its modifiers applied. Message i is sent by the initiator when i is even. */
export interface HandshakePattern {
  /** The pattern part of the protocol name, modifiers included, e.g. "IKpsk2". */
  readonly name: string;
  /** Pre-message of the initiator ("-> s ..."), then of the responder ("<- s ..."). */
  readonly initiatorPreMessage: readonly PreToken[];
  readonly responderPreMessage: readonly PreToken[];
  readonly messages: readonly (readonly Token[])[];
  /** One-way patterns (N, K, X): a single message, then only the initiator sends. */
  readonly oneWay: boolean;
  /** Number of psk tokens; 0 means no psk modifier (and `e` does not call MixKey). */
  readonly pskCount: number;
}

/** Base patterns: [initiator pre-message, responder pre-message, messages], in the spec's notation. */
const BASE: Record<string, readonly [string, string, readonly string[]]> = {
  // One-way (7.4)
  N: ['', 's', ['e, es']],
  K: ['s', 's', ['e, es, ss']],
  X: ['', 's', ['e, es, s, ss']],
  // Fundamental interactive (7.5)
  NN: ['', '', ['e', 'e, ee']],
  NK: ['', 's', ['e, es', 'e, ee']],
  NX: ['', '', ['e', 'e, ee, s, es']],
  KN: ['s', '', ['e', 'e, ee, se']],
  KK: ['s', 's', ['e, es, ss', 'e, ee, se']],
  KX: ['s', '', ['e', 'e, ee, se, s, es']],
  XN: ['', '', ['e', 'e, ee', 's, se']],
  XK: ['', 's', ['e, es', 'e, ee', 's, se']],
  XX: ['', '', ['e', 'e, ee, s, es', 's, se']],
  IN: ['', '', ['e, s', 'e, ee, se']],
  IK: ['', 's', ['e, es, s, ss', 'e, ee, se']],
  IX: ['', '', ['e, s', 'e, ee, se, s, es']],
  // Deferred (18.1): same tokens as above, some DHs moved one message later.
  NK1: ['', 's', ['e', 'e, ee, es']],
  NX1: ['', '', ['e', 'e, ee, s', 'es']],
  X1N: ['', '', ['e', 'e, ee', 's', 'se']],
  X1K: ['', 's', ['e, es', 'e, ee', 's', 'se']],
  XK1: ['', 's', ['e', 'e, ee, es', 's, se']],
  X1K1: ['', 's', ['e', 'e, ee, es', 's', 'se']],
  X1X: ['', '', ['e', 'e, ee, s, es', 's', 'se']],
  XX1: ['', '', ['e', 'e, ee, s', 'es, s, se']],
  X1X1: ['', '', ['e', 'e, ee, s', 'es, s', 'se']],
  K1N: ['s', '', ['e', 'e, ee', 'se']],
  K1K: ['s', 's', ['e, es', 'e, ee', 'se']],
  KK1: ['s', 's', ['e', 'e, ee, se, es']],
  K1K1: ['s', 's', ['e', 'e, ee, es', 'se']],
  K1X: ['s', '', ['e', 'e, ee, s, es', 'se']],
  KX1: ['s', '', ['e', 'e, ee, se, s', 'es']],
  K1X1: ['s', '', ['e', 'e, ee, s', 'se, es']],
  I1N: ['', '', ['e, s', 'e, ee', 'se']],
  I1K: ['', 's', ['e, es, s', 'e, ee', 'se']],
  IK1: ['', 's', ['e, s', 'e, ee, se, es']],
  I1K1: ['', 's', ['e, s', 'e, ee, es', 'se']],
  I1X: ['', '', ['e, s', 'e, ee, s, es', 'se']],
  IX1: ['', '', ['e, s', 'e, ee, se, s', 'es']],
  I1X1: ['', '', ['e, s', 'e, ee, s', 'se, es']],
};

const ONE_WAY = new Set(['N', 'K', 'X']);

function tokens<T extends string>(text: string): T[] {
  return text === '' ? [] : (text.split(', ') as T[]);
}

/** The names of all supported base patterns (without modifiers). */
export const BASE_PATTERN_NAMES: readonly string[] = Object.keys(BASE);

/**
 * The pattern for a name such as "XX", "IKpsk2" or "NNpsk0+psk2"; undefined when the base is unknown,
 * a modifier is not a psk modifier, or a psk position lies past the last message.
 */
export function getPattern(name: string): HandshakePattern | undefined {
  const m = /^([A-Z][A-Z0-9]*?)((?:psk\d+)(?:\+psk\d+)*)?$/.exec(name);
  if (!m) return undefined;
  const base = BASE[m[1]!];
  if (!base) return undefined;
  const messages = base[2].map((msg) => tokens<Token>(msg));
  let pskCount = 0;
  for (const modifier of m[2] ? m[2].split('+') : []) {
    const position = Number(modifier.slice(3));
    // psk0 goes at the start of the first message, pskN at the end of message N (spec section 9.2).
    if (position === 0) messages[0]!.unshift('psk');
    else if (position <= messages.length) messages[position - 1]!.push('psk');
    else return undefined;
    pskCount++;
  }
  return {
    name,
    initiatorPreMessage: tokens<PreToken>(base[0]),
    responderPreMessage: tokens<PreToken>(base[1]),
    messages,
    oneWay: ONE_WAY.has(m[1]!),
    pskCount,
  };
}

/** The parts of a full Noise protocol name. */
export interface NoiseProtocolName {
  readonly name: string;
  readonly pattern: HandshakePattern;
  readonly dh: '25519';
  readonly cipher: AeadCipher;
  readonly hash: 'BLAKE2s' | 'SHA256';
}

/**
 * Parses "Noise_<pattern>_25519_<ChaChaPoly|AESGCM>_<BLAKE2s|SHA256>"; anything else (another DH, cipher or hash,
 * an unknown pattern or modifier) -> XNAT_ERR_CRYPTO_PROTOCOL_NAME.
 */
export function parseProtocolName(name: string): NoiseProtocolName {
  const parts = name.split('_');
  const fail = (why: string): never => {
    throw new XnatError('XNAT_ERR_CRYPTO_PROTOCOL_NAME', { detail: `${why}: ${name.slice(0, 80)}` });
  };
  if (parts.length !== 5 || parts[0] !== 'Noise') return fail('not Noise_<pattern>_<dh>_<cipher>_<hash>');
  const pattern = getPattern(parts[1]!) ?? fail('pattern');
  if (parts[2] !== '25519') return fail('dh');
  const cipher = parts[3];
  if (cipher !== 'ChaChaPoly' && cipher !== 'AESGCM') return fail('cipher');
  const hash = parts[4];
  if (hash !== 'BLAKE2s' && hash !== 'SHA256') return fail('hash');
  return { name, pattern, dh: '25519', cipher, hash };
}
