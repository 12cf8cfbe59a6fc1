// dialTarget: a paused socket once connected, typed errors for refused and timed-out targets (fake clock),
// and a cancel that gives a pending dial up (ABORTED, the connecting socket destroyed), each reported once.
import test from 'ava';
import net from 'node:net';
import { dialTarget, type DialDone } from '../../src/forward/tcp-target.ts';
import { FakeClock } from '../../src/util/clock.ts';
import type { XnatError } from '../../src/errors.ts';

type Outcome = { err: XnatError | undefined; socket: net.Socket | undefined; calls: number };

function dial(
  port: number,
  opts: { clock?: FakeClock; host?: string } = {},
): {
  outcome: Promise<Outcome>;
  cancel: () => void;
} {
  let calls = 0;
  let resolve!: (o: Outcome) => void;
  const outcome = new Promise<Outcome>((r) => (resolve = r));
  const done: DialDone = (err, socket) => {
    calls++;
    // Later calls would show up in `calls` of the outcome seen after a turn.
    setImmediate(() => resolve({ err, socket, calls }));
  };
  const cancel = dialTarget(opts.host ?? '127.0.0.1', port, { clock: opts.clock }, done);
  return { outcome, cancel };
}

async function listen(): Promise<net.Server> {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.end('hello');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

test('a target that answers: a paused socket, no error, reported once', async (t) => {
  const server = await listen();
  const { outcome, cancel } = dial((server.address() as net.AddressInfo).port);
  const o = await outcome;
  t.is(o.err, undefined);
  t.truthy(o.socket);
  t.true(o.socket!.isPaused());
  cancel(); // after the end: nothing happens
  t.false(o.socket!.destroyed);
  t.is(o.calls, 1);
  o.socket!.destroy();
  server.close();
});

test('a refused target: XNAT_ERR_FORWARD_TARGET_REFUSED', async (t) => {
  const server = await listen();
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  const o = await dial(port).outcome;
  t.is(o.err?.code, 'XNAT_ERR_FORWARD_TARGET_REFUSED');
  t.is(o.socket, undefined);
  t.is(o.calls, 1);
});

test('cancel gives a pending dial up: XNAT_ERR_ABORTED once, even if the connect lands later', async (t) => {
  const server = await listen();
  let accepted = 0;
  server.on('connection', () => accepted++);
  const { outcome, cancel } = dial((server.address() as net.AddressInfo).port);
  cancel();
  cancel();
  const o = await outcome;
  t.is(o.err?.code, 'XNAT_ERR_ABORTED');
  t.is(o.socket, undefined);
  t.is(o.calls, 1);
  await new Promise((r) => setTimeout(r, 50));
  t.is(o.calls, 1);
  server.close();
  t.true(accepted <= 1);
});

test('a silent target times out on the clock: XNAT_ERR_FORWARD_TARGET_UNREACHABLE', async (t) => {
  const clock = new FakeClock();
  // 192.0.2.1 (TEST-NET-1) is never routed: the connect hangs (or fails at once without a route).
  const { outcome } = dial(9, { clock, host: '192.0.2.1' });
  clock.advance(5_000);
  const o = await outcome;
  t.is(o.err?.code, 'XNAT_ERR_FORWARD_TARGET_UNREACHABLE');
  t.is(o.calls, 1);
  t.is(clock.pending, 0, 'no timer left behind');
});
