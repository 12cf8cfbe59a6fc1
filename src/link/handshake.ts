// The link handshake over a Duplex: preface with the proposed suite, IKpsk2 messages, reject/abort/busy
// hints, key confirmation. It knows nothing of records after the first one, nor of deadlines and caps
// (link.ts enforces those).
import type { Duplex } from 'node:stream';
import { XnatError, isErrorCode, toXnatError, type ErrorCode } from '../errors.ts';
import type { Clock } from '../util/clock.ts';
import { readChunks } from '../transport/reused-reads.ts';
import { PSK_BYTES, keyFingerprint, type KeyPair } from '../crypto/keys.ts';
import { prepareAead } from '../crypto/aead.ts';
import type { LinkInit, LinkOptions } from './options.ts';
import { CIPHER_SUITES, SUITES, SuiteProposal, resolveCipher, suiteState, trySuites } from './suites.ts';
import {
  ByteQueue,
  HANDSHAKE_FRAME_MAX_BYTES,
  HandshakeTag,
  LENGTH_PREFIX_BYTES,
  LINK_PROTOCOL_VERSION,
  PREFACE_BYTES,
  RECORD_MAX_BYTES,
  RECORD_MIN_BYTES,
  checkPreface,
  encodeHandshakeFrame,
  encodePreface,
  prefaceSuite,
} from './wire.ts';
import { deriveUdpPathKeys } from './udp-keys.ts';

/**
 * The psk of an agent configured without one: 32 zero bytes, as WireGuard does. The handshake shape
 * stays the same for every agent, and security then rests on the static keys alone.
 */
export const ZERO_PSK: Buffer = Buffer.alloc(PSK_BYTES);
/** How long a socket may linger to deliver a last hint (reject, abort, busy) before it is destroyed, in ms. */
export const FAREWELL_LINGER_MS = 1000;
/** Bytes read ahead during a handshake before the socket is paused (two full records). */
const HANDSHAKE_READ_AHEAD_BYTES = 2 * (LENGTH_PREFIX_BYTES + RECORD_MAX_BYTES);

const EMPTY = new Uint8Array(0);

/** A handshake failure, with the hint frame (if any) to send before the socket goes. */
export class HandshakeFailure {
  constructor(
    readonly error: XnatError,
    readonly farewell?: Buffer,
  ) {}
}

/**
 * Reads preface and length-prefixed frames from a socket during the handshake, waiting as needed;
 * fail() (the deadline) wakes any waiter with the error. release() hands the unread bytes over.
 */
export class HandshakeReader {
  readonly queue = new ByteQueue();
  private failure: XnatError | undefined;
  private ended: string | undefined;
  private wake: (() => void) | undefined;
  private released = false;
  private readonly stopReading: () => void;

