// End to end, visitors as an attacker would be one (issue 15): each attack at a small, bounded scale
// against real relay and agent processes, with a legitimate visitor beside it that must keep working.
import ava from 'ava';
import net, { type AddressInfo } from 'node:net';
import { TestEnv, WAIT_MS } from './lib/env.ts';
import { notableLogs, startPair } from './lib/cluster.ts';
import { connectVisitor } from './lib/targets.ts';

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
