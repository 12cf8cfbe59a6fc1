// The floor pair: two bare Node hops (test/bench/lib/floor-hop.mjs) in front of a target, shaped like a path
// (public port, relay-side and agent-side pids), so a bench can measure it as it measures xnat.
import { REPO_ROOT } from './paths.ts';
import { startProc, type BenchProc } from './procs.ts';

/** What each hop does: forward bytes as they are, or seal/open AEAD records with this cipher. */
export type FloorMode = 'plain' | 'aes-256-gcm' | 'chacha20-poly1305';

export interface FloorPair {
  /** The port visitors connect to on 127.0.0.1 (the relay-side hop). */
  readonly publicPort: number;
  readonly relayPid: number;
  readonly agentPid: number;
  close(): Promise<void>;
}

async function hop(
  role: 'seal' | 'open' | 'plain',
  nextPort: number,
  cipher: string,
): Promise<{ proc: BenchProc; port: number }> {
  const proc = startProc('node', ['test/bench/lib/floor-hop.mjs', role, String(nextPort), cipher], {
    name: `floor-${role}`,
    cwd: REPO_ROOT,
  });
  const port = await proc.waitFor(
    (l) => (l.startsWith('{') ? (JSON.parse(l) as { port: number }).port : undefined),
    20_000,
    'floor hop listening',
  );
  return { proc, port };
}

/** Starts the agent-side hop (facing the target) and then the relay-side hop (facing visitors). */
export async function startFloor(targetPort: number, mode: FloorMode): Promise<FloorPair> {
  const cipher = mode === 'plain' ? 'aes-256-gcm' : mode;
  const agent = await hop(mode === 'plain' ? 'plain' : 'open', targetPort, cipher);
  const relay = await hop(mode === 'plain' ? 'plain' : 'seal', agent.port, cipher);
  return {
    publicPort: relay.port,
    relayPid: relay.proc.pid,
    agentPid: agent.proc.pid,
    close: async () => {
      await relay.proc.stop();
      await agent.proc.stop();
    },
  };
}