  constructor(private readonly socket: Duplex) {
    this.stopReading = readChunks(socket, this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('error', this.onError);
  }

  fail(err: XnatError): void {
    this.failure ??= err;
    this.wakeUp();
  }

  /** Why the socket stopped before the handshake did, once it has. */
  get endReason(): string | undefined {
    return this.ended;
  }

  /** The 8 preface bytes; XNAT_ERR_LINK_PREFACE as soon as the bytes seen cannot be a preface. */
  async readPreface(onEnd: () => XnatError): Promise<Buffer> {
    for (;;) {
      this.check();
      if (checkPreface(this.queue.peek(Math.min(this.queue.length, PREFACE_BYTES)))) {
        return this.queue.take(PREFACE_BYTES);
      }
      await this.more(onEnd);
    }
  }

  /** One frame: u16 length (minLen..maxLen, else XNAT_ERR_LINK_HANDSHAKE_MALFORMED) and that many bytes. */
  async readFrame(maxLen: number, onEnd: () => XnatError): Promise<Buffer> {
    for (;;) {
      this.check();
      if (this.queue.length >= LENGTH_PREFIX_BYTES) {
        const len = this.queue.peekU16();
        if (len === 0 || len > maxLen) {
          throw new XnatError('XNAT_ERR_LINK_HANDSHAKE_MALFORMED', { detail: `frame length ${len}` });
        }
        if (this.queue.length >= LENGTH_PREFIX_BYTES + len) {
          this.queue.take(LENGTH_PREFIX_BYTES);
          return this.queue.take(len);
        }
      }
      await this.more(onEnd);
    }
  }

  /** Stops reading (the socket is left paused) and returns the bytes read but not consumed. */
  release(): Buffer[] {
    if (!this.released) {
      this.released = true;
      this.socket.pause();
      this.stopReading();
      this.socket.off('end', this.onEnd);
      this.socket.off('close', this.onClose);
      this.socket.off('error', this.onError);
    }
    return this.queue.drain();
  }

  private check(): void {
    if (this.failure) throw this.failure;
  }

  private async more(onEnd: () => XnatError): Promise<void> {
    if (this.ended !== undefined) throw onEnd();
    this.socket.resume();
    await new Promise<void>((resolve) => (this.wake = resolve));
    this.check();
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private readonly onData = (chunk: Buffer, transient: boolean): void => {
    // Handshake bytes are few: a reused read buffer's chunk is simply copied.
    this.queue.push(transient ? Buffer.from(chunk) : chunk);
    // A peer may not push more than a frame or two ahead; past that, TCP backpressure holds it.
    if (this.queue.length > HANDSHAKE_READ_AHEAD_BYTES) this.socket.pause();
    this.wakeUp();
  };

  private readonly onEnd = (): void => {
    this.ended ??= 'end';
    this.wakeUp();
  };

  private readonly onClose = (): void => {
    this.ended ??= 'close';
    this.wakeUp();
  };

  private readonly onError = (err: NodeJS.ErrnoException): void => {
    this.fail(new XnatError('XNAT_ERR_LINK_RESET', { detail: err.code ?? 'socket error', cause: err }));
  };
}

/** What the initiator side needs beyond LinkOptions. */
export interface InitiatorParams {
  readonly staticKeys: KeyPair;
  readonly remoteStaticKey: Uint8Array;
  readonly psk?: Uint8Array;
}

/** The agent's side: preface + message 1, then message 2 or a hint. Throws HandshakeFailure. */
export async function runInitiator(
  socket: Duplex,
  reader: HandshakeReader,
  params: InitiatorParams,
  options: LinkOptions,
): Promise<LinkInit> {
  await prepareAead(options.cipherBackend);
  const choice = options.cipher ?? 'auto';
  const suite = choice instanceof SuiteProposal ? choice.current : resolveCipher(choice);
  const preface = encodePreface(LINK_PROTOCOL_VERSION, SUITES[suite].id);
  const hs = suiteState(suite, preface, options.cipherBackend, {
    initiator: true,
    s: params.staticKeys,
    rs: params.remoteStaticKey,
    psk: params.psk ?? ZERO_PSK,
  });
  const msg1 = hs.writeMessage(EMPTY);
  socket.write(Buffer.concat([preface, encodeHandshakeFrame(HandshakeTag.NOISE, msg1)]));

  // A relay that cannot decrypt message 1 (we hold the wrong relay key) closes without a word.
  const noReply = (): XnatError =>
    new XnatError('XNAT_ERR_AUTH_RELAY_KEY', {
      detail: 'relay closed the connection without a reply (or it runs a release older than link version 2)',
    });
  const frame = await reader.readFrame(HANDSHAKE_FRAME_MAX_BYTES, noReply);
  const tag = frame[0];
  const body = frame.subarray(1);
  switch (tag) {
    case HandshakeTag.NOISE:
      try {
        hs.readMessage(body);
      } catch (err) {
        const e = toXnatError(err);
        if (e.code !== 'XNAT_ERR_CRYPTO_DECRYPT') throw e;
        // Only the psk is left to differ: message 1 was accepted, so both static keys are right.
        throw new HandshakeFailure(
          new XnatError('XNAT_ERR_AUTH_PSK', { detail: 'message 2 did not decrypt', cause: e }),
          encodeHandshakeFrame(HandshakeTag.ABORT),
        );
      }
      break;
    case HandshakeTag.REJECT: {
      let code: string;
      try {
        code = hs.symmetricState.decryptAndHash(body).toString('latin1');
      } catch {
        throw new XnatError('XNAT_ERR_LINK_HANDSHAKE_MALFORMED', { detail: 'unauthenticated reject' });
      }
      const known: ErrorCode = isErrorCode(code) ? code : 'XNAT_ERR_LINK_HANDSHAKE_MALFORMED';
      if (known === 'XNAT_ERR_LINK_SUITE_REFUSED') {
        // Authenticated (only the relay could encrypt it), so `auto` may safely try another suite next.
        if (choice instanceof SuiteProposal) choice.refused(suite);
        throw new XnatError(known, { detail: `the relay refused ${suite}` });
      }
      throw new XnatError(known, {
        detail: known === 'XNAT_ERR_LINK_SUITE_TAMPERED' ? `proposed ${suite}` : 'rejected by the relay',
      });
    }
    case HandshakeTag.BUSY:
      throw new XnatError('XNAT_ERR_LINK_HANDSHAKE_BUSY', { detail: 'from the relay' });
    case HandshakeTag.VERSION:
      throw new XnatError('XNAT_ERR_LINK_VERSION', {
        detail: `relay speaks link version ${body[0] ?? '?'}, this agent ${LINK_PROTOCOL_VERSION}`,
      });
    default:
      throw new XnatError('XNAT_ERR_LINK_HANDSHAKE_MALFORMED', { detail: `handshake tag ${tag}` });
  }
  const { send, recv } = hs.split();
  return {
    socket,
    role: 'initiator',
    suite,
    send,
    recv,
    udpKeys: deriveUdpPathKeys(hs, true, SUITES[suite].cipher, options.cipherBackend),
    remoteStaticKey: Buffer.from(params.remoteStaticKey),
    handshakeHash: hs.getHandshakeHash(),
    leftover: reader.release(),
    options,
  };
}

/** What the responder side needs beyond LinkOptions. */
export interface ResponderParams {
  readonly staticKeys: KeyPair;
  readonly lookupAgent: (publicKey: Buffer) => { psk?: Uint8Array } | undefined;
  /** Called once the agent's static key is known, for log context. */
  readonly onAgentKey?: (publicKey: Buffer) => void;
}

/**
 * The relay's side: preface, message 1, lookup, suite check, message 2, then the first transport record (key
 * confirmation: a replayed message 1 never gets past it). Throws HandshakeFailure or XnatError.
 */
export async function runResponder(
  socket: Duplex,
  reader: HandshakeReader,
  params: ResponderParams,
  options: LinkOptions,
): Promise<LinkInit> {
  const gone = (): XnatError =>
    new XnatError('XNAT_ERR_LINK_HANDSHAKE_MALFORMED', { detail: 'agent closed during the handshake' });
  let preface: Buffer;
  try {
    preface = await reader.readPreface(gone);
  } catch (err) {
    // An agent of another release learns why (its own version check or a malformed-handshake code).
    const e = toXnatError(err);
    if (e.code !== 'XNAT_ERR_LINK_VERSION') throw e;
    throw new HandshakeFailure(
      e,
      encodeHandshakeFrame(HandshakeTag.VERSION, Buffer.of(LINK_PROTOCOL_VERSION)),
    );
  }
  const suite = prefaceSuite(preface);
  await prepareAead(options.cipherBackend);
  const frame = await reader.readFrame(HANDSHAKE_FRAME_MAX_BYTES, gone);
  if (frame[0] !== HandshakeTag.NOISE) {
    throw new XnatError('XNAT_ERR_LINK_HANDSHAKE_MALFORMED', { detail: `handshake tag ${frame[0]}` });
  }
  const message1 = frame.subarray(1);
  const keys = { initiator: false, s: params.staticKeys };
  const hs = suiteState(suite, preface, options.cipherBackend, keys);
  try {
    hs.readMessage(message1);
  } catch (err) {
    const e = toXnatError(err);
    if (e.code !== 'XNAT_ERR_CRYPTO_DECRYPT') throw e;
    // Before blaming the agent's copy of our key: does message 1 decrypt under another suite, with that
    // suite's id in the prologue? Then the preface was rewritten on the path (a downgrade attempt).
    const real = trySuites(message1, preface, suite, options.cipherBackend, keys);
    if (real) {
      const agentKey = real.hs.remoteStaticKey!;
      params.onAgentKey?.(agentKey);
      // Encrypted under the agent's own state: the agent can trust it, the rewriter cannot forge it.
      const reason = real.hs.symmetricState.encryptAndHash(
        Buffer.from('XNAT_ERR_LINK_SUITE_TAMPERED', 'latin1'),
      );
      throw new HandshakeFailure(
        new XnatError('XNAT_ERR_LINK_SUITE_TAMPERED', {
          detail: `preface says ${suite}, agent ${keyFingerprint(agentKey)} proposed ${real.suite}`,
        }),
        encodeHandshakeFrame(HandshakeTag.REJECT, reason),
      );
    }
    // Nothing is sent back: a prober without our public key learns nothing.
    throw new XnatError('XNAT_ERR_AUTH_RELAY_KEY', { cause: e });
  }
  const agentKey = hs.remoteStaticKey!;
  params.onAgentKey?.(agentKey);
  const agent = params.lookupAgent(agentKey);
  if (!agent) {
    // Encrypted under the state after message 1: only an agent holding our public key can read it.
    const reason = hs.symmetricState.encryptAndHash(Buffer.from('XNAT_ERR_AUTH_UNKNOWN_AGENT', 'latin1'));
    throw new HandshakeFailure(
      new XnatError('XNAT_ERR_AUTH_UNKNOWN_AGENT', { detail: `agent ${keyFingerprint(agentKey)}` }),
      encodeHandshakeFrame(HandshakeTag.REJECT, reason),
    );
  }
  const accepted = options.cipherSuites ?? CIPHER_SUITES;
  if (!accepted.includes(suite)) {
    const reason = hs.symmetricState.encryptAndHash(Buffer.from('XNAT_ERR_LINK_SUITE_REFUSED', 'latin1'));
    throw new HandshakeFailure(
      new XnatError('XNAT_ERR_LINK_SUITE_REFUSED', {
        detail: `agent ${keyFingerprint(agentKey)} proposed ${suite}; accepted: ${accepted.join(', ')}`,
      }),
      encodeHandshakeFrame(HandshakeTag.REJECT, reason),
    );
  }
  hs.setPsks([agent.psk ?? ZERO_PSK]);
  socket.write(encodeHandshakeFrame(HandshakeTag.NOISE, hs.writeMessage(EMPTY)));
  const { send, recv } = hs.split();

  // Key confirmation: the agent's first record, or its abort hint (too short to be a record).
  const first = await reader.readFrame(RECORD_MAX_BYTES, gone);
  if (first.length < RECORD_MIN_BYTES) {
    if (first.length === 1 && first[0] === HandshakeTag.ABORT) {
      throw new XnatError('XNAT_ERR_AUTH_PSK', {
        detail: `agent ${keyFingerprint(agentKey)} could not decrypt`,
      });
    }
    throw new XnatError('XNAT_ERR_LINK_HANDSHAKE_MALFORMED', {
      detail: `first record length ${first.length}`,
    });
  }
  const firstPlaintext = recv.decryptWithAd(EMPTY, first);
  return {
    socket,
    role: 'responder',
    suite,
    send,
    recv,
    udpKeys: deriveUdpPathKeys(hs, false, SUITES[suite].cipher, options.cipherBackend),
    remoteStaticKey: agentKey,
    handshakeHash: hs.getHandshakeHash(),
    leftover: reader.release(),
    firstPlaintext,
    options,
  };
}

/**
 * Ends a failed handshake: sends the farewell hint (if any) and ends the socket, destroying it after
 * FAREWELL_LINGER_MS at the latest; without a hint, destroys it at once.
 */
export function closeAfterFailure(socket: Duplex, clock: Clock, farewell: Buffer | undefined): void {
  // Late socket errors (EPIPE after our end) must not crash the process.
  socket.on('error', () => {});
  if (!farewell || socket.destroyed) {
    socket.destroy();
    return;
  }
  // Drain and drop whatever the peer still sends, so our FIN is not turned into a RST.
  readChunks(socket, () => {});
  socket.resume();
  socket.end(farewell);
  const t = clock.setTimeout(() => socket.destroy(), FAREWELL_LINGER_MS);
  socket.once('close', () => t.cancel());
}

/**
 * Ends a handshake the relay dropped to make room: sends the hint and closes once it is handed to the
 * kernel, without the farewell linger (under a flood, lingering sockets would be a second table).
 */
export function dropWithHint(socket: Duplex, hint: Buffer): void {
  socket.on('error', () => {});
  if (socket.destroyed) return;
  socket.end(hint, () => socket.destroy());
}
