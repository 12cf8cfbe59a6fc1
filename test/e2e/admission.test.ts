// End to end, handshake admission under a flood: silent connections from several loopback addresses
// (the agent's own among them) pour into the relay's control port while the agent's link is reset; the
// agent resumes its session during the flood, a visitor's connection keeps flowing, and the relay logs
// the flood in a few aggregated lines. Real relay and agent processes, a fault proxy between them.
import ava from 'ava';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { TestEnv, WAIT_MS, freePort } from './lib/env.ts';
import { notableLogs, startPair, waitForNth } from './lib/cluster.ts';
import { connectVisitor } from './lib/targets.ts';
import type { HandshakeStatus, RelayStatus } from '../../src/observe/status.ts';

const test = ava.serial;

/** Silent connections the attacker opens in all. */
const FLOOD_CONNECTIONS = 300;
/** Opened per tick, one tick every FLOOD_TICK_MS: 300 over about 5 s. */
const FLOOD_PER_TICK = 6;
const FLOOD_TICK_MS = 100;
/** Loopback source addresses of the flood; half of it comes from 127.0.0.1, the agent's own address. */
const FLOOD_SOURCES = Array.from({ length: 10 }, (_, i) => `127.0.0.${i + 2}`);
/** Relay log lines allowed for the whole test (a line per flood connection would be 300 and more). */
const MAX_RELAY_LINES = 40;

interface Flood {
  /** Connections opened so far. */
  readonly opened: () => number;
  /** Connections the relay closed so far. */
  readonly closedByRelay: () => number;
  /** Connections that heard the busy hint (tag 4) before the relay closed them. */
  readonly toldBusy: () => number;
  /** Resolves with Date.now() once the last connection is opened. */
  readonly done: Promise<number>;
}

/** Opens FLOOD_CONNECTIONS silent TCP connections to `port`, FLOOD_PER_TICK per tick. */
function flood(env: TestEnv, port: number): Flood {
  const sockets = new Set<net.Socket>();
  env.onDispose(() => {
    for (const s of sockets) s.destroy();
  });
  let opened = 0;
  let closed = 0;
  let busy = 0;
  const done = new Promise<number>((resolve) => {
    const tick = (): void => {
      for (let i = 0; i < FLOOD_PER_TICK && opened < FLOOD_CONNECTIONS; i++, opened++) {
        const localAddress =
          opened % 2 === 0 ? '127.0.0.1' : FLOOD_SOURCES[(opened >> 1) % FLOOD_SOURCES.length];
        const s = net.connect({ host: '127.0.0.1', port, localAddress });
        sockets.add(s);
        s.on('error', () => {});
        // The hint is 3 bytes: u16 length 1, tag 4.
        s.on('data', (c: Buffer) => c.length >= 3 && c[2] === 4 && busy++);
        s.once('close', () => {
          closed++;
          sockets.delete(s);
        });
      }
      if (opened < FLOOD_CONNECTIONS) setTimeout(tick, FLOOD_TICK_MS);
      else resolve(Date.now());
    };
    tick();
  });
  return { opened: () => opened, closedByRelay: () => closed, toldBusy: () => busy, done };
}

/** A LAN service that echoes every byte. */
async function startEchoServer(env: TestEnv): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  env.onDispose(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(() => r(undefined)));
  });
  return (server.address() as net.AddressInfo).port;
}

