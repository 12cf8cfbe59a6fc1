// Benchmark: mux throughput of 1 and 8 streams over an in-memory transport pair, then over a real Session
// pair on memory links (MB/s); a script, not a test. Run: node --import=tsx test/bench/mux.ts [MiB per case, default 512]
import { randomBytes } from 'node:crypto';
import { Mux, type MuxTransport } from '../../src/mux/mux.ts';
import type { MuxDuplex as MuxStream } from '../../src/mux/mux-duplex.ts';
import { SessionClient } from '../../src/session/session-client.ts';
import { SessionServer } from '../../src/session/session-server.ts';
import type { Session } from '../../src/session/session.ts';
import { createMemoryLinkPair } from '../helpers/memory-link.ts';
import { memoryTransportPair } from '../mux/memory-transport.ts';

const MIB = 1024 * 1024;
const WRITE_BYTES = 64 * 1024;
/** Transport buffer cap, like the session's default replay buffer (8 MiB). */
const TRANSPORT_CAP_BYTES = 8 * MIB;
const arg = process.argv[2];
const TOTAL_MIB = arg && Number(arg) > 0 ? Number(arg) : 512;

/** Writes `bytes` on `s` in WRITE_BYTES pieces, honouring backpressure, then ends it. */
async function pump(s: MuxStream, bytes: number): Promise<void> {
  const block = Buffer.alloc(WRITE_BYTES, 0x5a);
  for (let sent = 0; sent < bytes; sent += WRITE_BYTES) {
    if (!s.write(block)) await new Promise((r) => s.once('drain', r));
  }
  s.end();
}

interface Transports {
  readonly relay: MuxTransport;
  readonly agent: MuxTransport;
  close(): void;
}

async function memoryPair(): Promise<Transports> {
  const [ta, tb] = memoryTransportPair({ capBytes: TRANSPORT_CAP_BYTES });
  ta.record = false;
  tb.record = false;
  return { relay: ta, agent: tb, close: () => ta.close() };
}

async function sessionPair(): Promise<Transports> {
  const server = new SessionServer();
  const agentKey = randomBytes(32);
  const client = new SessionClient({
    dial: async () => {
      const p = createMemoryLinkPair({ agentKey, highWaterMark: MIB });
      server.attachLink(p.relay);
      return p.agent;
    },
  });
  const relay = new Promise<Session>((r) => server.once('session', r));
  const agent = new Promise<Session>((r) => client.once('session', r));
  client.start();
  return { relay: await relay, agent: await agent, close: () => (client.close(), server.close()) };
}

async function run(
  streams: number,
  make: () => Promise<Transports>,
): Promise<{ mbps: number; maxWindow: number }> {
  const t = await make();
  const ta = t.relay;
  const tb = t.agent;
  const relay = new Mux(ta, { role: 'relay' });
  const agent = new Mux(tb, { role: 'agent' });
  const perStream = Math.floor((TOTAL_MIB * MIB) / streams / WRITE_BYTES) * WRITE_BYTES;
  let maxWindow = 0;
  const done: Promise<void>[] = [];
  agent.on('stream', (s: MuxStream) => {
    done.push(
      new Promise((resolve, reject) => {
        let got = 0;
        s.on('data', (c: Buffer) => (got += c.length));
        s.on('end', () => {
          maxWindow = Math.max(maxWindow, s.stats.recvWindow);
          if (got === perStream) resolve();
          else reject(new Error(`stream got ${got} of ${perStream} bytes`));
        });
        s.on('error', reject);
      }),
    );
  });
  const start = process.hrtime.bigint();
  const writers = Array.from({ length: streams }, () =>
    pump(relay.openStream(Buffer.from('bench')), perStream),
  );
  await Promise.all(writers);
  while (done.length < streams) await new Promise((r) => setImmediate(r));
  await Promise.all(done);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  relay.destroy();
  agent.destroy();
  t.close();
  return { mbps: (perStream * streams) / seconds / 1e6, maxWindow };
}

await run(1, memoryPair); // warm-up
for (const [name, make] of [
  ['memory transport', memoryPair],
  ['session on memory links', sessionPair],
] as const) {
  for (const n of [1, 8]) {
    const r = await run(n, make);
    console.log(
      `mux over ${name}, ${n} stream${n > 1 ? 's' : ''}, ${TOTAL_MIB} MiB: ${r.mbps.toFixed(0)} MB/s (receive window reached ${r.maxWindow / MIB} MiB)`,
    );
  }
}
