// An in-process relay/agent stack over real TCP on 127.0.0.1: links (Noise), sessions and muxes on both
// sides, with the fault proxy in between. For integration tests of the layers below relay/ and agent/.
import { once } from 'node:events';
import { LinkAcceptor, connectLink } from '../../src/link/link.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import type { AeadBackendName } from '../../src/crypto/aead.ts';
import { CIPHER_SUITES, type CipherSuite } from '../../src/link/suites.ts';
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
  readonly cipherBackend?: AeadBackendName;
  /** The link suite; default $XNAT_TEST_SUITE when set (so a whole test file runs over one suite), else auto. */
  readonly suite?: CipherSuite;
}

/** The suites a parametrised test loops over: XNAT_TEST_SUITE alone when it names one, else every suite. */
export function testSuites(): readonly CipherSuite[] {
  const one = testSuite();
  return one === 'auto' ? CIPHER_SUITES : [one];
}

/** The suite tests run over when they name none: XNAT_TEST_SUITE=aes-256-gcm|chacha20-poly1305, else auto. */
export function testSuite(): CipherSuite | 'auto' {
  const env = process.env.XNAT_TEST_SUITE;
  if (env === undefined || env === '' || env === 'auto') return 'auto';
  if (env === 'aes-256-gcm' || env === 'chacha20-poly1305') return env;
  throw new Error(`XNAT_TEST_SUITE must be auto, aes-256-gcm or chacha20-poly1305, not ${env}`);
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
  const linkOpts = {
    keepaliveIntervalMs: opts.keepaliveIntervalMs ?? 100,
    keepaliveTimeoutMs: opts.keepaliveTimeoutMs ?? 600,
    cipherBackend: opts.cipherBackend,
  };
  const cipher = opts.suite ?? testSuite();
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
      connectLink(await dialTcp('127.0.0.1', proxy.port, { reuseReads: true }), {
        ...linkOpts,
        cipher,
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
