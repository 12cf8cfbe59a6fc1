// Measure: the dashboard's memory. A real relay and agent (admin endpoint on, three mappings, TCP visitors
// trickling data, a UDP player, a visitor coming and going) and `xnat dashboard` for the relay in tmux
// panes at 80x24, at the default interval and at 250 ms side by side; reports the peak and final VmRSS,
// VmHWM and CPU per frame of each dashboard process.
// Run: node --import=tsx test/bench/dashboard-rss.ts [--quick] [--seconds N] (XNAT_DASH_NODE_OPTIONS adds
// node flags to the dashboards only, e.g. "--heap-prof" or "--max-semi-space-size=1").
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { encodeKey, generateKeyPair } from '../../src/crypto/keys.ts';
import { isMain, main, type MeasureOptions, type Row } from './lib/measure.ts';
import { cpuSeconds, memStats } from './lib/proc-stats.ts';
import { REPO_ROOT } from './lib/paths.ts';
import { startProc, type BenchProc } from './lib/procs.ts';

const exec = promisify(execFile);
const MiB = 1024 * 1024;
/** How long each dashboard runs, in seconds (both at once). */
const SECONDS = 25;
const QUICK_SECONDS = 3;
/** Intervals measured: the default (no --interval) and a fast one. */
const INTERVALS: ReadonlyArray<{ label: string; args: string[]; ms: number }> = [
  { label: 'default 1 s', args: [], ms: 1000 },
  { label: '250 ms', args: ['--interval', '250ms'], ms: 250 },
];
const TOKEN = 'dashboard-bench-admin-token-0123';
const START_TIMEOUT_MS = 30_000;
/** /proc is read this often while the dashboards run, in ms. */
const SAMPLE_MS = 200;

interface Reading {
  readonly label: string;
  peakRss: number;
  finalRss: number;
  hwm: number;
  firstSecondRss: number;
  cpuPerFrameMs: number;
  drew: boolean;
}

/** A TCP echo server and a UDP echo socket on 127.0.0.1 (the LAN services). */
async function services(): Promise<{ tcp: number; udp: number; close: () => void }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const udp = createSocket('udp4');
  udp.on('message', (m, from) => udp.send(m, from.port, from.address));
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  return {
    tcp: (server.address() as { port: number }).port,
    udp: udp.address().port,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
      udp.close();
    },
  };
}

async function startCluster(dir: string, tcp: number, udp: number) {
  const relayKeys = generateKeyPair();
  const agentKeys = generateKeyPair();
  const admin = { listen: '127.0.0.1:0', token: TOKEN };
  const allow = ['20000-29999/tcp', '20000-29999/udp'];
  writeFileSync(
    join(dir, 'relay.yaml'),
    stringify({
      relay: { listen: '127.0.0.1:0', privateKey: encodeKey(relayKeys.privateKey), publicHost: '127.0.0.1' },
      agents: [{ name: 'home', publicKey: encodeKey(agentKeys.publicKey), allow }],
      admin,
    }),
    { mode: 0o600 },
  );
  const env = { XNAT_LOG_FORMAT: 'json' };
  const relay = startProc(process.execPath, ['bin/xnat.js', 'relay', '--profile', join(dir, 'relay.yaml')], {
    name: 'relay',
    cwd: REPO_ROOT,
    env,
  });
  const control = await relay.waitForJson(
    (o) => o.msg === 'listening' && o.what === 'control',
    START_TIMEOUT_MS,
    'control listening',
  );
  const adminLine = await relay.waitForJson(
    (o) => o.msg === 'listening' && o.what === 'admin',
    START_TIMEOUT_MS,
    'admin listening',
  );
  const mappings = [
    { name: 'minecraft', protocol: 'tcp', remotePort: 0, local: `127.0.0.1:${tcp}` },
    { name: 'web', protocol: 'tcp', remotePort: 0, local: `127.0.0.1:${tcp}` },
    { name: 'valheim', protocol: 'udp', remotePort: 0, local: `127.0.0.1:${udp}`, idleTimeout: '60s' },
  ];
  writeFileSync(
    join(dir, 'agent.yaml'),
    stringify({
      agent: { name: 'home', privateKey: encodeKey(agentKeys.privateKey) },
      relays: [{ address: `127.0.0.1:${Number(control.port)}`, publicKey: encodeKey(relayKeys.publicKey) }],
      mappings,
    }),
    { mode: 0o600 },
  );
  const agent = startProc(process.execPath, ['bin/xnat.js', 'agent', '--profile', join(dir, 'agent.yaml')], {
    name: 'agent',
    cwd: REPO_ROOT,
    env,
  });
  const ports: Record<string, number> = {};
  for (const m of mappings) {
    const ready = await agent.waitForJson(
      (o) => o.msg === 'mapping ready' && o.mapping === m.name,
      START_TIMEOUT_MS,
      `${m.name} ready`,
    );
    ports[m.name] = Number(ready.remotePort);
  }
  return { relay, agent, adminPort: Number(adminLine.port), ports };
}

