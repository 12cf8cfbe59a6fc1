// Soak: 8 streams of seeded random data both ways over real TCP while the link is reset, blackholed and
// corrupted at random moments; every stream's bytes must arrive exactly once, in order (hash compare).
// Runs over each cipher suite.
import test, { type ExecutionContext } from 'ava';
import { createCipheriv, createHash } from 'node:crypto';
import type { MuxDuplex as MuxStream } from '../../src/mux/mux.ts';
import type { CipherSuite } from '../../src/link/suites.ts';
import { startStack, testSuites } from '../helpers/tunnel-stack.ts';
import { waitFor } from '../helpers/procs.ts';

const STREAMS = 8;
const BYTES_PER_DIRECTION = 4 * 1024 * 1024; // 8 streams x 2 directions x 4 MiB = 64 MiB
const CHUNK = 64 * 1024;
const REPLAY_CAP = 1024 * 1024;

/** Deterministic bytes: the ChaCha20 keystream of a per-(stream, direction) key. */
function keystream(seed: string) {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('chacha20', key, Buffer.alloc(16));
  return (n: number) => cipher.update(Buffer.alloc(n));
}

function expectedHash(seed: string): string {
  const next = keystream(seed);
  const h = createHash('sha256');
  for (let sent = 0; sent < BYTES_PER_DIRECTION; sent += CHUNK)
    h.update(next(Math.min(CHUNK, BYTES_PER_DIRECTION - sent)));
  return h.digest('hex');
}

/** Writes the seeded bytes with backpressure, then ends; hashes what comes back; resolves with that hash. */
function drive(stream: MuxStream, seed: string, progress: { received: number }): Promise<string> {
  const next = keystream(seed);
  let sent = 0;
  const pump = () => {
    while (sent < BYTES_PER_DIRECTION) {
      const n = Math.min(CHUNK, BYTES_PER_DIRECTION - sent);
      sent += n;
      if (!stream.write(next(n))) return void stream.once('drain', pump);
    }
    stream.end();
  };
  pump();
  const h = createHash('sha256');
  return new Promise((resolve, reject) => {
    stream.on('data', (d: Buffer) => {
      progress.received += d.length;
      h.update(d);
    });
    stream.on('end', () => resolve(h.digest('hex')));
    stream.on('error', reject);
  });
}

// Once per cipher suite (XNAT_TEST_SUITE picks one), one after the other: each moves 128 MiB.
for (const suite of testSuites()) {
  test.serial(
    `8 streams, 64 MiB both ways, survive resets, blackholes and corruption with every byte exactly once (${suite})`,
    (t) => soak(t, suite),
  );
}

async function soak(t: ExecutionContext, suite: CipherSuite): Promise<void> {
  t.timeout(180_000);
  const stack = await startStack({ replayBufferBytes: REPLAY_CAP, suite });
  t.teardown(() => stack.close());
  const progress = { received: 0 };
  const agentDone: Promise<string>[] = [];
  stack.agentMux.on('stream', (stream: MuxStream, meta: Buffer) => {
    agentDone.push(drive(stream, `down-${meta.toString()}`, progress));
  });
  const relayDone: Promise<string>[] = [];
  for (let i = 0; i < STREAMS; i++) {
    relayDone.push(drive(stack.relayMux.openStream(Buffer.from(String(i))), `up-${i}`, progress));
  }

  // Faults at progress thresholds (seeded order), so each one lands mid-transfer.
  const faults = ['reset', 'corrupt-up', 'blackhole', 'corrupt-down', 'reset', 'blackhole'] as const;
  const total = STREAMS * 2 * BYTES_PER_DIRECTION;
  let injected = 0;
  for (const [i, fault] of faults.entries()) {
    const threshold = (total * (i + 1)) / (faults.length + 2);
    await waitFor(() => progress.received >= threshold, 60_000, `progress past ${threshold}`);
    const conn = stack.proxy.connections.at(-1)!;
    const resumed = stack.nextAttach();
    if (fault === 'reset') conn.reset();
    else if (fault === 'corrupt-up') conn.corruptNextByte('up');
    else if (fault === 'corrupt-down') conn.corruptNextByte('down');
    else {
      stack.proxy.blackhole();
      await waitFor(() => stack.agentSession.state === 'detached', 30_000, 'blackhole detected');
      stack.proxy.heal();
    }
    await resumed;
    injected++;
  }

  const upHashes = await Promise.all(agentDone);
  const downHashes = await Promise.all(relayDone);
  t.is(injected, faults.length);
  t.is(agentDone.length, STREAMS);
  // agentDone[i] hashed what the relay sent on stream i ("up-i"); relayDone[i] what the agent sent back.
  const opened = await Promise.all(
    [...Array(STREAMS).keys()].map(async (i) => ({
      up: expectedHash(`up-${i}`),
      down: expectedHash(`down-${i}`),
    })),
  );
  t.deepEqual([...upHashes].sort(), opened.map((o) => o.up).sort());
  t.deepEqual(
    downHashes,
    opened.map((o) => o.down),
  );
  t.true(
    stack.relaySession.stats.resumes >= faults.length - 1,
    `resumes ${stack.relaySession.stats.resumes}`,
  );
  // Invariant 1: the replay buffer never holds more than its cap plus one frame.
  for (const s of [stack.relaySession, stack.agentSession]) {
    t.true(s.stats.replayHighWater <= REPLAY_CAP + 64 * 1024 + 10, `high water ${s.stats.replayHighWater}`);
  }
}
