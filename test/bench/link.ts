// Link throughput over loopback TCP for each cipher suite and backend (MB/s and CPU s/GB of both ends in
// this one process, one direction, STREAM_DATA frames of the largest payload, i.e. full records).
// A script, not a test: run with `node --import=tsx test/bench/link.ts [MiB] [frame payload bytes]`.
import type { AeadBackendName } from '../../src/crypto/aead.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { LinkAcceptor, connectLink, type Link } from '../../src/link/link.ts';
import { CIPHER_SUITES, type CipherSuite } from '../../src/link/suites.ts';
import { dialTcp, listenTcp } from '../../src/transport/tcp.ts';
import { encodeFrame } from '../../src/wire/codec.ts';
import { FrameType, MAX_FRAME_PAYLOAD, type Frame } from '../../src/wire/frame.ts';

const CHUNK_BYTES = Number(process.argv[3] ?? MAX_FRAME_PAYLOAD);

interface Result {
  mbps: number;
  cpuSecondsPerGB: number;
  recordsPerMiB: number;
}

async function run(
  suite: CipherSuite,
  backend: Exclude<AeadBackendName, 'auto'>,
  mib: number,
): Promise<Result> {
  const relayKeys = generateKeyPair();
  const agentKeys = generateKeyPair();
  const acceptor = new LinkAcceptor({
    staticKeys: relayKeys,
    lookupAgent: () => ({}),
    cipherBackend: backend,
  });
  const accepted: Promise<Link>[] = [];
  const listener = await listenTcp('127.0.0.1', 0, (s) => accepted.push(acceptor.accept(s)));
  const agent = await connectLink(await dialTcp('127.0.0.1', listener.port, { reuseReads: true }), {
    staticKeys: agentKeys,
    remoteStaticKey: relayKeys.publicKey,
    cipher: suite,
    cipherBackend: backend,
  });
  while (accepted.length === 0) await new Promise((r) => setImmediate(r));
  const relay = await accepted[0]!;
  const total = mib * 1024 * 1024;
  const chunk = Buffer.alloc(CHUNK_BYTES, 0x5a);
  let received = 0;
  const done = new Promise<void>((resolve) =>
    relay.on('frame', (f: Frame) => {
      if (f.type !== FrameType.STREAM_DATA) return;
      received += f.data.length;
      if (received >= total) resolve();
    }),
  );
  const records0 = agent.stats.recordsOut;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  for (let sent = 0; sent < total; sent += CHUNK_BYTES) {
    const frame = encodeFrame({ type: FrameType.STREAM_DATA, streamId: 1, data: chunk });
    if (!agent.write(frame)) await new Promise((r) => agent.once('drain', r));
  }
  await done;
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const records = agent.stats.recordsOut - records0;
  agent.close();
  relay.destroy();
  await listener.close();
  return {
    mbps: total / 1e6 / seconds,
    cpuSecondsPerGB: (cpu.user + cpu.system) / 1e6 / (total / 1e9),
    recordsPerMiB: records / mib,
  };
}

const mib = Number(process.argv[2] ?? 256);
for (const suite of CIPHER_SUITES) {
  for (const backend of ['node', 'noble'] as const) {
    // noble's AES is much slower than its ChaCha20: fewer bytes keep the run short.
    const share = backend === 'node' ? 1 : suite === 'aes-256-gcm' ? 32 : 8;
    const size = Math.max(16, Math.round(mib / share));
    const r = await run(suite, backend, size);
    console.log(
      `link ${suite.padEnd(17)} ${backend.padEnd(5)} ${size} MiB one way: ${r.mbps.toFixed(0)} MB/s, ` +
        `${r.cpuSecondsPerGB.toFixed(2)} CPU s/GB (both ends), ${r.recordsPerMiB.toFixed(1)} records/MiB`,
    );
  }
}
