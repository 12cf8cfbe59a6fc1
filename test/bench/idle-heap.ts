// Profile: what one idle stream keeps on each side's JS heap. Takes heap snapshots of the relay and agent
// (--heapsnapshot-signal) before and after opening N idle streams and prints the self-size difference per
// constructor, divided by N. Run: node --import=tsx test/bench/idle-heap.ts [N] (default 2000).
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { waitForEcho } from './lib/net.ts';
import { REPO_ROOT, startPath, startService } from './lib/paths.ts';

const N = Number(process.argv[2] ?? 2000);
const ARGS = ['--heapsnapshot-signal=SIGUSR2'];

/** Sends SIGUSR2 to `pid` and returns the snapshot file once its size stops changing. */
async function snapshot(pid: number): Promise<string> {
  const mine = (): string[] =>
    readdirSync(REPO_ROOT).filter((f) => f.includes(`.${pid}.`) && f.endsWith('.heapsnapshot'));
  const before = new Set(mine());
  process.kill(pid, 'SIGUSR2');
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const f = mine().find((x) => !before.has(x));
    if (!f) continue;
    const p = join(REPO_ROOT, f);
    const a = statSync(p).size;
    await new Promise((r) => setTimeout(r, 1500));
    if (statSync(p).size === a && a > 0 && readFileSync(p, 'utf8').trimEnd().endsWith('}')) return p;
  }
}

/** Self size and count per "type:name" of one snapshot. */
function tally(path: string): Map<string, { n: number; size: number }> {
  const snap = JSON.parse(readFileSync(path, 'utf8'));
  rmSync(path);
  const f: string[] = snap.snapshot.meta.node_fields;
  const types: string[] = snap.snapshot.meta.node_types[0];
  const width = f.length;
  const [ti, ni, si, ei] = [
    f.indexOf('type'),
    f.indexOf('name'),
    f.indexOf('self_size'),
    f.indexOf('edge_count'),
  ];
  const ef: string[] = snap.snapshot.meta.edge_fields;
  const etypes: string[] = snap.snapshot.meta.edge_types[0];
  const ew = ef.length;
  const [eti, eni] = [ef.indexOf('type'), ef.indexOf('name_or_index')];
  const edges: number[] = snap.edges;
  const out = new Map<string, { n: number; size: number }>();
  const nodes: number[] = snap.nodes;
  let e = 0;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + ti]!]!;
    let name: string = snap.strings[nodes[i + ni]!];
    const count = nodes[i + ei]!;
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '';
    if (type === 'code' || type === 'hidden') name = name.slice(0, 40);
    // Plain objects and contexts are told apart by their property (or context variable) names.
    if ((type === 'object' && name === 'Object') || name === 'system / Context') {
      const props: string[] = [];
      for (let k = 0; k < count && props.length < 8; k++) {
        const et = etypes[edges[(e + k) * ew + eti]!];
        if (et === 'property' || et === 'context')
          props.push(String(snap.strings[edges[(e + k) * ew + eni]!]));
      }
      name += `{${props.join(',')}}`;
    }
    e += count;
    const key = `${type}:${name}`;
    const v = out.get(key) ?? { n: 0, size: 0 };
    v.n++;
    v.size += nodes[i + si]!;
    out.set(key, v);
  }
  return out;
}

function diff(
  a: Map<string, { n: number; size: number }>,
  b: Map<string, { n: number; size: number }>,
): void {
  const rows: [string, number, number][] = [];
  let total = 0;
  for (const [k, v] of b) {
    const o = a.get(k) ?? { n: 0, size: 0 };
    const d = (v.size - o.size) / N;
    total += d;
    if (Math.abs(d) >= 8) rows.push([k, (v.n - o.n) / N, d]);
  }
  rows.sort((x, y) => y[2] - x[2]);
  for (const [k, n, d] of rows.slice(0, 40))
    console.log(`  ${d.toFixed(0).padStart(6)} B  ${n.toFixed(2).padStart(6)}/stream  ${k}`);
  console.log(`  total ${total.toFixed(0)} B of JS heap per stream`);
}

const service = await startService('echo', { nofile: 20_000 });
const path = await startPath('xnat', service.port, {
  nofile: 20_000,
  relayNodeArgs: ARGS,
  agentNodeArgs: ARGS,
});
const sockets: Socket[] = [];
try {
  await waitForEcho(path.publicPort, 10_000);
  await new Promise((r) => setTimeout(r, 1000));
  const [relay] = path.relayPids();
  const [agent] = path.agentPids();
  const r0 = tally(await snapshot(relay!));
  const a0 = tally(await snapshot(agent!));
  for (let i = 0; i < N; i++) {
    const s = connect({ port: path.publicPort, host: '127.0.0.1', noDelay: true });
    await new Promise<void>((resolve, reject) => {
      s.once('connect', () => s.write('x'));
      s.once('data', () => resolve());
      s.once('error', reject);
    });
    sockets.push(s);
  }
  await new Promise((r) => setTimeout(r, 2000));
  const r1 = tally(await snapshot(relay!));
  const a1 = tally(await snapshot(agent!));
  console.log(`relay, ${N} idle streams:`);
  diff(r0, r1);
  console.log(`agent, ${N} idle streams:`);
  diff(a0, a1);
} finally {
  for (const s of sockets) s.destroy();
  await path.close();
  await service.close();
}
