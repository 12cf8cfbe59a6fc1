// The command framework over a real session on loopback: concurrent calls both ways, a 256 MiB stream
// transfer with progress and hash, and calls in flight across a link cut completing after the resume.
import test from 'ava';
import { createCipheriv, createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { CommandEndpoint } from '../../src/command/endpoint.ts';
import { createRegistry, type CommandRegistry } from '../../src/command/registry.ts';
import { muxCommandChannel } from '../../src/command/channel.ts';
import { startStack, type Stack } from '../helpers/tunnel-stack.ts';

function registry(side: string): CommandRegistry {
  const r = createRegistry();
  r.register('echo', {
    kind: 'request',
    schema: z.object({ n: z.number(), delayMs: z.number() }),
    handler: async (p) => {
      await new Promise((res) => setTimeout(res, p.delayMs));
      return { n: p.n, side };
    },
  });
  r.register('upload', {
    kind: 'stream',
    schema: z.object({}),
    handler: async (source) => {
      const h = createHash('sha256');
      let bytes = 0;
      for await (const chunk of source) {
        h.update(chunk as Buffer);
        bytes += (chunk as Buffer).length;
      }
      return { bytes, sha256: h.digest('hex') };
    },
  });
  return r;
}

function endpoints(stack: Stack) {
  const relay = new CommandEndpoint(muxCommandChannel(stack.relayMux), { registry: registry('relay') });
  const agent = new CommandEndpoint(muxCommandChannel(stack.agentMux), { registry: registry('agent') });
  return { relay, agent };
}

/** A Readable of `size` deterministic bytes (ChaCha20 keystream), never held in memory at once. */
function seeded(size: number, seed: string): { source: Readable; sha256: Promise<string> } {
  const cipher = createCipheriv('chacha20', createHash('sha256').update(seed).digest(), Buffer.alloc(16));
  const h = createHash('sha256');
  let left = size;
  let done!: (s: string) => void;
  const sha256 = new Promise<string>((r) => (done = r));
  const source = new Readable({
    read() {
      if (left === 0) {
        done(h.digest('hex'));
        this.push(null);
        return;
      }
      const n = Math.min(256 * 1024, left);
      left -= n;
      const chunk = cipher.update(Buffer.alloc(n));
      h.update(chunk);
      this.push(chunk);
    },
  });
  return { source, sha256 };
}

test('concurrent requests in both directions complete out of order over a real session', async (t) => {
  const stack = await startStack();
  t.teardown(() => stack.close());
  const { relay, agent } = endpoints(stack);
  const calls = [];
  for (let i = 0; i < 50; i++) {
    calls.push(relay.request('echo', { n: i, delayMs: (50 - i) % 7 }));
    calls.push(agent.request('echo', { n: i, delayMs: i % 5 }));
  }
  const replies = (await Promise.all(calls)) as Array<{ n: number; side: string }>;
  t.is(replies.filter((r) => r.side === 'agent').length, 50);
  t.deepEqual(
    replies.filter((r) => r.side === 'relay').map((r) => r.n),
    [...Array(50).keys()],
  );
});

test('a 256 MiB stream transfer over a real session arrives whole, with progress on both sides', async (t) => {
  t.timeout(120_000);
  const stack = await startStack();
  t.teardown(() => stack.close());
  const { agent } = endpoints(stack);
  const size = 256 * 1024 * 1024;
  const { source, sha256 } = seeded(size, 'big');
  let lastProgress = 0;
  const reply = (await agent.sendStream('upload', source, {
    meta: {},
    size,
    onProgress: (sent) => (lastProgress = sent),
  })) as { bytes: number; sha256: string };
  t.is(reply.bytes, size);
  t.is(reply.sha256, await sha256);
  t.is(lastProgress, size);
});

test('calls in flight when the link is cut complete after the session resumes', async (t) => {
  t.timeout(60_000);
  const stack = await startStack();
  t.teardown(() => stack.close());
  const { relay, agent } = endpoints(stack);
  // Handlers reply after 300 ms; the link is reset meanwhile, so requests and/or replies cross the cut.
  const calls = [...Array(20).keys()].flatMap((i) => [
    relay.request('echo', { n: i, delayMs: 300 }),
    agent.request('echo', { n: i, delayMs: 300 }),
  ]);
  const resumed = stack.nextAttach();
  stack.proxy.connections.at(-1)!.reset();
  await resumed;
  const replies = (await Promise.all(calls)) as Array<{ n: number }>;
  t.is(replies.length, 40);
  t.true(stack.relaySession.stats.resumes >= 1);
});
