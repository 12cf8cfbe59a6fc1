// Benchmark: in-process session pair throughput over memory links (MB/s), one way and both ways.
// Run: node --import=tsx test/bench/session.ts [MiB per direction, default 256]. A script, not a timed test.
import { randomBytes } from 'node:crypto';
import { SessionClient } from '../../src/session/session-client.ts';
import { SessionServer } from '../../src/session/session-server.ts';
import type { Session } from '../../src/session/session.ts';
import { FrameType, type Frame } from '../../src/wire/frame.ts';
import { createMemoryLinkPair } from '../helpers/memory-link.ts';

const MIB = 1024 * 1024;
const CHUNK_BYTES = 16 * 1024;

async function pair(): Promise<{ agent: Session; relay: Session; close(): void }> {
  const server = new SessionServer();
  const agentKey = randomBytes(32);
  const client = new SessionClient({
    dial: async () => {
      const p = createMemoryLinkPair({ agentKey, highWaterMark: 1 * MIB });
      server.attachLink(p.relay);
      return p.agent;
    },
  });
  const relay = new Promise<Session>((r) => server.once('session', r));
  const agent = new Promise<Session>((r) => client.once('session', r));
  client.start();
  return { agent: await agent, relay: await relay, close: () => (client.close(), server.close()) };
}

/** Sends `bytes` in CHUNK_BYTES frames from `from`, honouring backpressure; resolves when `to` got them all. */
function transfer(from: Session, to: Session, bytes: number): Promise<void> {
  const payload = randomBytes(CHUNK_BYTES);
  const frames = Math.ceil(bytes / CHUNK_BYTES);
  return new Promise((resolve) => {
    let got = 0;
    const onFrame = (f: Frame) => {
      if (f.type === FrameType.STREAM_DATA && ++got === frames) {
        to.off('frame', onFrame);
        resolve();
      }
    };
    to.on('frame', onFrame);
    let sent = 0;
    const pump = () => {
      while (sent < frames) {
        sent++;
        if (!from.sendReliable({ type: FrameType.STREAM_DATA, streamId: 1, data: payload })) {
          from.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

async function run(name: string, mib: number, both: boolean): Promise<void> {
  const p = await pair();
  const keep = setInterval(() => {}, 1000);
  const start = performance.now();
  await Promise.all([
    transfer(p.agent, p.relay, mib * MIB),
    ...(both ? [transfer(p.relay, p.agent, mib * MIB)] : []),
  ]);
  const seconds = (performance.now() - start) / 1000;
  const total = (both ? 2 : 1) * mib;
  console.log(
    `${name}: ${total} MiB in ${seconds.toFixed(2)} s = ${(total / seconds).toFixed(0)} MiB/s ` +
      `(replay high water ${(p.agent.stats.replayHighWater / MIB).toFixed(1)} MiB)`,
  );
  clearInterval(keep);
  p.close();
}

const mib = Number(process.argv[2] ?? 256);
await run('warm-up', 64, false);
await run('session one way, 16 KiB frames', mib, false);
await run('session both ways, 16 KiB frames', mib, true);
