// Noise HandshakeState (spec section 5.3): Initialize, WriteMessage, ReadMessage over the token lists of
// patterns.ts, including the psk rules of section 9. It knows nothing of sockets, framing or who is allowed.
import { XnatError } from '../errors.ts';
import { AEAD_TAG_BYTES, getAead } from './aead.ts';
import type { AeadBackendName } from './aead.ts';
import { NOISE_MAX_MESSAGE_BYTES } from './cipher-state.ts';
import type { CipherState } from './cipher-state.ts';
import { DH_LEN, dh, generateX25519 } from './dh.ts';
import { hashByName } from './hash.ts';
import { PSK_BYTES } from './keys.ts';
import type { KeyPair } from './keys.ts';
import { parseProtocolName } from './patterns.ts';
import type { HandshakePattern, Token } from './patterns.ts';
import { SymmetricState } from './symmetric-state.ts';

/** What Initialize() takes (spec section 5.3), plus the cipher backend. The name's cipher picks the AEAD. */
export interface HandshakeOptions {
  /** Full protocol name, e.g. "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s" or "..._AESGCM_BLAKE2s". */
  protocolName: string;
  initiator: boolean;
  /** Bytes both sides must agree on, mixed into h before anything else; default empty. */
  prologue?: Uint8Array;
  /** Our static key pair; required when the pattern sends or pre-shares our s. */
  s?: KeyPair;
  /** A fixed ephemeral key pair, for test vectors only; normally generated at the `e` token. */
  e?: KeyPair;
  /** The remote static public key, when the pattern pre-shares it (e.g. the relay key for IK). */
  rs?: Uint8Array;
  /** The remote ephemeral public key, only for patterns that pre-share it. */
  re?: Uint8Array;
  /** Pre-shared keys (32 bytes each), one per psk modifier, in order; may also come later via setPsks(). */
  psks?: Uint8Array[];
  /** Implementation of the name's cipher; default 'auto' (getAead). */
  backend?: AeadBackendName;
}

const EMPTY = new Uint8Array(0);

export class HandshakeState {
  /** The link uses its EncryptAndHash/DecryptAndHash for a reject message after a failed lookup. */
  readonly symmetricState: SymmetricState;
  readonly pattern: HandshakePattern;
  readonly initiator: boolean;
  private readonly s: KeyPair | undefined;
  private e: KeyPair | undefined;
  private rs: Buffer | undefined;
  private re: Buffer | undefined;
  private psks: Buffer[] = [];
  private pskUsed = 0;
  private messageIndex = 0;
  private failed = false;
  private cipherStates: { send: CipherState; recv: CipherState } | undefined;

  /** Initialize(handshake_pattern, initiator, prologue, s, e, rs, re) with psks. */
  constructor(opts: HandshakeOptions) {
    const protocol = parseProtocolName(opts.protocolName);
    this.pattern = protocol.pattern;
    this.initiator = opts.initiator;
    this.s = opts.s;
    this.e = opts.e;
    this.rs = opts.rs ? Buffer.from(opts.rs) : undefined;
    this.re = opts.re ? Buffer.from(opts.re) : undefined;
    if (opts.psks) this.setPsks(opts.psks);
    this.symmetricState = new SymmetricState(
      hashByName(protocol.hash)!,
      getAead(opts.backend ?? 'auto', protocol.cipher),
      protocol.name,
    );
    if (this.mySends('s') && !this.s) this.missing('s');

    this.symmetricState.mixHash(opts.prologue ?? EMPTY);
    // Pre-message keys are hashed initiator's first, then responder's, whichever side we are.
    const mine = this.initiator ? this.pattern.initiatorPreMessage : this.pattern.responderPreMessage;
    const theirs = this.initiator ? this.pattern.responderPreMessage : this.pattern.initiatorPreMessage;
    const preKey = (token: 'e' | 's', local: boolean): Buffer => {
      const key = local ? (token === 's' ? this.s : this.e)?.publicKey : token === 's' ? this.rs : this.re;
      return key ?? this.missing(local ? token : `r${token}`);
    };
    const first = this.initiator ? mine : theirs;
    const second = this.initiator ? theirs : mine;
    for (const [tokens, local] of [
      [first, this.initiator],
      [second, !this.initiator],
    ] as const) {
      for (const token of tokens) {
        const key = preKey(token, local);
        this.symmetricState.mixHash(key);
        if (token === 'e' && this.pattern.pskCount > 0) this.symmetricState.mixKey(key);
      }
    }
  }

