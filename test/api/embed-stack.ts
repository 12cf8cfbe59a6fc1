// An embedded relay and agent in the test process (the public API, src/api/), on 127.0.0.1 with port 0,
// optionally with the fault proxy between them. It knows no test; tests add services and commands.
import { createAgent, createRelay, type XnatAgent, type XnatRelay } from '../../src/api/index.ts';
import type { AgentProfileInput, XnatEventName, XnatEvents } from '../../src/api/index.ts';
import { makeKeys } from '../e2e/lib/profiles.ts';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.ts';
import { waitFor } from '../helpers/procs.ts';

/** Generous: the machine is shared and loaded. */
export const WAIT_MS = 30_000;

export type MappingInput = AgentProfileInput['mappings'][number];

export interface EmbedStack {
  readonly relay: XnatRelay;
  readonly agent: XnatAgent;
  readonly proxy: FaultProxy | undefined;
  /** Public port of a mapping once ready (on the relay). */
  port(mapping: string): Promise<number>;
  close(): Promise<void>;
}

export interface EmbedOptions {
  readonly mappings: readonly MappingInput[];
  /** Put the fault proxy between agent and relay. */
  readonly proxy?: boolean;
  /** Called before the agent starts (register services and commands here). */
  readonly before?: (relay: XnatRelay, agent: XnatAgent) => void;
}

/** Resolves with the next event `name` for which `match` holds. */
export function nextEvent<K extends XnatEventName>(
  emitter: XnatRelay | XnatAgent,
  name: K,
  match: (e: XnatEvents[K]) => boolean = () => true,
  timeoutMs = WAIT_MS,
): Promise<XnatEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(name, on);
      reject(new Error(`no ${name} event within ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (e: XnatEvents[K]) => {
      if (!match(e)) return;
      clearTimeout(timer);
      emitter.off(name, on);
      resolve(e);
    };
    emitter.on(name, on);
  });
}

export async function startEmbedded(opts: EmbedOptions): Promise<EmbedStack> {
  const relayKeys = makeKeys();
  const agentKeys = makeKeys();
  const relay = createRelay({
    profile: {
      relay: { listen: '127.0.0.1:0', privateKey: relayKeys.privateKey, publicHost: '127.0.0.1' },
      agents: [
        { name: 'app', publicKey: agentKeys.publicKey, allow: ['20000-60000/tcp', '20000-60000/udp'] },
      ],
      tuning: { keepaliveInterval: '200ms', keepaliveTimeout: '1s' },
    },
    logger: false,
  });
  await relay.start();
  const proxy = opts.proxy ? await startFaultProxy(relay.port) : undefined;
  const agent = createAgent({
    profile: {
      agent: { name: 'app', privateKey: agentKeys.privateKey },
      relays: [{ address: `127.0.0.1:${proxy ? proxy.port : relay.port}`, publicKey: relayKeys.publicKey }],
      mappings: opts.mappings.map((m) => ({ ...m })),
      reconnect: { initialDelay: '20ms', maxDelay: '500ms' },
      tuning: { keepaliveInterval: '200ms', keepaliveTimeout: '1s' },
    },
    logger: false,
  });
  opts.before?.(relay, agent);
  agent.start();
  const port = async (mapping: string) => {
    await waitFor(
      () => agent.status().mappings.some((m) => m.name === mapping && m.phase === 'ready'),
      WAIT_MS,
      `mapping ${mapping} ready`,
    );
    return agent.status().mappings.find((m) => m.name === mapping)!.remotePort;
  };
  return {
    relay,
    agent,
    proxy,
    port,
    close: async () => {
      await agent.close();
      await relay.close();
      await proxy?.close();
    },
  };
}
