// Two network namespaces joined by a slow, lossy wire (lib/impair.py forwarding between two TUN devices):
// the "internet" between a relay and an agent for the UDP game bench. It knows nothing of xnat.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startProc, type BenchProc } from './procs.ts';

/** The relay side's and the agent side's addresses on the impaired wire. */
export const RELAY_SIDE_ADDRESS = '10.77.0.1';
export const AGENT_SIDE_ADDRESS = '10.77.0.2';

export interface Impairment {
  /** One-way delay, in milliseconds (RTT is twice this). */
  readonly delayMs: number;
  /** Uniform jitter around the delay, +- this many milliseconds; never reorders. */
  readonly jitterMs: number;
  /** Chance each packet is dropped, each way (0.01 = 1 %). */
  readonly loss: number;
}

export interface ImpairedPair {
  /** Namespace of the relay (and the players, who reach the relay on its loopback). */
  readonly relayNs: string;
  /** Namespace of the agent and the game server. */
  readonly agentNs: string;
  /** `ip netns exec NS` before a command. */
  exec(ns: string, command: string, args: readonly string[]): [string, string[]];
  close(): Promise<void>;
}

const ip = (...args: string[]): void => {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
};

/** True when this process may make namespaces and TUN devices (root, /dev/net/tun, iproute2, python3). */
export function canImpair(): boolean {
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    execFileSync('python3', ['--version'], { stdio: 'ignore' });
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
}

/** Makes both namespaces, the wire between them, and brings everything up; close() removes it all. */
export async function startImpairedPair(impair: Impairment): Promise<ImpairedPair> {
  const tag = `${process.pid % 100000}`;
  const relayNs = `xnr${tag}`;
  const agentNs = `xna${tag}`;
  const [relayTun, agentTun] = [`xtr${tag}`, `xta${tag}`];
  let forwarder: BenchProc | undefined;
  const close = async (): Promise<void> => {
    await forwarder?.stop();
    for (const ns of [relayNs, agentNs]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // Not made, or already gone.
      }
    }
  };
  try {
    forwarder = startProc(
      'python3',
      [
        join(import.meta.dirname, 'impair.py'),
        relayTun,
        agentTun,
        '--delay-ms',
        String(impair.delayMs),
        '--jitter-ms',
        String(impair.jitterMs),
        '--loss',
        String(impair.loss),
      ],
      { name: 'impair' },
    );
    await forwarder.waitFor((t) => (t.includes('ready') ? true : undefined), 10_000, 'ready');
    for (const [ns, tun, address] of [
      [relayNs, relayTun, RELAY_SIDE_ADDRESS],
      [agentNs, agentTun, AGENT_SIDE_ADDRESS],
    ] as const) {
      ip('netns', 'add', ns);
      ip('link', 'set', tun, 'netns', ns);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'addr', 'add', `${address}/30`, 'dev', tun);
      ip('-n', ns, 'link', 'set', tun, 'up');
    }
    return {
      relayNs,
      agentNs,
      exec: (ns, command, args) => ['ip', ['netns', 'exec', ns, command, ...args]],
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