  /**
   * Supplies the psks after construction: the IK responder learns the initiator's static key in
   * message 1 and only then knows which psk to use. Allowed until the first psk token is processed.
   */
  setPsks(psks: Uint8Array[]): void {
    if (this.pskUsed > 0)
      throw new XnatError('XNAT_ERR_CRYPTO_HANDSHAKE_STATE', { detail: 'psk already used' });
    if (psks.length !== this.pattern.pskCount || psks.some((p) => p.length !== PSK_BYTES)) {
      throw new XnatError('XNAT_ERR_CRYPTO_HANDSHAKE_KEYS', {
        detail: `pattern ${this.pattern.name} needs ${this.pattern.pskCount} psk(s) of ${PSK_BYTES} bytes`,
      });
    }
    this.psks = psks.map((p) => Buffer.from(p));
  }

  /** True once every handshake message was written or read; split() is then available. */
  get isComplete(): boolean {
    return this.messageIndex >= this.pattern.messages.length;
  }

  /** True when the next handshake step of this side is writeMessage (false when complete). */
  get isMyTurn(): boolean {
    return !this.isComplete && this.messageIndex % 2 === (this.initiator ? 0 : 1);
  }

  /** rs once known: from the options, or learned from an `s` token (the IK responder, in message 1). */
  get remoteStaticKey(): Buffer | undefined {
    return this.rs ? Buffer.from(this.rs) : undefined;
  }

  /** GetHandshakeHash(): h; after completion, a unique name of this handshake for channel binding. */
  getHandshakeHash(): Buffer {
    return this.symmetricState.getHandshakeHash();
  }

  /**
   * WriteMessage(payload, message_buffer): the next handshake message carrying `payload`.
   * XNAT_ERR_CRYPTO_HANDSHAKE_STATE when out of turn, after completion or after a failed step;
   * XNAT_ERR_CRYPTO_MESSAGE_SIZE when the message would exceed 65535 bytes (checked before any change).
   */
  writeMessage(payload: Uint8Array): Buffer {
    const tokens = this.beginStep(true);
    const size = this.messageSize(tokens, payload.length);
    if (size > NOISE_MAX_MESSAGE_BYTES) {
      throw new XnatError('XNAT_ERR_CRYPTO_MESSAGE_SIZE', { detail: `handshake message ${size} bytes` });
    }
    return this.guard(() => {
      const ss = this.symmetricState;
      const parts: Buffer[] = [];
      for (const token of tokens) {
        if (token === 'e') {
          this.e ??= generateX25519();
          parts.push(Buffer.from(this.e.publicKey));
          ss.mixHash(this.e.publicKey);
          if (this.pattern.pskCount > 0) ss.mixKey(this.e.publicKey);
        } else if (token === 's') {
          parts.push(ss.encryptAndHash(this.s!.publicKey));
        } else {
          this.mixToken(token);
        }
      }
      parts.push(ss.encryptAndHash(payload));
      this.endStep();
      return Buffer.concat(parts);
    });
  }

  /**
   * ReadMessage(message, payload_buffer): the payload of the peer's next handshake message.
   * XNAT_ERR_CRYPTO_DECRYPT on a bad tag, XNAT_ERR_LINK_HANDSHAKE_MALFORMED when too short,
   * XNAT_ERR_CRYPTO_DH on a low-order key. Any failure ends the handshake: start a new one.
   */
  readMessage(message: Uint8Array): Buffer {
    const tokens = this.beginStep(false);
    if (message.length > NOISE_MAX_MESSAGE_BYTES) {
      this.failed = true;
      throw new XnatError('XNAT_ERR_CRYPTO_MESSAGE_SIZE', {
        detail: `handshake message ${message.length} bytes`,
      });
    }
    return this.guard(() => {
      const ss = this.symmetricState;
      let offset = 0;
      const ensure = (n: number, what: string): void => {
        if (message.length - offset < n) {
          throw new XnatError('XNAT_ERR_LINK_HANDSHAKE_MALFORMED', {
            detail: `message ${this.messageIndex + 1} too short for ${what}`,
          });
        }
      };
      const take = (n: number, what: string): Buffer => {
        ensure(n, what);
        const out = Buffer.from(message.subarray(offset, offset + n));
        offset += n;
        return out;
      };
      for (const token of tokens) {
        if (token === 'e') {
          this.re = take(DH_LEN, 'e');
          ss.mixHash(this.re);
          if (this.pattern.pskCount > 0) ss.mixKey(this.re);
        } else if (token === 's') {
          const ct = take(DH_LEN + (ss.cipherState.hasKey() ? AEAD_TAG_BYTES : 0), 's');
          this.rs = ss.decryptAndHash(ct);
        } else {
          this.mixToken(token);
        }
      }
      ensure(ss.cipherState.hasKey() ? AEAD_TAG_BYTES : 0, 'payload');
      const payload = ss.decryptAndHash(message.subarray(offset));
      this.endStep();
      return payload;
    });
  }

