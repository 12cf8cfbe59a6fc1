// The application's own commands through the public API: every kind in both directions, calls in flight
// across a link reset (fault proxy) that complete on the resumed session, and timeouts, cancellation,
// delayed replies and the app. prefix rules.
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { isXnatError } from '../../src/api/index.ts';
import { WAIT_MS, nextEvent, startEmbedded, type EmbedStack } from './embed-stack.ts';
import { waitFor } from '../helpers/procs.ts';
import { buildMetricsRegistry } from '../../src/admin/metrics.ts';

const MAPPINGS = [{ name: 'web', remotePort: 0, handler: 'web' }];
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function ready(stack: EmbedStack): Promise<void> {
  await stack.port('web');
}

/** Resets the link and waits until both sides resumed the same session. */
async function cutAndResume(stack: EmbedStack): Promise<void> {
  const sessionBefore = stack.agent.status().relays[0]!.session!.id;
  const resumed = nextEvent(stack.agent, 'session.resumed');
  const relayResumed = nextEvent(stack.relay, 'session.resumed');
  stack.proxy!.reset();
  const e = await resumed;
  await relayResumed;
  if (e.session !== sessionBefore) throw new Error('a new session, not a resumed one');
}

function codeOf(err: unknown): string | undefined {
  return isXnatError(err) ? err.code : undefined;
}

test('request/reply (agent -> relay) in flight across a link reset: the delayed reply arrives', async (t) => {
  let started!: () => void;
  const handlerStarted = new Promise<void>((r) => (started = r));
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const stack = await startEmbedded({
    mappings: MAPPINGS,
    proxy: true,
    before: (relay) =>
      relay.commands.register('app.sum', {
        kind: 'request',
        schema: z.object({ values: z.array(z.number()).max(1000) }),
        reply: z.object({ sum: z.number() }),
        handler: async (req, ctx) => {
          started();
          await released;
          return { sum: req.values.reduce((a, b) => a + b, 0), from: ctx.name } as { sum: number };
        },
      }),
  });
  t.teardown(() => stack.close());
  await ready(stack);
  const call = stack.agent
    .relay()
    .request<{ sum: number }>('app.sum', { values: [1, 2, 3, 4] }, { timeoutMs: WAIT_MS });
  await handlerStarted;
  await cutAndResume(stack);
  release();
  t.is((await call).sum, 10);
});

test('one-way (relay -> agent) sent across a link reset: each arrives exactly once, in order', async (t) => {
  const got: number[] = [];
  const stack = await startEmbedded({
    mappings: MAPPINGS,
    proxy: true,
    before: (_relay, agent) =>
      agent.commands.register('app.tick', {
        kind: 'oneway',
        schema: z.object({ n: z.number().int() }),
        handler: (req) => void got.push(req.n),
      }),
  });
  t.teardown(() => stack.close());
  await ready(stack);
  const peer = stack.relay.agent('app');
  for (let n = 0; n < 50; n++) peer.send('app.tick', { n });
  const resumed = cutAndResume(stack);
  // Sent while the link is being cut and replaced: the session carries them over.
  for (let n = 50; n < 100; n++) peer.send('app.tick', { n });
  await resumed;
  await waitFor(() => got.length >= 100, WAIT_MS, '100 one-way commands');
  t.deepEqual(got, [...Array(100).keys()]);
});

test('buffer (agent -> relay) cut mid-transfer completes with the same bytes; progress reaches the total', async (t) => {
  const stack = await startEmbedded({
    mappings: MAPPINGS,
    proxy: true,
    before: (relay) =>
      relay.commands.register('app.photo', {
        kind: 'buffer',
        schema: z.object({ name: z.string() }),
        handler: (data, meta) => ({ name: meta.name, bytes: data.length, sha256: sha(data) }),
      }),
  });
  t.teardown(() => stack.close());
  await ready(stack);
  const data = randomBytes(4 * 1024 * 1024);
  stack.proxy!.throttle(2 * 1024 * 1024);
  let cut: Promise<void> | undefined;
  let last = 0;
  const reply = await stack.agent.relay().sendBuffer<{ bytes: number; sha256: string }>(
    'app.photo',
    data,
    { name: 'cat.jpg' },
    {
      timeoutMs: WAIT_MS,
      onProgress: (sent) => {
        t.true(sent >= last, 'progress never goes back');
        last = sent;
        if (!cut && sent >= 1024 * 1024) cut = cutAndResume(stack).then(() => stack.proxy!.heal());
      },
    },
  );
  t.truthy(cut, 'the link was cut during the transfer');
  await cut;
  t.is(reply.bytes, data.length);
  t.is(reply.sha256, sha(data));
  t.is(last, data.length);
});

