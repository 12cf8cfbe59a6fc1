// Writes docs/benchmarks.md from one run: the machine, the exact command, the table and how to read it.
// It knows the measures only by the prose below; the numbers come from the rows it is given.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, release } from 'node:os';
import { join } from 'node:path';
import { formatTable, type Row } from './measure.ts';
import { REPO_ROOT, usesRealCli } from './paths.ts';

/** The machine the numbers came from, one line per fact. */
export function machineFacts(): string[] {
  const cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  const version = (cmd: string, args: string[]): string => {
    try {
      const out = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      return out.split('\n')[0]!.trim();
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr;
      return stderr ? stderr.split('\n')[0]!.trim() : 'not installed';
    }
  };
  // ssh -V prints to stderr.
  let sshVersion = 'not installed';
  try {
    sshVersion = execFileSync('sh', ['-c', 'ssh -V 2>&1'], { encoding: 'utf8' }).trim();
  } catch {
    // Keep 'not installed'.
  }
  return [
    `CPU: ${cpu}, ${availableParallelism()} cores (nproc)`,
    `Linux ${release()}, Node ${process.version}`,
    `${version('iperf3', ['--version'])}; ${sshVersion}`,
    `xnat started as: ${usesRealCli() === false ? 'the src/ stand-in test/bench/lib/xnat-main.ts (the CLI had no relay/agent commands yet)' : '`node bin/xnat.js relay|agent --profile P`'}`,
  ];
}

const HOW_TO_READ = `## How to read it

- **direct**: visitor straight to the LAN service: the ceiling of this machine and of the load generators.
  **ssh -R**: OpenSSH remote forwarding (\`ssh -tt -R 0:127.0.0.1:PORT\`, cipher aes128-gcm@openssh.com, a tty
  so both ends turn Nagle off) to a throwaway \`sshd\` on 127.0.0.1. **xnat**: relay and agent processes on
  127.0.0.1, default tuning except \`maxStreams: 16384\`, log level info, JSON logs.
- Ratios are plain value ratios xnat/direct and xnat/ssh, whatever the direction of "better": for
  throughput and conn/s above 1x is better, for latency, CPU and memory below 1x is better.
- Everything runs on one machine over loopback: the two tunnel processes, the load generator and the LAN
  service share the same cores, so a tunnel that burns CPU also slows its own load generator. Numbers
  compare paths on one machine at one moment; they are not internet figures.
- **bulk**: iperf3 -s behind the mapping, iperf3 -c to the public port, 5 s per case after an unmeasured
  2 s one (JIT warm-up), \`-P 8\` for 8 streams, \`-R\` for service -> visitor; Gbit/s as received.
  CPU s/GB: utime+stime of each side over the four cases divided by GB (10^9 bytes) received; sshd is counted with its session processes. Peak
  RSS is VmHWM after the four cases (summed over sshd's processes). xnat runs once per cipher suite
  (the agent's \`tuning.cipher\`: AES-256-GCM, then ChaCha20-Poly1305, each a fresh relay and agent);
  each of its rows names the suite and repeats direct and ssh -R from the same run. The direct column of
  the CPU and RSS rows is the floor of any Node tunnel for that suite (\`test/bench/lib/floor-hop.mjs\`):
  two bare Node processes, the relay-side one sealing what the visitor sends into 64 KiB records (a new
  Cipheriv per record) and opening what comes back, the agent-side one the reverse, over the same four
  cases; no frames, mux, session, acknowledgements or replay. \`node --import=tsx test/bench/pipe-floor.ts\`
  adds the same pair forwarding plain bytes.
- **pingpong**: one connection, 64 bytes out, 64 back, 10 000 warm-up round trips then 20 000 measured
  with process.hrtime.bigint(); the client and the echo service are Node with Nagle off. CPU per round
  trip: utime+stime of both sides of the path over the measured trips (steadier than latency on a shared
  machine). The rows "Node floor pair in the direct column", and the direct column of the CPU row, are the
  same trips through the floor pair of bulk (test/bench/lib/floor-hop.mjs: two bare Node hops, each
  message sealed and opened as one AES-256-GCM record, a new Cipheriv per record; no frames, mux or
  session): the least a Node tunnel with node:crypto takes per trip on this machine.
- **connrate**: 64 connections in flight, each: connect, 1 byte out, 1 byte back, end, wait for close;
  completed cycles per second over 5 s, after 3 s of the same as warm-up. The load generator is one Node process, so the direct figure is
  its ceiling on this machine, not the kernel's. CPU per connection: utime+stime of both sides over the
  run, divided by the connections completed. The LAN service and load generator rows: the CPU per
  connection of the two Node processes at the ends in each path's run (the service's accept, read, write
  and close is what a relay does for a visitor, the generator's connect, write, read and close what an
  agent does towards its LAN service). On 2 cores, n connections/s leave 2 000 000 / n us of CPU per
  connection for all four processes together.
- **idle**: settled VmRSS of each side at rest (20 s after the path came up: V8's memory reducer has run),
  after 1 000 and after 10 000 connections that each did one 1-byte echo and then stay open; per stream is (at 10 000 - at 1 000) / 9 000, the marginal cost
  (the first streams also pay one-time costs: the stream path's first compilation, the young
  generation's growth). Processes run with the open-files limit raised (or at
  the hard limit where raising it is not permitted). The direct column is the floor of any Node tunnel
  (test/bench/lib/node-floor.ts): a plain Node process at rest, and the RSS one idle, reading socket
  costs it, accepted (relay row, as a relay holds its visitor) and dialed (agent row, as an agent holds
  its LAN connection).
- **resume**: a 64 MiB download (random bytes, hashed at both ends) from the LAN service to the visitor;
  at 25%, 50% and 75% a fault proxy between agent and relay resets the link and resets every redial for
  1 s (the uplink is down), then lets connections through again ("restored"). "link restored -> bytes"
  is the time from that moment to the next byte at the visitor; it includes the agent's redial backoff.
  "new link accepted -> bytes" starts when the proxy accepts the agent's next link (handshake, resume
  and replay only). ssh -R does not resume: the first cut ends the ssh session and every forwarded
  connection with it ("connection lost"). direct has no link to cut. Then, on a second download, the
  proxy blackholes the link for 1 s, 7 s and 30 s (bytes dropped both ways, also those it had queued,
  for good; sockets left open; new dials hang): "start -> first redial" is the time to the agent's first
  new connection at the proxy (its probe dial once the link is suspect), "path back -> bytes" the time
  from the proxy letting bytes through again to the next byte at the visitor.
- **udp-game**: 50 players, each its own UDP socket (its own flow), send 100 B datagrams at 60/s for 10 s
  to a UDP echo (the game server) and time each echo; an echo not back within 1 s counts as lost. Once
  on loopback, once over an impaired wire: the relay (and the players) in one network namespace, the
  agent and the game server in another, joined by two TUN devices and \`test/bench/lib/impair.py\`
  (10 ms each way, +-1 ms jitter without reordering, 1 % loss each way; this kernel has no netem). The
  direct row's players send across the same wire to the game server. ssh -R forwards no UDP.
  "CPU relay+agent" is both processes' CPU time over the run's wall time.
- **dashboard** (\`test/bench/dashboard-rss.ts\`): \`xnat dashboard\` for a relay (three mappings, three TCP
  visitors, one pushing 40 KB/s, a UDP player, a web visitor every 2 s) in two 80x24 tmux panes at once,
  one at the default interval (1 s) and one at 250 ms, for 25 s; peak RSS is the dashboard process's
  VmHWM at the end, CPU per frame its utime+stime from 2 s in divided by the frames due since.
- Goals (not pass/fail): single-stream throughput >= ssh -R; ping-pong p99 no worse than ssh;
  >= 10 000 new connections/s; <= 3 KiB RSS per idle stream each side at 10 000 streams; bytes
  flowing again within 0.5 s after the link returns, hash intact; the dashboard <= 80 MB.
`;