  /**
   * After completion: CipherStates oriented for this side (the initiator sends with c1, the responder
   * with c2). One-way patterns: only the initiator's `send` (c1) and the responder's `recv` (c1) are used.
   */
  split(): { send: CipherState; recv: CipherState } {
    if (!this.cipherStates) {
      throw new XnatError('XNAT_ERR_CRYPTO_HANDSHAKE_STATE', { detail: 'split before completion' });
    }
    return this.cipherStates;
  }

  /**
   * After completion: SymmetricState.deriveKeys(label) as [initiator-to-responder, responder-to-initiator]
   * (the same order on both sides, like Split()'s c1 and c2).
   */
  deriveKeys(label: Uint8Array): [Buffer, Buffer] {
    if (!this.cipherStates) {
      throw new XnatError('XNAT_ERR_CRYPTO_HANDSHAKE_STATE', { detail: 'derive before completion' });
    }
    return this.symmetricState.deriveKeys(label);
  }

  /** Checks it is our turn to write (or read) and returns the tokens of this message. */
  private beginStep(writing: boolean): readonly Token[] {
    if (this.failed)
      throw new XnatError('XNAT_ERR_CRYPTO_HANDSHAKE_STATE', { detail: 'handshake failed earlier' });
    if (this.isComplete)
      throw new XnatError('XNAT_ERR_CRYPTO_HANDSHAKE_STATE', { detail: 'handshake complete' });
    if (this.isMyTurn !== writing) {
      throw new XnatError('XNAT_ERR_CRYPTO_HANDSHAKE_STATE', {
        detail: writing ? 'not our turn to write' : 'not our turn to read',
      });
    }
    return this.pattern.messages[this.messageIndex]!;
  }

  private endStep(): void {
    this.messageIndex++;
    if (this.isComplete) {
      const [c1, c2] = this.symmetricState.split();
      this.cipherStates = this.initiator ? { send: c1, recv: c2 } : { send: c2, recv: c1 };
    }
  }

  /** Runs one step; any failure poisons the state, because h and ck are then half-updated. */
  private guard<T>(step: () => T): T {
    try {
      return step();
    } catch (err) {
      this.failed = true;
      throw err;
    }
  }

  /** ee, es, se, ss: MixKey(DH(...)) with the keys the spec names for each side; psk: MixKeyAndHash(psk). */
  private mixToken(token: Exclude<Token, 'e' | 's'>): void {
    const ss = this.symmetricState;
    switch (token) {
      case 'ee':
        ss.mixKey(dh(this.need(this.e, 'e'), this.need(this.re, 're')));
        break;
      case 'es':
        ss.mixKey(
          this.initiator
            ? dh(this.need(this.e, 'e'), this.need(this.rs, 'rs'))
            : dh(this.need(this.s, 's'), this.need(this.re, 're')),
        );
        break;
      case 'se':
        ss.mixKey(
          this.initiator
            ? dh(this.need(this.s, 's'), this.need(this.re, 're'))
            : dh(this.need(this.e, 'e'), this.need(this.rs, 'rs')),
        );
        break;
      case 'ss':
        ss.mixKey(dh(this.need(this.s, 's'), this.need(this.rs, 'rs')));
        break;
      case 'psk': {
        const psk = this.psks[this.pskUsed] ?? this.missing('psk');
        this.pskUsed++;
        ss.mixKeyAndHash(psk);
        break;
      }
    }
  }

  /** The exact size of the message we are about to write, simulating when the cipher gains a key. */
  private messageSize(tokens: readonly Token[], payloadLength: number): number {
    let keyed = this.symmetricState.cipherState.hasKey();
    let size = 0;
    for (const token of tokens) {
      if (token === 'e') {
        size += DH_LEN;
        if (this.pattern.pskCount > 0) keyed = true;
      } else if (token === 's') {
        size += DH_LEN + (keyed ? AEAD_TAG_BYTES : 0);
      } else {
        keyed = true;
      }
    }
    return size + payloadLength + (keyed ? AEAD_TAG_BYTES : 0);
  }

  /** True when this side sends its static key in a message or a pre-message. */
  private mySends(token: 's'): boolean {
    const pre = this.initiator ? this.pattern.initiatorPreMessage : this.pattern.responderPreMessage;
    if (pre.includes(token)) return true;
    return this.pattern.messages.some((m, i) => i % 2 === (this.initiator ? 0 : 1) && m.includes(token));
  }

  private need<T>(value: T | undefined, what: string): T {
    return value ?? this.missing(what);
  }

  private missing(what: string): never {
    throw new XnatError('XNAT_ERR_CRYPTO_HANDSHAKE_KEYS', {
      detail: `pattern ${this.pattern.name} needs ${what}`,
    });
  }
}
