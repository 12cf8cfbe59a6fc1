// Entry point of links: connectLink (agent side) and LinkAcceptor (relay side, which runs each handshake
// under admission.ts's caps and deadlines); re-exports the Link. It knows nothing of TCP: any Duplex will do.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { XnatError, toXnatError } from '../errors.ts';
import type { HandshakeStatus } from '../observe/status.ts';
import { realClock } from '../util/clock.ts';
import { silentLogger } from '../observe/log.ts';
import type { KeyPair } from '../crypto/keys.ts';
import { keyFingerprint } from '../crypto/keys.ts';
import {
  HandshakeFailure,
  HandshakeReader,
  closeAfterFailure,
  dropWithHint,
  runInitiator,
  runResponder,
} from './handshake.ts';
import { HANDSHAKE_TIMEOUT_MS, LinkAdmission } from './admission.ts';
import { Link } from './established.ts';
import type { LinkInit, LinkOptions } from './options.ts';
import { HandshakeTag, encodeHandshakeFrame } from './wire.ts';

export { Link, type CloseBody } from './established.ts';
export type { LinkOptions, LinkStats } from './options.ts';
export {
  CLOSE_LINGER_MS,
  KEEPALIVE_INTERVAL_MS,
  KEEPALIVE_TIMEOUT_MS,
  LINK_HIGH_WATER_MARK_BYTES,
  REKEY_AFTER_BYTES,
  REKEY_AFTER_MS,
} from './options.ts';
export { ZERO_PSK } from './handshake.ts';

export {
  FIRST_MESSAGE_TIMEOUT_MS,
  HANDSHAKE_TIMEOUT_MS,
  MAX_PENDING_HANDSHAKES,
  MAX_PENDING_HANDSHAKES_PER_SOURCE,
} from './admission.ts';

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
  /** Deadline of one handshake, accept to key confirmation, in milliseconds; default 10 000. */
  handshakeTimeoutMs?: number;
  /** Deadline of the preface and message 1, from accept, in milliseconds; default 3 000. */
  firstMessageTimeoutMs?: number;
  /** Unfinished handshakes allowed at once; default 64. */
  maxPendingHandshakes?: number;
  /** Unfinished handshakes of strangers from one source address (IPv6: /64); default 8. */
  maxPendingHandshakesPerSource?: number;
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
 * The relay side: runs handshakes on accepted sockets under the admission's caps and deadlines
 * (admission.ts). Events: 'link' (Link) on success and 'handshakeError' (XnatError) on failure,
 * besides the promise accept() returns.
 */
export class LinkAcceptor extends EventEmitter {
  private readonly admission: LinkAdmission;

  constructor(private readonly opts: ResponderOptions) {
    super();
    this.admission = new LinkAdmission({
      clock: opts.clock ?? realClock,
      logger: opts.logger ?? silentLogger(),
      maxPending: opts.maxPendingHandshakes,
      maxPerSource: opts.maxPendingHandshakesPerSource,
      firstMessageTimeoutMs: opts.firstMessageTimeoutMs,
      handshakeTimeoutMs: opts.handshakeTimeoutMs,
    });
  }

  /** Handshakes started and not yet established or dropped. */
  get pendingHandshakes(): number {
    return this.admission.pending;
  }

  /** Admission counters and the table's size, for status and /metrics. */
  stats(): HandshakeStatus {
    return this.admission.stats();
  }

  /** Writes the pending summary line now (the relay is stopping). Handshakes under way run on. */
  close(): void {
    this.admission.close();
  }

  /**
   * Resolves with an established Link or rejects with a typed error (socket destroyed); enforces caps and
   * deadlines. `expectKey`: the relay dialed this socket for one agent (reverse mode), so any other key,
   * even a configured one, is refused (XNAT_ERR_AUTH_WRONG_AGENT).
   */
  async accept(socket: Duplex, expectKey?: Buffer): Promise<Link> {
    const opts = this.opts;
    const clock = opts.clock ?? realClock;
    const remote = remoteLabel(socket);
    let log = (opts.logger ?? silentLogger()).child({ remote });
    const reader = new HandshakeReader(socket);
    let dropped: XnatError | undefined;
    const ticket = this.admission.admit(remoteAddress(socket), (err) => {
      dropped = err;
      reader.fail(err);
    });
    if (!ticket) {
      const err = new XnatError('XNAT_ERR_LINK_HANDSHAKE_BUSY', {
        detail: `${this.admission.pending} handshakes of known agents pending`,
      });
      reader.release();
      closeAfterFailure(socket, clock, encodeHandshakeFrame(HandshakeTag.BUSY));
      log.debug({ code: err.code, detail: err.detail }, 'link handshake refused');
      this.emit('handshakeError', err);
      throw err;
    }
    // Message 1 decrypted: the peer holds the relay's public key (no stranger to a configured agent).
    let keyed = false;
    let wrongKey: Buffer | undefined;
    let init: LinkInit;
    try {
      init = await runResponder(
        socket,
        reader,
        {
          staticKeys: opts.staticKeys,
          lookupAgent: (k) => {
            if (expectKey && !k.equals(expectKey)) {
              wrongKey = k;
              return undefined;
            }
            const agent = opts.lookupAgent(k);
            if (agent) this.admission.identify(ticket, k.toString('hex'));
            return agent;
          },
          onAgentKey: (k) => {
            keyed = true;
            log = log.child({ agent: keyFingerprint(k) });
          },
        },
        opts,
      );
      // Dropped in the very turn it completed: the slot is gone, so is the link.
      if (dropped) throw dropped;
    } catch (err) {
      let failure = err instanceof HandshakeFailure ? err : new HandshakeFailure(toXnatError(err));
      if (wrongKey && expectKey && failure.error.code === 'XNAT_ERR_AUTH_UNKNOWN_AGENT') {
        const detail = `dialed for agent ${keyFingerprint(expectKey)}, answered by ${keyFingerprint(wrongKey)}`;
        failure = new HandshakeFailure(
          new XnatError('XNAT_ERR_AUTH_WRONG_AGENT', { detail }),
          failure.farewell,
        );
      }
      reader.release();
      // An evicted stranger gets a busy hint (an agent then knows to redial) and is closed at once.
      if (dropped?.code === 'XNAT_ERR_LINK_HANDSHAKE_BUSY')
        dropWithHint(socket, encodeHandshakeFrame(HandshakeTag.BUSY));
      else closeAfterFailure(socket, clock, failure.farewell);
      // Strangers' failures (scanners, floods) are only summed up per interval; a peer that knew our key
      // gets a line of its own, within a budget per interval.
      const own = this.admission.release(ticket, failure.error, keyed);
      const fields = { code: failure.error.code, detail: failure.error.detail };
      if (own) log.warn(fields, 'link rejected');
      else log.debug(fields, 'link handshake failed');
      this.emit('handshakeError', failure.error);
      throw failure.error;
    }
    this.admission.release(ticket);
    const link = new Link({ ...init, options: { ...opts, logger: log } });
    log.info({ suite: link.suite }, 'link established');
    this.emit('link', link);
    return link;
  }
}

function remoteAddress(socket: Duplex): string | undefined {
  return (socket as Duplex & { remoteAddress?: string }).remoteAddress;
}

function remoteLabel(socket: Duplex): string {
  const s = socket as Duplex & { remoteAddress?: string; remotePort?: number };
  return s.remoteAddress ? `${s.remoteAddress}:${s.remotePort ?? 0}` : 'memory';
}