/** The whole of docs/benchmarks.md for one run. */
export function renderReport(
  rows: readonly Row[],
  command: string,
  notes: readonly string[],
  seconds: number,
): string {
  return [
    '# Benchmarks',
    '',
    'xnat against the direct path and `ssh -R` on one machine, all over 127.0.0.1. Generated by',
    '`npm run bench` (test/bench/all.ts); the scripts are in test/bench/, one per measure. Do not edit the',
    'table by hand: rerun the command.',
    '',
    '## Run',
    '',
    ...machineFacts().map((f) => `- ${f}`),
    `- Date: ${new Date().toISOString().slice(0, 10)}, ${seconds.toFixed(0)} s for the whole run`,
    `- Command: \`${command}\``,
    '',
    '## Results',
    '',
    formatTable(rows),
    '',
    ...(notes.length > 0 ? ['Notes from this run:', '', ...notes.map((n) => `- ${n}`), ''] : []),
    HOW_TO_READ,
  ].join('\n');
}

/**
 * Sections below this line in docs/benchmarks.md are measured by scripts outside `npm run bench` (e.g.
 * test/bench/compress.ts) and written by hand with their command: a run keeps them as they are.
 */
export const KEPT_SECTIONS_MARKER =
  '<!-- Sections below are kept by npm run bench: measured by other scripts. -->';

export function writeReport(text: string): string {
  const file = join(REPO_ROOT, 'docs', 'benchmarks.md');
  let kept = '';
  try {
    const old = readFileSync(file, 'utf8');
    const at = old.indexOf(KEPT_SECTIONS_MARKER);
    if (at >= 0) kept = old.slice(at);
  } catch {
    // No report yet.
  }
  writeFileSync(file, kept ? `${text.trimEnd()}\n\n${kept}` : text);
  return file;
}
