// End to end, visitors as an attacker would be one (issue 15): each attack at a small, bounded scale
// against real relay and agent processes, with a legitimate visitor beside it that must keep working.
import ava from 'ava';
import { readFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { TestEnv, WAIT_MS, freePort } from './lib/env.ts';
import { notableLogs, restartAgent, startPair } from './lib/cluster.ts';
import { connectVisitor, ending } from './lib/targets.ts';

const test = ava.serial;

/** A LAN service that answers each line with `ok <line>` and counts the connections it holds open. */
async function startCountingServer(env: TestEnv): Promise<{ port: number; open: () => number }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('data', (d: Buffer) => socket.write(`ok ${d.toString('utf8')}`));
    socket.on('end', () => socket.end());
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  env.onDispose(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as AddressInfo).port, open: () => sockets.size };
}

/** Resolves once `cond()` holds, polling every 50 ms; rejects with `what` after `ms`. */
async function waitUntil(cond: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One line through a fresh visitor connection; resolves with the answer. */
async function ask(env: TestEnv, port: number, line: string): Promise<string> {
  const socket = await connectVisitor(env, port);
  const answer = new Promise<string>((resolve, reject) => {
    socket.once('data', (d: Buffer) => resolve(d.toString('utf8')));
    socket.once('error', reject);
  });
  socket.write(line);
  const text = await answer;
  socket.destroy();
  return text;
}

/** Connects to `port` and resets the connection as soon as it is up (RST, no FIN). */
function connectAndReset(port: number): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.resetAndDestroy();
      resolve();
    });
    s.once('error', () => resolve());
  });
}

test('visitors that reset before the LAN dial completes leave no LAN connection behind', async (t) => {
  const env = new TestEnv(t);
  const lan = await startCountingServer(env);
  const { ports, relay, agent } = await startPair(env, {
    mappings: [{ name: 'svc', localPort: lan.port }],
  });
  t.is(await ask(env, ports.svc!, 'before'), 'ok before');
  // 300 visitors in waves of 50 that connect and reset at once: each races its own LAN dial.
  for (let wave = 0; wave < 6; wave++) {
    await Promise.all(Array.from({ length: 50 }, () => connectAndReset(ports.svc!)));
  }
  try {
    await waitUntil(() => lan.open() === 0, 'every LAN connection to close', 15_000);
  } catch (err) {
    t.log(notableLogs(relay.proc, agent.proc).slice(-2000));
    throw err;
  }
  t.is(lan.open(), 0);
  t.is(await ask(env, ports.svc!, 'after'), 'ok after');
});

/** Opens `n` visitor connections to `port` that send nothing; each with a promise of how it closes. */
async function idleVisitors(env: TestEnv, port: number, n: number): Promise<Array<Promise<boolean>>> {
  const sockets = await Promise.all(Array.from({ length: n }, () => connectVisitor(env, port)));
  return sockets.map((s) => {
    s.on('error', () => {});
    return new Promise<boolean>((resolve) => s.once('close', (hadError) => resolve(hadError)));
  });
}

test('idle visitors on one mapping cannot starve the others; the idle timeout frees their slots', async (t) => {
  const env = new TestEnv(t);
  const lan = await startCountingServer(env);
  const adminPort = await freePort();
  const { ports, relay } = await startPair(env, {
    relay: { tuning: { maxStreams: 40 }, admin: { port: adminPort, token: 'hostile-test-admin-token' } },
    mappings: [
      { name: 'web', localPort: lan.port, idleTimeout: '2s' },
      { name: 'ssh', localPort: lan.port },
    ],
  });
  // 60 silent visitors on web: it gets 40 - 10 (ssh's guaranteed share) = 30, the rest are reset.
  const closes = await idleVisitors(env, ports.web!, 60);
  await waitUntil(() => lan.open() >= 30, 'the flood to reach the LAN service');
  // ssh's visitors get through: its guaranteed share (10) is kept for it.
  const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => ask(env, ports.ssh!, `ssh ${i}`)));
  t.deepEqual(
    answers,
    Array.from({ length: 5 }, (_, i) => `ok ssh ${i}`),
  );
  // web's idle timeout (2 s) resets every silent visitor; web serves new visitors again.
  const hadError = await Promise.all(closes);
  t.true(hadError.every(Boolean), 'every silent visitor was reset, not closed');
  // The relay frees a slot when its side of the pipe has closed, a loop turn or so after the visitor
  // saw the reset (on a loaded machine a new visitor could come first): wait for the 30 to be freed.
  const idleResets = () =>
    relay.proc.logs.filter((l) => l.msg === 'visitor reset' && l.code === 'XNAT_ERR_FORWARD_IDLE_TIMEOUT');
  await waitUntil(() => idleResets().length >= 30, "the relay to free the idle visitors' slots");
  t.is(await ask(env, ports.web!, 'web again'), 'ok web again');
  // The refusals and idle resets are counted in the relay's status (and /metrics, from the same snapshot).
  const json = await env.run(['status', '--profile', relay.profilePath, '--json']);
  const status = JSON.parse(json.otherLines.join('\n')) as {
    sessions: Array<{ visitorsRefused?: { share: number; idleTimeout: number } }>;
  };
  const refused = status.sessions[0]!.visitorsRefused!;
  t.is(refused.share, 30);
  t.true(refused.idleTimeout >= 30, `idle resets counted: ${refused.idleTimeout}`);
  const refusals = relay.proc.logs.filter((l) => l.msg === 'visitors refused');
  t.true(refusals.length >= 1 && refusals.length <= 3, `aggregated refusal lines: ${refusals.length}`);
});

