// Test world for outages on a fake clock: a SessionClient and SessionServer joined by memory links, dials
// that hang while the path is down (their bytes lost) until abandoned, and a model of the link keepalive
// (src/link/keepalive.ts: 'suspect' after its suspect silence, the dead verdict after its timeout). Not a test.
import { randomBytes } from 'node:crypto';
import { keepaliveDeadMs, keepaliveSuspectMs } from '../../src/link/keepalive.ts';
import { KEEPALIVE_INTERVAL_MS, KEEPALIVE_TIMEOUT_MS } from '../../src/link/options.ts';
import { XnatError } from '../../src/errors.ts';
import { SessionClient, type OutageSummary } from '../../src/session/session-client.ts';
import { SessionServer } from '../../src/session/session-server.ts';
import { FakeClock } from '../../src/util/clock.ts';
import { createMemoryLinkPair, type MemoryLinkPair } from '../helpers/memory-link.ts';
import { settle } from './harness.ts';

/** The default keepalive's suspect silence and dead verdict for a fast link (memory links: RTT 1 ms). */
export const SUSPECT_MS = keepaliveSuspectMs(KEEPALIVE_INTERVAL_MS, KEEPALIVE_TIMEOUT_MS, 1)!;
export const DEAD_MS = keepaliveDeadMs(KEEPALIVE_TIMEOUT_MS, 1);

export interface World {
  clock: FakeClock;
  client: SessionClient;
  server: SessionServer;
  pairs: MemoryLinkPair[];
  /** Start times (clock ms) of every dial. */
  dialsAt: number[];
  /** Dials aborted by the client (abandoned, lost the race, or probes no longer needed). */
  aborted: number;
  restored: OutageSummary[];
  /** New dials hang (the path is down). */
  blackholed: boolean;
  /** Dials that hang for good even after the path is back (a slow, not a dead path). */
  dialsHang: boolean;
  /**
   * The path of `pair` dies at the clock's now, for good (bytes dropped both ways, ends left open), and the
   * agent end's keepalive reacts: 'suspect' after SUSPECT_MS, destroyed after DEAD_MS. The relay end stays
   * open (the relay still believes in it) unless `relayDeadMs` is given.
   */
  blackholeLink(pair: MemoryLinkPair, relayDeadMs?: number): void;
  close(): void;
}

export function world(): World {
  const clock = new FakeClock();
  const agentKey = randomBytes(32);
  const server = new SessionServer({ clock });
  const keepAlive = setInterval(() => {}, 1000);
  const w: World = {
    clock,
    server,
    pairs: [],
    dialsAt: [],
    aborted: 0,
    restored: [],
    blackholed: false,
    dialsHang: false,
    client: undefined as unknown as SessionClient,
    blackholeLink: (pair, relayDeadMs) => {
      pair.blackhole();
      clock.setTimeout(() => {
        if (!pair.agent.closed) pair.agent.emit('suspect', SUSPECT_MS);
      }, SUSPECT_MS);
      clock.setTimeout(
        () => pair.agent.destroy(new XnatError('XNAT_ERR_LINK_KEEPALIVE', { detail: 'model' })),
        DEAD_MS,
      );
      if (relayDeadMs !== undefined)
        clock.setTimeout(() => pair.relay.destroy(new XnatError('XNAT_ERR_LINK_KEEPALIVE')), relayDeadMs);
    },
    close: () => {
      clearInterval(keepAlive);
      w.client.close();
      server.close();
    },
  };
  w.client = new SessionClient({
    clock,
    agentKey,
    dial: (signal) => {
      w.dialsAt.push(clock.now());
      if (w.blackholed || w.dialsHang)
        // Inside the outage: SYN or handshake bytes lost; it never completes, also after the path is back.
        return new Promise((_, reject) =>
          signal.addEventListener('abort', () => {
            w.aborted++;
            reject(new Error('aborted'));
          }),
        );
      const pair = createMemoryLinkPair({ agentKey });
      w.pairs.push(pair);
      server.attachLink(pair.relay);
      return Promise.resolve(pair.agent);
    },
  });
  w.client.on('restored', (o: OutageSummary) => w.restored.push(o));
  return w;
}

/** Advances the fake clock in 10 ms steps (letting promises run) until `cond` holds or `maxMs` passed. */
export async function advanceUntil(clock: FakeClock, cond: () => boolean, maxMs: number): Promise<void> {
  for (let i = 0; i < maxMs && !cond(); i += 10) {
    clock.advance(10);
    await settle(2);
  }
}
