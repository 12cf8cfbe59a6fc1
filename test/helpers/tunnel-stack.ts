// An in-process relay/agent stack over real TCP on 127.0.0.1: links (Noise), sessions and muxes on both
// sides, with the fault proxy in between. For integration tests of the layers below relay/ and agent/.
import { once } from 'node:events';
import { LinkAcceptor, connectLink } from '../../src/crypto/link.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { getAead, type AeadBackendName } from '../../src/crypto/aead.ts';
import { listenTcp, dialTcp, type TcpListener } from '../../src/transport/tcp.ts';
import { SessionServer, SessionClient, type Session } from '../../src/session/index.ts';
import { Mux } from '../../src/mux/mux.ts';
import { startFaultProxy, type FaultProxy } from './fault-proxy.ts';

export interface StackOptions {
  readonly resumeWindowMs?: number;
  readonly replayBufferBytes?: number;
  /** Short by default so blackholed links are found fast in tests. */
  readonly keepaliveIntervalMs?: number;
  readonly keepaliveTimeoutMs?: number;
  readonly cipher?: AeadBackendName;
}

export interface Stack {
  readonly proxy: FaultProxy;
  readonly server: SessionServer;
  readonly client: SessionClient;
  readonly relaySession: Session;
  readonly agentSession: Session;
  readonly relayMux: Mux;
  readonly agentMux: Mux;
  /** Resolves on the agent session's next 'attached' (a resumed link). */
  nextAttach(): Promise<void>;
  close(): Promise<void>;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const relayKeys = generateKeyPair();
  const agentKeys = generateKeyPair();
  const aead = getAead(opts.cipher ?? 'auto');
  const linkOpts = {
    keepaliveIntervalMs: opts.keepaliveIntervalMs ?? 100,
    keepaliveTimeoutMs: opts.keepaliveTimeoutMs ?? 600,
    aead,
  };
  const server = new SessionServer({
    resumeWindowMs: opts.resumeWindowMs ?? 30_000,
    replayBufferBytes: opts.replayBufferBytes,
  });
  const acceptor = new LinkAcceptor({
    ...linkOpts,
    staticKeys: relayKeys,
    lookupAgent: (key) => (key.equals(agentKeys.publicKey) ? {} : undefined),
  });
  const listener: TcpListener = await listenTcp('127.0.0.1', 0, (socket) => {
    acceptor.accept(socket).then(
      (link) => server.attachLink(link),
      () => {},
    );
  });
  const proxy = await startFaultProxy(listener.port);
  const client = new SessionClient({
    dial: async () =>
      connectLink(await dialTcp('127.0.0.1', proxy.port), {
        ...linkOpts,
        staticKeys: agentKeys,
        remoteStaticKey: relayKeys.publicKey,
      }),
    agentKey: agentKeys.publicKey,
    replayBufferBytes: opts.replayBufferBytes,
    backoff: { initialMs: 20, maxMs: 300 },
  });
  const relayP = once(server, 'session') as Promise<[Session]>;
  const agentP = once(client, 'session') as Promise<[Session]>;
  client.start();
  const [[relaySession], [agentSession]] = await Promise.all([relayP, agentP]);
  const relayMux = new Mux(relaySession, { role: 'relay' });
  const agentMux = new Mux(agentSession, { role: 'agent' });
  return {
    proxy,
    server,
    client,
    relaySession,
    agentSession,
    relayMux,
    agentMux,
    nextAttach: () => once(agentSession, 'attached').then(() => undefined),
    close: async () => {
      client.close();
      server.close();
      await proxy.close();
      await listener.close();
    },
  };
}
