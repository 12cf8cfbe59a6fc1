// End to end, a dead uplink: real relay and agent processes with a fault proxy between them that
// blackholes the link (bytes dropped both ways, sockets left open, new dials hang) for 1 s and 7 s while a
// visitor receives a steady trickle. Detection within the configured keepalive timeout, bytes again soon
// after the path returns, nothing lost or repeated, and one agent warning for the whole outage.
import ava from 'ava';
import net from 'node:net';
import { TestEnv, WAIT_MS } from './lib/env.ts';
import { notableLogs, startPair, waitForNth } from './lib/cluster.ts';
import { connectVisitor } from './lib/targets.ts';

const test = ava.serial;

/** Short test timings: pings every 200 ms, a link silent for 600 ms is dead. */
const KEEPALIVE = { keepaliveInterval: '200ms', keepaliveTimeout: '600ms' };
const KEEPALIVE_TIMEOUT_MS = 600;
const KEEPALIVE_INTERVAL_MS = 200;
/** The LAN service sends one numbered 8-byte chunk this often, ms. */
const TICK_MS = 10;
/** Generous bounds (the exact figures are logged and in test/bench/resume.ts). */
const DETECTION_SLACK_MS = 1_500;
const RESUME_BOUND_MS = 3_000;
/** pino's warn level. */
const WARN = 40;

/** A LAN service that writes a u64 counter every TICK_MS to each connection. */
async function startTicker(env: TestEnv): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let n = 0n;
    const timer = setInterval(() => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(n++);
      socket.write(b);
    }, TICK_MS);
    socket.on('error', () => {});
    socket.once('close', () => {
      clearInterval(timer);
      sockets.delete(socket);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  env.onDispose(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return (server.address() as net.AddressInfo).port;
}

for (const outageMs of [1_000, 7_000]) {
  test(`a ${outageMs / 1000} s blackhole: detected within the keepalive timeout, bytes again within ${RESUME_BOUND_MS} ms of the path's return, one warning`, async (t) => {
    t.timeout(60_000);
    const env = new TestEnv(t);
    const lanPort = await startTicker(env);
    const pair = await startPair(env, {
      mappings: [{ name: 'tick', localPort: lanPort }],
      proxy: true,
      relay: { tuning: KEEPALIVE },
      agent: { tuning: KEEPALIVE },
    });
    const agent = pair.agent.proc;
    const visitor = await connectVisitor(env, pair.ports.tick!);
    let buffered = Buffer.alloc(0);
    let expected = 0n;
    let gaps = 0;
    let lastAt = 0;
    visitor.on('data', (chunk: Buffer) => {
      lastAt = performance.now();
      buffered = Buffer.concat([buffered, chunk]);
      for (; buffered.length >= 8; buffered = buffered.subarray(8)) {
        if (buffered.readBigUInt64BE(0) !== expected) gaps++;
        expected = buffered.readBigUInt64BE(0) + 1n;
      }
    });
    const waitBytes = async (after: number, what: string): Promise<number> => {
      const deadline = performance.now() + WAIT_MS;
      while (lastAt <= after) {
        if (performance.now() > deadline) throw new Error(`no bytes ${what}\n${notableLogs(agent)}`);
        await new Promise((r) => setTimeout(r, 2));
      }
      return lastAt - after;
    };
    await waitBytes(performance.now(), 'before the outage');
    const logsBefore = agent.logs.length;

    const startedAt = performance.now();
    pair.proxy!.blackhole();
    // When the line arrives (pipe latency included: an upper bound).
    await waitForNth(agent, { msg: 'session detached' }, 1);
    const detectedMs = Math.round(performance.now() - startedAt);
    const left = outageMs - (performance.now() - startedAt);
    if (left > 0) await new Promise((r) => setTimeout(r, left));
    const healedAt = performance.now();
    pair.proxy!.heal();
    const resumeMs = await waitBytes(healedAt, 'after the path returned');
    const restored = await agent.waitForLog({ msg: 'link restored' }, WAIT_MS);
    t.log(
      `${outageMs} ms blackhole: detected after ${detectedMs} ms (timeout ${KEEPALIVE_TIMEOUT_MS} ms), ` +
        `bytes ${resumeMs.toFixed(0)} ms after the path returned; 'link restored' outageMs ${String(restored.outageMs)}, ` +
        `attempts ${String(restored.attempts)}; the proxy accepted ${pair.proxy!.accepted} links`,
    );
    t.true(
      detectedMs <= KEEPALIVE_TIMEOUT_MS + KEEPALIVE_INTERVAL_MS + DETECTION_SLACK_MS,
      `detected ${detectedMs} ms`,
    );
    t.true(resumeMs <= RESUME_BOUND_MS, `resumed ${resumeMs} ms after the path returned`);
    t.is(restored.resumed, true);
    t.true(typeof restored.outageMs === 'number' && restored.outageMs > 0);
    t.true(typeof restored.attempts === 'number' && restored.attempts >= 1);

    // Steady again, nothing lost, repeated or reordered; and the agent warned once for the whole outage.
    const n = expected;
    await waitBytes(performance.now(), 'after the resume');
    t.true(expected > n);
    t.is(gaps, 0, 'every chunk exactly once and in order');
    const warnings = agent.logs.slice(logsBefore).filter((l) => (l.level ?? 0) >= WARN);
    t.deepEqual(
      warnings.map((l) => l.msg),
      ['link restored'],
      notableLogs(agent),
    );
  });
}