test('two agents sharing one key: the relay says so once with both addresses, and the agents slow down', async (t) => {
  const env = new TestEnv(t);
  const lan = await startCountingServer(env);
  const { relay, agent } = await startPair(env, {
    mappings: [{ name: 'svc', localPort: lan.port }],
    agent: { reconnect: { initialDelay: '50ms', maxDelay: '500ms', replacedDelay: '2s' } },
  });
  const twin = restartAgent(env, agent, 'twin agent');
  const takeovers = () =>
    relay.proc.logs.filter((l) => l.msg === 'session replaced by a new SESSION_OPEN of the same agent key');
  await waitUntil(() => takeovers().length >= 2, 'the twin to take the session and be taken back');
  const warned = await relay.proc.waitForLog({ msg: 'two agents share one key' }, WAIT_MS);
  t.is((warned.addresses as string[]).length, 2);
  // Watch 8 s: with a 2 s replaced delay doubling per side, a handful of takeovers, not one per redial.
  const before = takeovers().length;
  await new Promise((r) => setTimeout(r, 8_000));
  const during = takeovers().length - before;
  t.true(during <= 4, `${during} takeovers in 8 s`);
  t.is(relay.proc.logs.filter((l) => l.msg === 'two agents share one key').length, 1, 'said once');
  const waits = [agent, twin].flatMap((a) =>
    a.proc.logs
      .filter((l) => l.msg === 'session replaced by another agent with the same key')
      .map((l) => l.retryInMs as number),
  );
  t.true(waits.length >= 1 && waits.every((ms) => ms >= 1_600), `waits ${waits.join(', ')}`);
});

test('a relay stopped with SIGTERM resets its live visitors (never a clean FIN)', async (t) => {
  const env = new TestEnv(t);
  const lan = await startCountingServer(env);
  const { ports, relay } = await startPair(env, { mappings: [{ name: 'svc', localPort: lan.port }] });
  const visitor = await connectVisitor(env, ports.svc!);
  const first = new Promise<string>((resolve) => visitor.once('data', (d: Buffer) => resolve(d.toString())));
  visitor.write('hello');
  t.is(await first, 'ok hello');
  const how = ending(visitor);
  const stopped = Date.now();
  await relay.proc.stop('SIGTERM');
  t.is(await how, 'ECONNRESET');
  t.log(`visitor reset ${Date.now() - stopped} ms after SIGTERM`);
});

/** VmRSS of process `pid`, in bytes. */
function rssOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
  return Number(line?.[1] ?? 0) * 1024;
}

test('stalled visitors (a request, then never read) cost the agent a bounded amount each', async (t) => {
  const env = new TestEnv(t);
  // A LAN service that answers every connection with 4 MiB at once, as a download server would.
  const reply = Buffer.alloc(4 * 1024 * 1024, 7);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.once('close', () => sockets.delete(s));
    s.write(reply);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  env.onDispose(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const lanPort = (server.address() as AddressInfo).port;
  const { ports, agent } = await startPair(env, { mappings: [{ name: 'dl', localPort: lanPort }] });
  const pid = agent.proc.pid!;
  const before = rssOf(pid);
  const stalled: net.Socket[] = [];
  for (let i = 0; i < 100; i++) {
    const s = await connectVisitor(env, ports.dl!);
    s.pause(); // never reads: the kernel buffers fill, then xnat's windows, then the LAN service waits
    stalled.push(s);
  }
  await waitUntil(() => sockets.size >= 100, 'every stalled visitor to reach the LAN service');
  // Let the windows fill and RSS settle.
  let last = 0;
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 250));
    const now = rssOf(pid);
    if (Math.abs(now - last) < 256 * 1024) break;
    last = now;
  }
  const perStream = (rssOf(pid) - before) / 100;
  t.log(`agent RSS per stalled visitor: ${Math.round(perStream / 1024)} KiB`);
  // RSS counts the garbage of what passed through too (loopback kernel buffers take MiBs per socket before
  // the visitor's window closes), so the bound is loose: without backpressure each would cost its 4 MiB.
  t.true(perStream < 2 * 1024 * 1024, `agent RSS per stalled visitor ${Math.round(perStream / 1024)} KiB`);
  // The tunnel still serves: a fresh visitor that reads gets its whole 4 MiB.
  const fresh = await connectVisitor(env, ports.dl!);
  let got = 0;
  await new Promise<void>((resolve) => {
    fresh.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= reply.length) resolve();
    });
  });
  t.is(got, reply.length);
});
