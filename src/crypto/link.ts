// Entry point of links: connectLink (agent side) and LinkAcceptor (relay side) with deadlines and the cap
// on unfinished handshakes; re-exports the Link. It knows nothing of TCP: any Duplex will do.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { XnatError, toXnatError } from '../errors.ts';
import { realClock } from '../util/clock.ts';
import { silentLogger } from '../observe/log.ts';
import type { KeyPair } from './keys.ts';
import { keyFingerprint } from './keys.ts';
import {
  HandshakeFailure,
  HandshakeReader,
  closeAfterFailure,
  runInitiator,
  runResponder,
} from './link-handshake.ts';
import { Link } from './link-records.ts';
import type { LinkInit, LinkOptions } from './link-options.ts';
import { HandshakeTag, encodeHandshakeFrame } from './link-wire.ts';

export { Link } from './link-records.ts';
export type { LinkOptions, LinkStats } from './link-options.ts';
export {
  CLOSE_LINGER_MS,
  KEEPALIVE_INTERVAL_MS,
  KEEPALIVE_TIMEOUT_MS,
  LINK_HIGH_WATER_MARK_BYTES,
  REKEY_AFTER_BYTES,
  REKEY_AFTER_MS,
} from './link-options.ts';
export { ZERO_PSK } from './link-handshake.ts';

/** Default deadline of a whole handshake (preface to key confirmation), in milliseconds. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Default cap on handshakes a relay runs at once; the next one gets a busy hint. */
export const MAX_PENDING_HANDSHAKES = 64;

/** The agent side. */
export interface InitiatorOptions extends LinkOptions {
  staticKeys: KeyPair;
  /** The relay's static public key from the agent profile (pinned). */
  remoteStaticKey: Uint8Array;
  /** 32-byte pre-shared key; default 32 zero bytes (ZERO_PSK), which the relay assumes for agents without one. */
  psk?: Uint8Array;
  /** Deadline of the handshake in milliseconds; default 10 000. */
  handshakeTimeoutMs?: number;
}

/** The relay side. */
export interface ResponderOptions extends LinkOptions {
  staticKeys: KeyPair;
  /** Looks up an agent by static key: undefined = unknown agent; { psk } otherwise (no psk = ZERO_PSK). */
  lookupAgent(publicKey: Buffer): { psk?: Uint8Array } | undefined;
  /** Deadline of one handshake, preface to key confirmation, in milliseconds; default 10 000. */
  handshakeTimeoutMs?: number;
  /** Handshakes allowed at once; default 64. */
  maxPendingHandshakes?: number;
}

/**
 * Runs the agent side over `socket` (preface, handshake, key confirmation) and resolves with a Link.
 * Rejects with a typed XnatError and destroys the socket on failure.
 */
export async function connectLink(socket: Duplex, opts: InitiatorOptions): Promise<Link> {
  const clock = opts.clock ?? realClock;
  const log = (opts.logger ?? silentLogger()).child({ relay: keyFingerprint(opts.remoteStaticKey) });
  const reader = new HandshakeReader(socket);
  const timeoutMs = opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  const deadline = clock.setTimeout(
    () => reader.fail(new XnatError('XNAT_ERR_LINK_HANDSHAKE_TIMEOUT', { detail: `after ${timeoutMs} ms` })),
    timeoutMs,
  );
  let init: LinkInit;
  try {
    init = await runInitiator(socket, reader, opts, { ...opts, logger: log });
  } catch (err) {
    const failure = err instanceof HandshakeFailure ? err : new HandshakeFailure(toXnatError(err));
    reader.release();
    closeAfterFailure(socket, clock, failure.farewell);
    log.debug({ code: failure.error.code, detail: failure.error.detail }, 'link handshake failed');
    throw failure.error;
  } finally {
    deadline.cancel();
  }
  const link = new Link(init);
  log.debug({ suite: link.suite }, 'link established');
  return link;
}

/**
 * The relay side: runs handshakes on accepted sockets under a deadline and a cap. Events: 'link' (Link)
 * on success and 'handshakeError' (XnatError) on failure, besides the promise accept() returns.
 */
export class LinkAcceptor extends EventEmitter {
  private pending = 0;
  private readonly maxPending: number;
  private readonly timeoutMs: number;

  constructor(private readonly opts: ResponderOptions) {
    super();
    this.maxPending = opts.maxPendingHandshakes ?? MAX_PENDING_HANDSHAKES;
    this.timeoutMs = opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  }

  /** Handshakes started and not yet established or failed. */
  get pendingHandshakes(): number {
    return this.pending;
  }

  /** Resolves with an established Link or rejects with a typed error (socket destroyed); enforces the cap and deadline. */
  async accept(socket: Duplex): Promise<Link> {
    const opts = this.opts;
    const clock = opts.clock ?? realClock;
    const remote = remoteLabel(socket);
    let log = (opts.logger ?? silentLogger()).child({ remote });
    if (this.pending >= this.maxPending) {
      const err = new XnatError('XNAT_ERR_LINK_HANDSHAKE_BUSY', {
        detail: `${this.pending} handshakes pending`,
      });
      closeAfterFailure(socket, clock, encodeHandshakeFrame(HandshakeTag.BUSY));
      log.warn({ code: err.code, detail: err.detail }, 'link handshake refused');
      this.emit('handshakeError', err);
      throw err;
    }
    this.pending++;
    const reader = new HandshakeReader(socket);
    const deadline = clock.setTimeout(
      () =>
        reader.fail(
          new XnatError('XNAT_ERR_LINK_HANDSHAKE_TIMEOUT', { detail: `after ${this.timeoutMs} ms` }),
        ),
      this.timeoutMs,
    );
    let init: LinkInit;
    try {
      init = await runResponder(
        socket,
        reader,
        {
          staticKeys: opts.staticKeys,
          lookupAgent: (k) => opts.lookupAgent(k),
          onAgentKey: (k) => (log = log.child({ agent: keyFingerprint(k) })),
        },
        opts,
      );
    } catch (err) {
      const failure = err instanceof HandshakeFailure ? err : new HandshakeFailure(toXnatError(err));
      reader.release();
      closeAfterFailure(socket, clock, failure.farewell);
      // Authentication failures matter to an operator; scanners and timeouts are routine on a public port.
      const level = /^XNAT_ERR_(AUTH|LINK_SUITE)_/.test(failure.error.code) ? 'warn' : 'info';
      log[level]({ code: failure.error.code, detail: failure.error.detail }, 'link handshake failed');
      this.emit('handshakeError', failure.error);
      throw failure.error;
    } finally {
      deadline.cancel();
      this.pending--;
    }
    const link = new Link({ ...init, options: { ...opts, logger: log } });
    log.info({ suite: link.suite }, 'link established');
    this.emit('link', link);
    return link;
  }
}

function remoteLabel(socket: Duplex): string {
  const s = socket as Duplex & { remoteAddress?: string; remotePort?: number };
  return s.remoteAddress ? `${s.remoteAddress}:${s.remotePort ?? 0}` : 'memory';
}
