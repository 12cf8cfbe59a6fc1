// How the agent gets a link to one relay: it dials the relay's address, or in reverse mode it takes the next
// link the relay dialed in (link-listener.ts). Either way the agent runs the initiator side of the handshake.
import type { Duplex } from 'node:stream';
import { connectLink, type Link } from '../link/link.ts';
import { SuiteProposal } from '../link/suites.ts';
import { dialTcp } from '../transport/tcp.ts';
import type { KeyPair } from '../crypto/keys.ts';
import type { AgentProfile, RelayEntry } from '../config/index.ts';
import type { Logger } from '../observe/log.ts';
import { XnatError } from '../errors.ts';
import type { Clock } from '../util/clock.ts';
import { LinkListener } from './link-listener.ts';

export interface RelayDial {
  /** One link (SessionClient's dial contract: several may run at once; an aborted signal gives it up). */
  readonly dial: (signal: AbortSignal) => Promise<Link>;
  /** Reverse mode's listen socket; absent when the agent dials. */
  readonly listener: LinkListener | undefined;
}

export interface RelayDialOptions {
  readonly profile: AgentProfile;
  readonly relay: RelayEntry;
  readonly staticKeys: KeyPair;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Reverse mode: a handshake on the listen socket failed (a stranger, or a relay with other keys). */
  readonly onReverseFailure: (err: XnatError, remote: string) => void;
}

export function relayDial(o: RelayDialOptions): RelayDial {
  const { tuning } = o.profile;
  const { relay, logger } = o;
  // One proposal across redials: under `auto` it moves on after a relay refuses a suite.
  const cipher = new SuiteProposal(tuning.cipher);
  // The agent stays the Noise initiator whichever side dialed TCP: it pins the relay's key, and the relay
  // proves it holds the private half in message 2 (so a stranger on the listen port learns nothing).
  const handshake = (socket: Duplex) =>
    connectLink(socket, {
      staticKeys: o.staticKeys,
      remoteStaticKey: relay.publicKey,
      psk: relay.psk,
      keepaliveIntervalMs: tuning.keepaliveIntervalMs,
      keepaliveTimeoutMs: tuning.keepaliveTimeoutMs,
      cipher,
      cipherBackend: tuning.cipherBackend,
      clock: o.clock,
      logger,
    });
  if (relay.mode === 'reverse' && relay.listen) {
    const listener = new LinkListener({
      listen: relay.listen,
      handshake,
      logger,
      onListening: (at) => logger.info({ what: 'reverse', address: at.address, port: at.port }, 'listening'),
      onFailure: o.onReverseFailure,
    });
    return { listener, dial: (signal) => listener.next(signal) };
  }
  const address = relay.address;
  return {
    listener: undefined,
    dial: async (signal) => {
      if (!address)
        throw new XnatError('XNAT_ERR_CONFIG_INVALID', { detail: 'relay entry without an address' });
      const socket = await dialTcp(address.host, address.port, { signal, reuseReads: true });
      if (signal.aborted) socket.destroy();
      else signal.addEventListener('abort', () => socket.destroy(), { once: true });
      return handshake(socket);
    },
  };
}