/** Visitors: 3 TCP connections on minecraft (one pushing ~40 KB/s), a UDP player, web visitors coming and going. */
function startVisitors(ports: Record<string, number>): () => void {
  const socks: Socket[] = [];
  const timers: NodeJS.Timeout[] = [];
  for (let i = 0; i < 3; i++) {
    const s = connect(ports.minecraft!, '127.0.0.1');
    s.on('error', () => {});
    s.on('data', () => {});
    socks.push(s);
  }
  const chunk = Buffer.alloc(4096, 7);
  timers.push(setInterval(() => socks[0]!.write(chunk), 100));
  timers.push(setInterval(() => socks[1]!.write('ping\n'), 1000));
  const player = createSocket('udp4');
  player.on('message', () => {});
  player.on('error', () => {});
  timers.push(setInterval(() => player.send('tick', ports.valheim!, '127.0.0.1'), 50));
  timers.push(
    setInterval(() => {
      const s = connect(ports.web!, '127.0.0.1', () => s.end('GET / HTTP/1.0\r\n\r\n'));
      s.on('error', () => {});
      s.on('data', () => {});
      setTimeout(() => s.destroy(), 500);
    }, 2000),
  );
  return () => {
    for (const t of timers) clearInterval(t);
    for (const s of socks) s.destroy();
    player.close();
  };
}

