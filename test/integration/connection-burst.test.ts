// A burst of 1 000 visitors opened at once through one tcp mapping of real relay and agent processes: every
// one is served (its own bytes echoed back, then a clean end), none is reset or left hanging.
import test from 'ava';
import net from 'node:net';
import { TestEnv } from '../e2e/lib/env.ts';
import { killAll } from '../helpers/procs.ts';
import { admin, relayStatus, startHome } from './udp-stack.ts';

test.after.always(() => killAll());

const VISITORS = 1000;

/** An echo service on 127.0.0.1 that ends its side when the visitor does. */
async function startEcho(env: TestEnv): Promise<number> {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, resolve));
  env.onDispose(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

/** One visitor: sends its token, half-closes, and says how it ended: 'ok' only for its own bytes and a FIN. */
function visit(port: number, token: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true, noDelay: true });
    let got = '';
    let outcome: string | undefined;
    const timer = setTimeout(() => {
      outcome ??= 'timeout';
      s.destroy();
    }, 60_000);
    s.setEncoding('utf8');
    s.once('connect', () => s.end(token));
    s.on('data', (d: string) => (got += d));
    s.on('end', () => (outcome ??= got === token ? 'ok' : `wrong bytes (${got.length})`));
    s.on('error', (err: NodeJS.ErrnoException) => (outcome ??= err.code ?? 'error'));
    s.once('close', () => {
      clearTimeout(timer);
      resolve(outcome ?? 'closed without an end');
    });
  });
}

test('1 000 visitors at once through one mapping: all served, none reset', async (t) => {
  t.timeout(180_000);
  const env = new TestEnv(t);
  const echoPort = await startEcho(env);
  const { relay, agent } = await startHome(env, [{ name: 'burst', protocol: 'tcp', localPort: echoPort }]);
  const port = agent.ports.burst!;
  const began = Date.now();
  const outcomes = await Promise.all(
    Array.from({ length: VISITORS }, (_, i) => visit(port, `visitor-${i}-${'x'.repeat(i % 50)}`)),
  );
  t.log(`${VISITORS} visitors served in ${Date.now() - began} ms`);
  const tally = new Map<string, number>();
  for (const o of outcomes) tally.set(o, (tally.get(o) ?? 0) + 1);
  t.deepEqual(Object.fromEntries(tally), { ok: VISITORS });
  // The relay refused none of them (no share, cap or policy refusal) and holds no stream afterwards.
  const client = await admin(env, relay);
  const session = async () => (await relayStatus(client)).sessions[0]!;
  t.deepEqual((await session()).visitorsRefused, { share: 0, streamLimit: 0, idleTimeout: 0 });
  const started = Date.now();
  while ((await session()).streams.length > 0 && Date.now() - started < 10_000) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.is((await session()).streams.length, 0, 'no stream left open');
});
