// Profiles the xnat relay and agent (node --cpu-prof) under one load and prints the functions with the
// most self time: where a missed goal goes. Not part of all.ts (profiling slows what it watches).
// Run: node --import=tsx test/bench/profile.ts [--load bulk|bulk-reverse|pingpong|connrate] [--seconds 8] [--top 15]
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { dial, freePort } from './lib/net.ts';
import { REPO_ROOT, startPath, startService } from './lib/paths.ts';
import { startProc, stopAll } from './lib/procs.ts';

const execFileP = promisify(execFile);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per function (name + file:line), as a share of all samples, highest first. */
export function topFunctions(profile: CpuProfile, top: number): string[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<string, number>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const dt = profile.timeDeltas[i] ?? 0;
    if (!node) return;
    totalUs += dt;
    const f = node.callFrame;
    const where = f.url ? `${relative(REPO_ROOT, f.url.replace(/^file:\/\//, ''))}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
    selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
  });
  return [...selfUs.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, us]) => `${((100 * us) / totalUs).toFixed(1).padStart(5)}%  ${k}`);
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

async function loadFor(kind: string, port: number, seconds: number): Promise<void> {
  const until = performance.now() + seconds * 1000;
  if (kind === 'pingpong') {
    const s = await dial(port);
    const ping = Buffer.alloc(64);
    await new Promise<void>((resolve) => {
      let got = 0;
      s.on('data', (c: Buffer) => {
        got += c.length;
        if (got < 64) return;
        got = 0;
        if (performance.now() > until) resolve();
        else s.write(ping);
      });
      s.write(ping);
    });
    s.destroy();
    return;
  }
  // connrate
  await new Promise<void>((resolve) => {
    let active = 64;
    const cycle = (): void => {
      if (performance.now() > until) {
        if (--active === 0) resolve();
        return;
      }
      const s = connect({ port, host: '127.0.0.1', noDelay: true });
      s.once('connect', () => s.write('x'));
      s.once('data', () => s.end());
      s.on('error', () => {});
      s.once('close', cycle);
    };
    for (let i = 0; i < 64; i++) cycle();
  });
}

async function main(): Promise<void> {
  const kind = arg('load', 'bulk');
  const seconds = Number(arg('seconds', '8'));
  const top = Number(arg('top', '15'));
  const dir = mkdtempSync(join(tmpdir(), 'xnat-prof-'));
  const relayDir = join(dir, 'relay');
  const agentDir = join(dir, 'agent');
  let targetPort: number;
  let stopTarget: () => Promise<void>;
  if (kind.startsWith('bulk')) {
    targetPort = await freePort();
    const iperf = startProc('iperf3', ['-s', '--forceflush', '-B', '127.0.0.1', '-p', String(targetPort)], {
      name: 'iperf3-server',
    });
    await iperf.waitFor(
      (l) => (l.includes('Server listening') ? true : undefined),
      10_000,
      'iperf3 listening',
    );
    stopTarget = () => iperf.stop();
  } else {
    const svc = await startService('echo');
    targetPort = svc.port;
    stopTarget = () => svc.close();
  }
  const path = await startPath('xnat', targetPort, {
    relayNodeArgs: ['--cpu-prof', `--cpu-prof-dir=${relayDir}`],
    agentNodeArgs: ['--cpu-prof', `--cpu-prof-dir=${agentDir}`],
  });
  try {
    if (kind.startsWith('bulk')) {
      const args = ['-c', '127.0.0.1', '-p', String(path.publicPort), '-t', String(seconds), '-J'];
      if (kind === 'bulk-reverse') args.push('-R');
      const { stdout } = await execFileP('iperf3', args, { maxBuffer: 16 * 1024 * 1024 });
      const bps = (JSON.parse(stdout) as { end: { sum_received: { bits_per_second: number } } }).end
        .sum_received.bits_per_second;
      process.stdout.write(`load ${kind}: ${(bps / 1e9).toFixed(2)} Gbit/s under the profiler\n`);
    } else {
      await loadFor(kind, path.publicPort, seconds);
    }
  } finally {
    // A graceful stop (SIGTERM) lets node write the profiles.
    await path.close();
    await stopTarget();
  }
  for (const [role, d] of [
    ['relay', relayDir],
    ['agent', agentDir],
  ] as const) {
    const file = readdirSync(d).find((f) => f.endsWith('.cpuprofile'));
    if (!file) {
      process.stdout.write(`${role}: no profile written (did it exit gracefully?)\n`);
      continue;
    }
    const profile = JSON.parse(readFileSync(join(d, file), 'utf8')) as CpuProfile;
    process.stdout.write(
      `\n${role}, top ${top} functions by self time (${kind}):\n${topFunctions(profile, top).join('\n')}\n`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
}

try {
  await main();
} finally {
  await stopAll();
}