test('stream transfer (relay -> agent) cut mid-transfer completes, checked, with progress on both ends', async (t) => {
  const data = randomBytes(8 * 1024 * 1024);
  let cut: Promise<void> | undefined;
  let receivedMax = 0;
  const stack: EmbedStack = await startEmbedded({
    mappings: MAPPINGS,
    proxy: true,
    before: (_relay, agent) =>
      agent.commands.register('app.firmware', {
        kind: 'stream',
        schema: z.object({ version: z.string() }),
        handler: async (source, meta, ctx) => {
          ctx.onProgress = (received) => {
            receivedMax = Math.max(receivedMax, received);
            if (!cut && received >= 2 * 1024 * 1024) cut = cutAndResume(stack);
          };
          const h = createHash('sha256');
          for await (const chunk of source) h.update(chunk as Buffer);
          return { version: meta.version, sha256: h.digest('hex'), size: ctx.size };
        },
      }),
  });
  t.teardown(() => stack.close());
  await ready(stack);
  let sent = 0;
  const reply = await stack.relay
    .agent('app')
    .sendStream<{ sha256: string; size: number }>(
      'app.firmware',
      Readable.from([data.subarray(0, 3_000_000), data.subarray(3_000_000)]),
      { meta: { version: '1.2.3' }, size: data.length, timeoutMs: WAIT_MS, onProgress: (n) => (sent = n) },
    );
  t.truthy(cut, 'the link was cut during the transfer');
  await cut;
  t.is(reply.sha256, sha(data));
  t.is(reply.size, data.length);
  t.is(sent, data.length);
  t.is(receivedMax, data.length);
});

test('timeouts, cancellation, delayed replies out of order, and the app. prefix', async (t) => {
  const aborted: string[] = [];
  let shadowRefused: string | undefined;
  const stack = await startEmbedded({
    mappings: MAPPINGS,
    before: (relay) => {
      relay.commands.register('app.wait', {
        kind: 'request',
        schema: z.object({ ms: z.number().int().min(0).max(60_000), tag: z.string() }),
        handler: (req, ctx) =>
          new Promise((resolve) => {
            const onAbort = (): void => {
              clearTimeout(timer);
              aborted.push(req.tag);
              resolve({ tag: 'never seen' });
            };
            const timer = setTimeout(() => resolve({ tag: req.tag }), req.ms);
            // A cancel read together with its request (one record, one socket read) aborts the signal
            // before the handler runs: a handler checks it first.
            if (ctx.signal.aborted) return onAbort();
            ctx.signal.addEventListener('abort', onAbort);
          }),
      });
      try {
        relay.commands.register('hello', { kind: 'oneway', schema: z.object({}), handler: () => {} });
      } catch (err) {
        shadowRefused = codeOf(err);
      }
    },
  });
  t.teardown(() => stack.close());
  t.is(shadowRefused, 'XNAT_ERR_COMMAND_APP_NAME', "xnat's own names cannot be registered");
  await ready(stack);
  const peer = stack.agent.relay();
  // A slow call does not hold a fast one back: replies come as handlers finish.
  const order: string[] = [];
  const slow = peer
    .request<{ tag: string }>('app.wait', { ms: 1500, tag: 'slow' })
    .then((r) => order.push(r.tag));
  const fast = peer
    .request<{ tag: string }>('app.wait', { ms: 0, tag: 'fast' })
    .then((r) => order.push(r.tag));
  await Promise.all([slow, fast]);
  t.deepEqual(order, ['fast', 'slow']);

  const timedOut = await peer
    .request('app.wait', { ms: 60_000, tag: 'late' }, { timeoutMs: 200 })
    .catch(codeOf);
  t.is(timedOut, 'XNAT_ERR_TIMEOUT');
  const ac = new AbortController();
  const cancelled = peer
    .request('app.wait', { ms: 60_000, tag: 'cancelled' }, { signal: ac.signal })
    .catch(codeOf);
  setImmediate(() => ac.abort());
  t.is(await cancelled, 'XNAT_ERR_ABORTED');
  await waitFor(
    () => aborted.includes('late') && aborted.includes('cancelled'),
    WAIT_MS,
    'handler signals aborted',
  );

  t.is(await peer.request('app.wait', { ms: 'soon', tag: 'x' }).catch(codeOf), 'XNAT_ERR_COMMAND_INVALID');
  t.is(await peer.request('app.nothing', {}).catch(codeOf), 'XNAT_ERR_COMMAND_UNKNOWN');
  t.is(await peer.request('hello', {}).catch(codeOf), 'XNAT_ERR_COMMAND_APP_NAME');
  t.is(
    await stack.relay.agent('nobody').request('app.wait', {}).catch(codeOf),
    'XNAT_ERR_COMMAND_NO_SESSION',
  );

  // Per-command counters in status (both sides) and in the relay's metrics.
  const relaySide = stack.relay.status().sessions[0]!.commands!['app.wait']!;
  t.is(relaySide.callsIn, 5);
  t.true(relaySide.errorsIn >= 1, 'the invalid payload was refused');
  const agentSide = stack.agent.status().relays[0]!.session!.commands!['app.wait']!;
  t.is(agentSide.callsOut, 5);
  t.true(agentSide.errorsOut >= 3, 'timeout, abort and invalid failed');
  t.true(agentSide.latencyMsMax >= 1000, 'the slow call took its time');
  const metrics = await buildMetricsRegistry(() => stack.relay.status()).metrics();
  t.regex(metrics, /xnat_command_calls_total\{agent="app",command="app.wait",direction="in"\} 5/);
});
