// Request/reply and one-way commands over an in-memory pair: replies, errors, concurrency, serial, hooks.
import test from 'ava';
import { z } from 'zod';
import { XnatError } from '../../src/errors.ts';
import { deferred, makePair, waitFor } from './pair.ts';

test('request/reply returns the handler value, with the payload parsed by the schema', async (t) => {
  const { a, rb } = makePair();
  rb.register('add', {
    kind: 'request',
    schema: z.object({ x: z.number(), y: z.number() }),
    handler: ({ x, y }, ctx) => ({ sum: x + y, peer: ctx.peer, name: ctx.name }),
  });
  t.deepEqual(await a.request('add', { x: 2, y: 3 }), { sum: 5, peer: 'a', name: 'add' });
});

test('one-way reaches its handler and sends no reply', async (t) => {
  const { a, b, rb } = makePair();
  const got: string[] = [];
  rb.register('note', {
    kind: 'oneway',
    schema: z.object({ text: z.string() }),
    handler: (p) => void got.push(p.text),
  });
  a.send('note', { text: 'one' });
  a.send('note', { text: 'two' });
  await waitFor(() => got.length === 2);
  t.deepEqual(got, ['one', 'two']);
  t.is(b.snapshot().messagesOut, 0);
});

test('errors come back typed: unknown, invalid (zod path), denied, XnatError and plain Error', async (t) => {
  const { a, rb } = makePair({ b: { allow: (_peer, name) => name !== 'secret' } });
  rb.register('strict', {
    kind: 'request',
    schema: z.object({ port: z.number().int().max(65535) }),
    handler: () => 1,
  });
  rb.register('secret', { kind: 'request', schema: z.unknown(), handler: () => 1 });
  rb.register('xfail', {
    kind: 'request',
    schema: z.unknown(),
    handler: () => {
      throw new XnatError('XNAT_ERR_PROTOCOL_VERSION', { detail: 'got 9' });
    },
  });
  rb.register('crash', {
    kind: 'request',
    schema: z.unknown(),
    handler: async () => {
      throw new Error('password=hunter2');
    },
  });
  const unknown = await t.throwsAsync(a.request('nope', {}));
  t.is((unknown as XnatError).code, 'XNAT_ERR_COMMAND_UNKNOWN');
  const invalid = await t.throwsAsync(a.request('strict', { port: 70000 }));
  t.is((invalid as XnatError).code, 'XNAT_ERR_COMMAND_INVALID');
  t.is((invalid as XnatError).detail, 'port');
  const denied = await t.throwsAsync(a.request('secret', {}));
  t.is((denied as XnatError).code, 'XNAT_ERR_COMMAND_DENIED');
  const xfail = await t.throwsAsync(a.request('xfail', {}));
  t.is((xfail as XnatError).code, 'XNAT_ERR_PROTOCOL_VERSION');
  t.true(xfail!.message.includes('got 9'));
  const crash = await t.throwsAsync(a.request('crash', {}));
  t.is((crash as XnatError).code, 'XNAT_ERR_COMMAND_HANDLER_FAILED');
  t.false(crash!.message.includes('hunter2'));
  // The channel is still up.
  t.is(await a.request('strict', { port: 80 }), 1);
  const s = a.snapshot().commands;
  t.is(s.strict?.callsOut, 2);
  t.is(s.strict?.errorsOut, 1);
});

test('a wrong kind is refused with XNAT_ERR_COMMAND_KIND', async (t) => {
  const { a, rb } = makePair();
  rb.register('blob', { kind: 'buffer', schema: z.unknown(), handler: () => 1 });
  const e = await t.throwsAsync(a.request('blob', {}));
  t.is((e as XnatError).code, 'XNAT_ERR_COMMAND_KIND');
});