/** Runs both dashboards for `seconds` in one private tmux server; reads /proc of each all along. */
async function measureDashboards(dir: string, adminPort: number, seconds: number): Promise<Reading[]> {
  const socket = join(dir, 'tmux.sock');
  const tmux = (...args: string[]) =>
    exec('tmux', ['-S', socket, '-f', '/dev/null', ...args], { cwd: REPO_ROOT }).then((r) => r.stdout);
  const nodeFlags = (process.env.XNAT_DASH_NODE_OPTIONS ?? '').split(' ').filter((f) => f.length > 0);
  const panes: { label: string; name: string; pid: number; ms: number }[] = [];
  try {
    for (const [i, iv] of INTERVALS.entries()) {
      const name = `dash${i}`;
      const argv = [
        'exec',
        process.execPath,
        ...nodeFlags,
        'bin/xnat.js',
        'dashboard',
        '--admin',
        `127.0.0.1:${adminPort}`,
        ...iv.args,
      ];
      const command = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
      await tmux(
        'new-session',
        '-d',
        '-s',
        name,
        '-x',
        '80',
        '-y',
        '24',
        '-c',
        dir,
        '-e',
        `XNAT_ADMIN_TOKEN=${TOKEN}`,
        // Runs from the temp folder so --heap-prof files land there; bin/xnat.js by absolute path.
        command.replace("'bin/xnat.js'", `'${join(REPO_ROOT, 'bin/xnat.js')}'`),
      );
      const pid = Number((await tmux('display-message', '-p', '-t', name, '#{pane_pid}')).trim());
      panes.push({ label: iv.label, name, pid, ms: iv.ms });
    }
    const readings: Reading[] = panes.map((p) => ({
      label: p.label,
      peakRss: 0,
      finalRss: 0,
      hwm: 0,
      firstSecondRss: 0,
      cpuPerFrameMs: 0,
      drew: false,
    }));
    const started = performance.now();
    const cpuAt = new Map<number, number>();
    while (performance.now() - started < seconds * 1000) {
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
      const elapsed = performance.now() - started;
      panes.forEach((p, i) => {
        const m = memStats(p.pid);
        const r = readings[i]!;
        r.peakRss = Math.max(r.peakRss, m.rssBytes);
        if (elapsed <= 1200) r.firstSecondRss = m.rssBytes;
        r.finalRss = m.rssBytes;
        r.hwm = m.hwmBytes;
        // CPU per frame counts from 2 s in: start-up (module loading, the first layout) is not a frame.
        if (elapsed >= 2000 && !cpuAt.has(p.pid)) cpuAt.set(p.pid, cpuSeconds(p.pid));
      });
    }
    const elapsed = performance.now() - started;
    for (const [i, p] of panes.entries()) {
      const r = readings[i]!;
      const screen = await tmux('capture-pane', '-p', '-t', p.name);
      r.drew = screen.includes('xnat relay') && screen.includes('valheim');
      const frames = Math.max(1, (elapsed - 2000) / p.ms);
      r.cpuPerFrameMs = ((cpuSeconds(p.pid) - (cpuAt.get(p.pid) ?? 0)) * 1000) / frames;
      await tmux('send-keys', '-t', p.name, 'q').catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 500));
    return readings;
  } finally {
    await tmux('kill-server').catch(() => {});
  }
}

export async function run(opts: MeasureOptions): Promise<Row[]> {
  const seconds = Number(valueOf('--seconds') ?? (opts.quick ? QUICK_SECONDS : SECONDS));
  const dir = mkdtempSync(join(tmpdir(), 'xnat-bench-dash-'));
  const svc = await services();
  let procs: BenchProc[] = [];
  let stopVisitors = () => {};
  try {
    const cluster = await startCluster(dir, svc.tcp, svc.udp);
    procs = [cluster.agent, cluster.relay];
    stopVisitors = startVisitors(cluster.ports);
    const load = loadavg()[0]!;
    opts.log(`dashboards for ${seconds} s (load ${load.toFixed(1)})`);
    const readings = await measureDashboards(dir, cluster.adminPort, seconds);
    for (const r of readings) {
      opts.log(
        `${r.label}: rss 1 s ${(r.firstSecondRss / MiB).toFixed(1)} MiB, peak ${(r.peakRss / MiB).toFixed(1)}, ` +
          `final ${(r.finalRss / MiB).toFixed(1)}, hwm ${(r.hwm / MiB).toFixed(1)} MiB; ` +
          `cpu ${r.cpuPerFrameMs.toFixed(1)} ms/frame${r.drew ? '' : ' (SCREEN NOT DRAWN)'}`,
      );
      if (!r.drew) throw new Error(`the ${r.label} dashboard did not draw the relay's screen`);
    }
    opts.log(`load average ${loadavg()[0]!.toFixed(1)} at the end`);
    return readings.flatMap((r): Row[] => [
      {
        measure: 'dashboard',
        metric: `xnat dashboard 80x24, ${r.label}: peak RSS (VmHWM) over ${seconds} s`,
        unit: 'MiB',
        better: 'lower',
        values: { xnat: r.hwm / MiB },
      },
      {
        measure: 'dashboard',
        metric: `xnat dashboard 80x24, ${r.label}: CPU per frame`,
        unit: 'ms',
        better: 'lower',
        values: { xnat: r.cpuPerFrameMs },
      },
    ]);
  } finally {
    stopVisitors();
    for (const p of procs) await p.stop();
    svc.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function valueOf(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (isMain(import.meta.url)) await main('dashboard', run);
