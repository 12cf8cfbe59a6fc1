// Timeouts and cancellation with a fake clock, and what pending calls see when the channel closes.
import test from 'ava';
import { z } from 'zod';
import { XnatError } from '../../src/errors.ts';
import { FakeClock } from '../../src/util/clock.ts';
import { deferred, makePair, waitFor } from './pair.ts';

test('a call times out after timeoutMs on the fake clock; the peer handler sees its signal abort', async (t) => {
  const clock = new FakeClock();
  const { a, b, rb } = makePair({ a: { clock, defaultTimeoutMs: 1000 } });
  let aborted: unknown;
  let started = false;
  rb.register('hang', {
    kind: 'request',
    schema: z.unknown(),
    handler: (_p, ctx) =>
      new Promise((resolve) => {
        started = true;
        ctx.signal.addEventListener('abort', () => {
          aborted = ctx.signal.reason;
          resolve('late');
        });
      }),
  });
  rb.register('quick', { kind: 'request', schema: z.unknown(), handler: () => 'quick' });
  const call = a.request('hang', null);
  const custom = a.request('hang', null, { timeoutMs: 5000 });
  await waitFor(() => started);
  clock.advance(999);
  t.is(a.snapshot().pendingOut, 2);
  clock.advance(1);
  const e = await t.throwsAsync(call);
  t.is((e as XnatError).code, 'XNAT_ERR_TIMEOUT');
  await waitFor(() => aborted !== undefined, 5000, 'peer abort');
  t.is((aborted as XnatError).code, 'XNAT_ERR_ABORTED');
  t.is(a.snapshot().pendingOut, 1);
  // Other calls are unaffected.
  t.is(await a.request('quick', null), 'quick');
  clock.advance(4000);
  t.is(((await t.throwsAsync(custom)) as XnatError).code, 'XNAT_ERR_TIMEOUT');
  await waitFor(() => b.snapshot().running === 0);
  t.is(clock.pending, 0, 'no timer left behind');
});

test('abort signal fails the call with XNAT_ERR_ABORTED and cancels the peer handler', async (t) => {
  const { a, b, rb } = makePair();
  const gate = deferred<void>();
  let peerSignal: AbortSignal | undefined;
  rb.register('hang', {
    kind: 'request',
    schema: z.unknown(),
    handler: async (_p, ctx) => {
      peerSignal = ctx.signal;
      await gate.promise;
      return 'late';
    },
  });
  const ac = new AbortController();
  const call = a.request('hang', null, { signal: ac.signal });
  await waitFor(() => peerSignal !== undefined);
  ac.abort();
  t.is(((await t.throwsAsync(call)) as XnatError).code, 'XNAT_ERR_ABORTED');
  await waitFor(() => peerSignal!.aborted);
  gate.resolve();
  await waitFor(() => b.snapshot().running === 0);
  // The late result is not sent: nothing arrives at a for an unknown id.
  t.is(a.snapshot().unknownAnswers, 0);
  // An already aborted signal fails at once.
  t.is(
    ((await t.throwsAsync(a.request('hang', null, { signal: ac.signal }))) as XnatError).code,
    'XNAT_ERR_ABORTED',
  );
});

test('channel close fails every pending call with CHANNEL_CLOSED, or the close error code', async (t) => {
  const p1 = makePair();
  p1.rb.register('hang', {
    kind: 'request',
    schema: z.unknown(),
    handler: () => new Promise(() => undefined),
  });
  const calls = [p1.a.request('hang', 1), p1.a.request('hang', 2), p1.a.request('hang', 3)];
  await waitFor(() => p1.b.snapshot().running === 3);
  let closedWith: XnatError | undefined;
  p1.a.on('close', (e: XnatError) => (closedWith = e));
  p1.ca.close();
  for (const c of calls)
    t.is(((await t.throwsAsync(c)) as XnatError).code, 'XNAT_ERR_COMMAND_CHANNEL_CLOSED');
  t.is(closedWith?.code, 'XNAT_ERR_COMMAND_CHANNEL_CLOSED');
  t.true(p1.a.closed);
  t.is(((await t.throwsAsync(p1.a.request('hang', 4))) as XnatError).code, 'XNAT_ERR_COMMAND_CHANNEL_CLOSED');
  t.throws(() => p1.a.send('hang', 1), { code: 'XNAT_ERR_COMMAND_CHANNEL_CLOSED' } as never);
  // The peer's handlers are aborted too.
  await waitFor(() => p1.b.closed);

  const p2 = makePair();
  p2.rb.register('hang', {
    kind: 'request',
    schema: z.unknown(),
    handler: () => new Promise(() => undefined),
  });
  const call = p2.a.request('hang', null);
  p2.ca.close(new XnatError('XNAT_ERR_LINK_RESET'));
  t.is(((await t.throwsAsync(call)) as XnatError).code, 'XNAT_ERR_LINK_RESET');
});

test('endpoint close() is idempotent and fails pending calls with the given error', async (t) => {
  const { a, rb } = makePair();
  rb.register('hang', { kind: 'request', schema: z.unknown(), handler: () => new Promise(() => undefined) });
  const call = a.request('hang', null);
  a.close(new XnatError('XNAT_ERR_CLOSED'));
  a.close();
  t.is(((await t.throwsAsync(call)) as XnatError).code, 'XNAT_ERR_CLOSED');
});