/** Sends a numbered line every 100 ms through one visitor connection and checks each echo, in order. */
function pinger(socket: net.Socket) {
  let sent = 0;
  let echoed = 0;
  let text = '';
  let ending: string | undefined;
  const waiters = new Set<() => void>();
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    text += chunk;
    let nl: number;
    while ((nl = text.indexOf('\n')) >= 0) {
      const line = text.slice(0, nl);
      text = text.slice(nl + 1);
      if (line !== `ping ${echoed}`) ending ??= `out of order: got "${line}", expected "ping ${echoed}"`;
      echoed++;
      for (const w of [...waiters]) w();
    }
  });
  socket.once('error', (err: NodeJS.ErrnoException) => (ending ??= err.code ?? err.message));
  socket.once('close', () => (ending ??= 'close'));
  const timer = setInterval(() => socket.write(`ping ${sent++}\n`), 100);
  return {
    get sent() {
      return sent;
    },
    get echoed() {
      return echoed;
    },
    get ending() {
      return ending;
    },
    /** Resolves once `n` echoes came back in all. */
    until(n: number): Promise<void> {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (echoed >= n) {
            waiters.delete(check);
            clearTimeout(deadline);
            resolve();
          }
        };
        const deadline = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${echoed} of ${n} echoes after ${WAIT_MS} ms (${ending ?? 'open'})`));
        }, WAIT_MS);
        waiters.add(check);
        check();
      });
    },
    stop(): void {
      clearInterval(timer);
    },
  };
}

/** Sums the counts of every `link handshakes dropped` line so far. */
function summarized(lines: readonly Record<string, unknown>[]): number {
  return lines
    .filter((l) => l.msg === 'link handshakes dropped')
    .reduce((n, l) => n + Object.values(l.counts as Record<string, number>).reduce((a, b) => a + b, 0), 0);
}

test('a flood of silent connections cannot keep an agent from resuming; the relay logs it in a few lines', async (t) => {
  t.timeout(120_000);
  const env = new TestEnv(t);
  const T0 = Date.now();
  const mark = (what: string) => t.log(`${Date.now() - T0} ms: ${what}`);
  const echoPort = await startEchoServer(env);
  const token = randomBytes(16).toString('hex');
  const pair = await startPair(env, {
    mappings: [{ name: 'echo', localPort: echoPort }],
    proxy: true,
    relay: { admin: { port: await freePort(), token } },
  });
  const { relay, agent } = pair;
  const proxy = pair.proxy!;
  const visitor = pinger(await connectVisitor(env, pair.ports.echo!));
  t.teardown(() => visitor.stop());
  await visitor.until(3);
  const linesBefore = relay.proc.logs.length;

  mark('pair up');
  const attack = flood(env, relay.port);
  // Let the flood fill the table (64 slots at about 60 new connections a second), then cut the link.
  await waitUntil(() => attack.opened() >= 120, 'the flood to get going');
  const cutAt = Date.now();
  const openedAtCut = attack.opened();
  proxy.reset();
  await waitForNth(agent.proc, { msg: 'session resumed' }, 1);
  const resumedAt = Date.now();
  const echoesAtResume = visitor.echoed;
  await visitor.until(echoesAtResume + 3);
  const floodEndedAt = await attack.done;
  t.log(
    `link cut after ${openedAtCut} flood connections; resumed ${resumedAt - cutAt} ms later; ` +
      `flood ended ${floodEndedAt - resumedAt} ms after the resume`,
  );
  // The resume happened while the flood still ran (before the fix the agent was locked out until after it).
  t.true(resumedAt < floodEndedAt, notableLogs(relay.proc, agent.proc));

  // One session throughout, resumed, never re-established; the visitor's connection never broke.
  t.is(agent.proc.logs.filter((l) => l.msg === 'session established').length, 1);
  t.is(visitor.ending, undefined);
  visitor.stop();
  await visitor.until(visitor.sent);

  // The relay dropped every flood connection (silent ones at the latest by the 3 s first-message deadline).
  await waitUntil(() => attack.closedByRelay() === FLOOD_CONNECTIONS, 'the relay to close the flood');
  mark('flood closed');
  t.true(attack.toldBusy() > 0, 'connections dropped to make room were told busy');
  // Every one is in an aggregated line within one interval (10 s) of its end.
  await waitUntil(() => summarized(relay.proc.logs) >= FLOOD_CONNECTIONS, 'the summary lines');
  mark('summaries');
  const during = relay.proc.logs.slice(linesBefore);
  const bytes = during.reduce((n, l) => n + JSON.stringify(l).length + 1, 0);
  t.log(
    `relay log during the flood: ${during.length} lines, ${bytes} bytes ` +
      `(${(bytes / FLOOD_CONNECTIONS).toFixed(1)} bytes per flood connection)`,
  );
  t.true(during.length <= MAX_RELAY_LINES, during.map((l) => JSON.stringify(l)).join('\n'));
  const summaries = during.filter((l) => l.msg === 'link handshakes dropped');
  t.true(summaries.length >= 1 && summaries.length <= 4, `${summaries.length} summary lines`);
  const tops = summaries.flatMap((l) => (l.top as Array<{ source: string }>).map((x) => x.source));
  t.true(tops.includes('127.0.0.1'), tops.join(' '));

  // The counters tell the same story in the status snapshot.
  const json = await env.run(['status', '--profile', relay.profilePath, '--json']);
  mark('status');
  t.is(json.exit?.code, 0, json.stderr);
  const status = JSON.parse(json.otherLines.join('\n')) as RelayStatus;
  const h = status.handshakes as HandshakeStatus;
  t.log(JSON.stringify(h));
  t.true(h.evictedTotal + h.evictedSource > 0, 'the table was under pressure');
  t.true(h.evictedSource > 0, 'the agent’s own address was at its cap');
  t.true(h.evictedTotal + h.evictedSource + h.firstMessageTimeouts >= FLOOD_CONNECTIONS);
  t.true(h.established >= 2);
  t.is(h.pending, 0);
  t.is(status.sessions.length, 1);
  t.true(status.sessions[0]!.resumes >= 1);
  t.is(status.sessions[0]!.state, 'attached');
});

/** Waits (polling) until `cond()` holds, at most WAIT_MS. */
async function waitUntil(cond: () => boolean, what: string): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > WAIT_MS) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
