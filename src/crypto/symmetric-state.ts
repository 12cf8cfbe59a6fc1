// Noise SymmetricState (spec section 5.2): chaining key ck and handshake hash h around a CipherState.
// It knows nothing of tokens or patterns; HandshakeState drives it.
import { CipherState } from './cipher-state.ts';
import type { Aead } from './aead.ts';
import type { NoiseHash } from './hash.ts';

/** Cipher key length taken from HKDF outputs (spec: truncate to 32 bytes when HASHLEN is 64). */
const CIPHER_KEY_BYTES = 32;

export class SymmetricState {
  readonly cipherState: CipherState;
  private ck: Buffer;
  private h: Buffer;

  /** InitializeSymmetric(protocol_name). */
  constructor(
    readonly hash: NoiseHash,
    private readonly aead: Aead,
    protocolName: string,
  ) {
    const name = Buffer.from(protocolName, 'ascii');
    if (name.length <= hash.hashLen) {
      // Short names are zero-padded to HASHLEN rather than hashed.
      this.h = Buffer.alloc(hash.hashLen);
      name.copy(this.h);
    } else {
      this.h = hash.hash(name);
    }
    this.ck = Buffer.from(this.h);
    this.cipherState = new CipherState(aead);
    this.cipherState.initializeKey(null);
  }

  /** MixKey(input_key_material): ck, temp_k = HKDF(ck, ikm, 2); InitializeKey(temp_k). */
  mixKey(inputKeyMaterial: Uint8Array): void {
    const [ck, tempK] = this.hash.hkdf(this.ck, inputKeyMaterial, 2) as [Buffer, Buffer];
    this.ck = ck;
    this.cipherState.initializeKey(tempK.subarray(0, CIPHER_KEY_BYTES));
  }

  /** MixHash(data): h = HASH(h || data). */
  mixHash(data: Uint8Array): void {
    this.h = this.hash.hash(this.h, data);
  }

  /** MixKeyAndHash(input_key_material): for psk tokens; ck, temp_h, temp_k = HKDF(ck, ikm, 3). */
  mixKeyAndHash(inputKeyMaterial: Uint8Array): void {
    const [ck, tempH, tempK] = this.hash.hkdf(this.ck, inputKeyMaterial, 3) as [Buffer, Buffer, Buffer];
    this.ck = ck;
    this.mixHash(tempH);
    this.cipherState.initializeKey(tempK.subarray(0, CIPHER_KEY_BYTES));
  }

  /** GetHandshakeHash(): h, a copy; after the handshake it names the session for channel binding. */
  getHandshakeHash(): Buffer {
    return Buffer.from(this.h);
  }

  /** EncryptAndHash(plaintext): ciphertext = EncryptWithAd(h, plaintext); MixHash(ciphertext). */
  encryptAndHash(plaintext: Uint8Array): Buffer {
    const ciphertext = this.cipherState.encryptWithAd(this.h, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  /** DecryptAndHash(ciphertext): plaintext = DecryptWithAd(h, ciphertext); MixHash(ciphertext). */
  decryptAndHash(ciphertext: Uint8Array): Buffer {
    const plaintext = this.cipherState.decryptWithAd(this.h, ciphertext);
    this.mixHash(ciphertext);
    return plaintext;
  }

  /**
   * Two keys for another channel bound to this handshake: HKDF(ck, label, 2), truncated to 32 bytes.
   * Not a Noise spec function: Split() is HKDF(ck, empty); a distinct non-empty `label` makes these
   * outputs independent of Split()'s (HMAC as a PRF), so they never equal or reveal the record keys.
   * Meaningful only once the handshake is complete (ck then holds every DH and the psk).
   */
  deriveKeys(label: Uint8Array): [Buffer, Buffer] {
    const [k1, k2] = this.hash.hkdf(this.ck, label, 2) as [Buffer, Buffer];
    return [k1.subarray(0, CIPHER_KEY_BYTES), k2.subarray(0, CIPHER_KEY_BYTES)];
  }

  /** Split(): two CipherStates, c1 for initiator-to-responder and c2 for responder-to-initiator. */
  split(): [CipherState, CipherState] {
    const [tempK1, tempK2] = this.hash.hkdf(this.ck, new Uint8Array(0), 2) as [Buffer, Buffer];
    const c1 = new CipherState(this.aead);
    const c2 = new CipherState(this.aead);
    c1.initializeKey(tempK1.subarray(0, CIPHER_KEY_BYTES));
    c2.initializeKey(tempK2.subarray(0, CIPHER_KEY_BYTES));
    return [c1, c2];
  }
}