test('many calls in flight both ways, replies out of order', async (t) => {
  const { a, b, ra, rb } = makePair();
  const gates = new Map<number, ReturnType<typeof deferred<void>>>();
  const handler = async ({ n }: { n: number }) => {
    const d = deferred();
    gates.set(n, d);
    await d.promise;
    return n * 10;
  };
  ra.register('slow', { kind: 'request', schema: z.object({ n: z.number() }), handler });
  rb.register('slow', { kind: 'request', schema: z.object({ n: z.number() }), handler });
  const order: number[] = [];
  const calls = [];
  for (let i = 0; i < 20; i++) {
    const ep = i % 2 === 0 ? a : b;
    calls.push(ep.request<number>('slow', { n: i }).then((v) => (order.push(i), v)));
  }
  await waitFor(() => gates.size === 20);
  // Release in reverse order: replies arrive in that order, each to its own caller.
  for (let i = 19; i >= 0; i--) {
    gates.get(i)!.resolve();
    await waitFor(() => order.length === 20 - i);
  }
  t.deepEqual(
    await Promise.all(calls),
    Array.from({ length: 20 }, (_, i) => i * 10),
  );
  t.deepEqual(
    order,
    Array.from({ length: 20 }, (_, i) => 19 - i),
  );
});

test('a serial command runs one invocation at a time, in arrival order', async (t) => {
  const { a, rb } = makePair();
  let running = 0;
  let maxRunning = 0;
  const seen: number[] = [];
  rb.register('ser', {
    kind: 'request',
    schema: z.number(),
    options: { serial: true },
    handler: async (n) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((r) => setImmediate(r));
      seen.push(n);
      running--;
      return n;
    },
  });
  rb.register('free', { kind: 'request', schema: z.unknown(), handler: () => 'free' });
  const calls = [1, 2, 3, 4, 5].map((n) => a.request('ser', n));
  t.is(await a.request('free', null), 'free');
  await Promise.all(calls);
  t.is(maxRunning, 1);
  t.deepEqual(seen, [1, 2, 3, 4, 5]);
});

test('allow hook sees the peer; a throwing hook denies', async (t) => {
  const seen: unknown[] = [];
  const { a, rb } = makePair({
    b: {
      peer: { agent: 'pi' },
      allow: (peer, name) => {
        seen.push(peer);
        if (name === 'boom') throw new Error('hook bug');
        return true;
      },
    },
  });
  rb.register('ok', { kind: 'request', schema: z.unknown(), handler: () => true });
  rb.register('boom', { kind: 'request', schema: z.unknown(), handler: () => true });
  t.true(await a.request('ok', null));
  const e = await t.throwsAsync(a.request('boom', null));
  t.is((e as XnatError).code, 'XNAT_ERR_COMMAND_DENIED');
  t.deepEqual(seen[0], { agent: 'pi' });
});

test('counters: calls, errors, bytes and latency per command', async (t) => {
  const { a, b, rb } = makePair();
  rb.register('echo', { kind: 'request', schema: z.string(), handler: (s) => s });
  for (let i = 0; i < 3; i++) await a.request('echo', 'x'.repeat(100));
  await t.throwsAsync(a.request('echo', 5));
  const sa = a.snapshot().commands.echo!;
  t.is(sa.callsOut, 4);
  t.is(sa.errorsOut, 1);
  t.true(sa.bytesOut > 300 && sa.bytesIn > 300);
  t.is(sa.latencyCount, 4);
  t.true(sa.latencyMsMax >= 0 && sa.latencyMsSum >= sa.latencyMsMax);
  const sb = b.snapshot().commands.echo!;
  t.is(sb.callsIn, 4);
  t.is(sb.errorsIn, 1);
  t.deepEqual(JSON.parse(JSON.stringify(a.snapshot())), a.snapshot());
});

test('a reply that fails its reply schema becomes XNAT_ERR_COMMAND_REPLY_INVALID', async (t) => {
  const { a, rb } = makePair();
  rb.register('bad', {
    kind: 'request',
    schema: z.unknown(),
    reply: z.object({ ok: z.boolean() }),
    handler: () => ({ ok: 'yes' }) as never,
  });
  const e = await t.throwsAsync(a.request('bad', null));
  t.is((e as XnatError).code, 'XNAT_ERR_COMMAND_REPLY_INVALID');
  t.is((e as XnatError).detail, 'ok');
});
