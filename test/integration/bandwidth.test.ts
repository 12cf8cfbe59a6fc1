// Bandwidth limits, real processes: a mapping's download limit (enforced by the agent) and the agent's
// total upload limit (enforced by the relay) hold within a tolerance over a few seconds, while another
// mapping of the same session moves megabytes unthrottled meanwhile.
import test from 'ava';
import net, { type AddressInfo } from 'node:net';
import { TestEnv } from '../e2e/lib/env.ts';
import { makeKeys } from '../e2e/lib/profiles.ts';
import { killAll, waitFor } from '../helpers/procs.ts';
import { startAgent, startRelay } from './udp-stack.ts';

test.after.always(() => killAll());

const KiB = 1024;
const DOWN_RATE = 512 * KiB;
const UP_RATE = 256 * KiB;
const CHUNK = Buffer.alloc(16 * KiB, 7);

/** A LAN server that writes CHUNKs to each connection (with backpressure) until `bytes`, then ends it. */
async function blaster(env: TestEnv, bytes = Infinity): Promise<number> {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    let sent = 0;
    const pump = () => {
      while (sent < bytes && !s.destroyed) {
        sent += CHUNK.length;
        if (!s.write(CHUNK)) return void s.once('drain', pump);
      }
      if (sent >= bytes) s.end();
    };
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  env.onDispose(() => {
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

/** A LAN server that counts what it receives, all connections together. */
async function sink(env: TestEnv): Promise<{ port: number; total: () => number }> {
  let total = 0;
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.on('data', (c: Buffer) => (total += c.length));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  env.onDispose(() => {
    server.close();
  });
  return { port: (server.address() as AddressInfo).port, total: () => total };
}

/** Bytes counted by `total()` between 1 s and 3 s after it first moved: the burst is spent by then. */
async function rateOver(total: () => number): Promise<number> {
  await waitFor(() => total() > 0, 30_000, 'bytes moving');
  const t0 = performance.now();
  await waitFor(() => performance.now() - t0 >= 1_000, 5_000, 'one second');
  const [b1, t1] = [total(), performance.now()];
  await waitFor(() => performance.now() - t1 >= 2_000, 5_000, 'two more seconds');
  return ((total() - b1) * 1000) / (performance.now() - t1);
}

test('a mapping download limit and an agent upload limit hold; another mapping is not stalled', async (t) => {
  t.timeout(120_000);
  const env = new TestEnv(t);
  const relayKeys = makeKeys();
  const keys = makeKeys();
  const relay = await startRelay(env, relayKeys, [
    { name: 'home', keys, extra: { bandwidth: { up: `${UP_RATE / KiB}KiB` } } },
  ]);
  const upSink = await sink(env);
  const agent = await startAgent(env, {
    name: 'home',
    keys,
    relayPort: relay.controlPort,
    relayKeys,
    mappings: [
      {
        name: 'slow',
        protocol: 'tcp',
        localPort: await blaster(env),
        extra: { bandwidth: { down: `${DOWN_RATE / KiB}KiB` } },
      },
      { name: 'fast', protocol: 'tcp', localPort: await blaster(env, 8 * 1024 * KiB) },
      { name: 'upload', protocol: 'tcp', localPort: upSink.port },
    ],
  });

  // Download through `slow`, and meanwhile 8 MiB through `fast` on the same session.
  let slowBytes = 0;
  const slow = net.connect(agent.ports.slow!, '127.0.0.1');
  env.onDispose(() => slow.destroy());
  slow.on('data', (c: Buffer) => (slowBytes += c.length));
  const measuring = rateOver(() => slowBytes);
  let fastBytes = 0;
  const fastDone = new Promise<void>((resolve, reject) => {
    const fast = net.connect(agent.ports.fast!, '127.0.0.1');
    env.onDispose(() => fast.destroy());
    fast.on('data', (c: Buffer) => (fastBytes += c.length));
    fast.on('end', () => resolve());
    fast.on('error', reject);
  });
  let slowWhenFastDone = -1;
  void fastDone.then(() => (slowWhenFastDone = slowBytes));
  const down = await measuring;
  t.log(`download ${Math.round(down / KiB)} KiB/s (limit ${DOWN_RATE / KiB})`);
  t.true(down > DOWN_RATE * 0.7 && down < DOWN_RATE * 1.3, `download ${Math.round(down / KiB)} KiB/s`);
  await fastDone;
  t.is(fastBytes, 8 * 1024 * KiB);
  // 8 MiB at the slow mapping's rate would take 16 s: the fast one finished while slow had moved far less.
  t.true(slowWhenFastDone < 4 * 1024 * KiB, `slow had ${Math.round(slowWhenFastDone / KiB)} KiB then`);
  slow.destroy();

  // Upload through the relay's per-agent total limit.
  const up = net.connect(agent.ports.upload!, '127.0.0.1');
  env.onDispose(() => up.destroy());
  up.on('error', () => {});
  let writing = true;
  const pump = () => {
    while (writing && up.write(CHUNK));
    if (writing) up.once('drain', pump);
  };
  up.once('connect', pump);
  const upRate = await rateOver(upSink.total);
  writing = false;
  t.log(`upload ${Math.round(upRate / KiB)} KiB/s (limit ${UP_RATE / KiB})`);
  t.true(upRate > UP_RATE * 0.7 && upRate < UP_RATE * 1.3, `upload ${Math.round(upRate / KiB)} KiB/s`);
});
