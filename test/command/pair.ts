// Test helpers: two endpoints over an in-memory channel pair, and waiting on a condition with a deadline.
import { CommandEndpoint } from '../../src/command/endpoint.ts';
import type { CommandEndpointOptions } from '../../src/command/endpoint.ts';
import { createMemoryChannelPair } from '../../src/command/memory-channel.ts';
import type { MemoryChannel, MemoryChannelOptions } from '../../src/command/memory-channel.ts';
import { createRegistry } from '../../src/command/registry.ts';
import type { CommandRegistry } from '../../src/command/registry.ts';

export interface Pair {
  a: CommandEndpoint;
  b: CommandEndpoint;
  ra: CommandRegistry;
  rb: CommandRegistry;
  ca: MemoryChannel;
  cb: MemoryChannel;
}

export function makePair(
  opts: {
    a?: Partial<CommandEndpointOptions>;
    b?: Partial<CommandEndpointOptions>;
    channel?: MemoryChannelOptions;
  } = {},
): Pair {
  const [ca, cb] = createMemoryChannelPair(opts.channel);
  const ra = createRegistry();
  const rb = createRegistry();
  const a = new CommandEndpoint(ca, { registry: ra, peer: 'b', ...opts.a });
  const b = new CommandEndpoint(cb, { registry: rb, peer: 'a', ...opts.b });
  return { a, b, ra, rb, ca, cb };
}

/** Resolves once `cond()` is true; rejects after `ms` of real time (a deadline, not a sleep). */
export async function waitFor(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** A deferred promise, for handlers that answer when the test says so. */
export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
} {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
