// Test harness for the session layer: a relay SessionServer and an agent SessionClient joined by memory links,
// a raw peer that speaks frames by hand, and condition waits with deadlines. Not a test file itself.
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { SessionClient, type SessionClientOptions } from '../../src/session/session-client.ts';
import { SessionServer, type SessionServerOptions } from '../../src/session/session-server.ts';
import type { Session } from '../../src/session/session.ts';
import { encodeFrame } from '../../src/wire/codec.ts';
import { FrameType, type Frame } from '../../src/wire/frame.ts';
import {
  createMemoryLinkPair,
  type MemoryLink,
  type MemoryLinkOptions,
  type MemoryLinkPair,
} from '../helpers/memory-link.ts';

/** Polls `cond` until true; rejects with `what` after `timeoutMs` (real time, a deadline, not a sleep). */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Lets pending setImmediate work (memory link deliveries) run a few rounds. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/** Resolves with the first argument of the next `event`. */
export function next<T = unknown>(emitter: EventEmitter, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, (arg: T) => resolve(arg)));
}

export interface Harness {
  readonly server: SessionServer;
  readonly client: SessionClient;
  readonly agentKey: Buffer;
  readonly relayKey: Buffer;
  /** Every pair dialed so far, oldest first. */
  readonly pairs: MemoryLinkPair[];
  /** Relay-side sessions in the order they were announced. */
  readonly relaySessions: Session[];
  /** Agent-side sessions in the order they were announced. */
  readonly agentSessions: Session[];
  /** While set, dial() waits for it (holds the agent offline). */
  gate: Promise<void> | undefined;
  /** When set, dial() rejects with it. */
  dialError: Error | undefined;
  dials: number;
  last(): MemoryLinkPair;
  close(): void;
}

export function createHarness(
  opts: {
    server?: SessionServerOptions;
    client?: Partial<SessionClientOptions>;
    link?: MemoryLinkOptions;
    agentKey?: Buffer;
    server0?: SessionServer;
  } = {},
): Harness {
  const agentKey = opts.agentKey ?? randomBytes(32);
  const relayKey = randomBytes(32);
  const server = opts.server0 ?? new SessionServer(opts.server);
  // The real clock's timers are unref'd (as in production, where sockets hold the loop); memory links
  // hold nothing, so keep the loop alive while the harness lives.
  const keepAlive = setInterval(() => {}, 1000);
  const h: Harness = {
    server,
    agentKey,
    relayKey,
    pairs: [],
    relaySessions: [],
    agentSessions: [],
    gate: undefined,
    dialError: undefined,
    dials: 0,
    client: undefined as unknown as SessionClient,
    last: () => h.pairs[h.pairs.length - 1]!,
    close: () => {
      clearInterval(keepAlive);
      h.client.close();
      if (!opts.server0) server.close();
    },
  };
  server.on('session', (s: Session) => {
    if (s.agentKey.equals(agentKey)) h.relaySessions.push(s);
  });
  const client = new SessionClient({
    backoff: { initialMs: 1, maxMs: 5 },
    ...opts.client,
    agentKey,
    dial: async () => {
      h.dials++;
      while (h.gate) await h.gate;
      if (h.dialError) throw h.dialError;
      const pair = createMemoryLinkPair({ ...opts.link, agentKey, relayKey });
      h.pairs.push(pair);
      server.attachLink(pair.relay);
      return pair.agent;
    },
  });
  client.on('session', (s: Session) => h.agentSessions.push(s));
  (h as { client: SessionClient }).client = client;
  return h;
}

/** A hand-driven agent end of a memory link: sends frames as given, records frames received. */
export class RawPeer {
  readonly frames: Frame[] = [];
  readonly link: MemoryLink;
  closeError: unknown;
  closed = false;
  constructor(readonly pair: MemoryLinkPair) {
    this.link = pair.agent;
    this.link.on('frame', (f: Frame) => this.frames.push(f));
    this.link.on('close', (err: unknown) => {
      this.closed = true;
      this.closeError = err;
    });
  }

  send(frame: Frame): void {
    this.link.write(encodeFrame(frame));
  }

  sendRaw(bytes: Buffer): void {
    this.link.write(bytes);
  }

  async frame(type: number, what = `frame type ${type}`): Promise<Frame> {
    await waitFor(() => this.frames.some((f) => f.type === type), what);
    return this.frames.find((f) => f.type === type)!;
  }
}

/** Connects a RawPeer with `agentKey` to `server`. */
export function rawPeer(server: SessionServer, agentKey: Buffer, link: MemoryLinkOptions = {}): RawPeer {
  const pair = createMemoryLinkPair({ ...link, agentKey });
  server.attachLink(pair.relay);
  return new RawPeer(pair);
}

/** A STREAM_DATA frame whose payload starts with a u32 index, for order checks. */
export function dataFrame(index: number, size: number, fill = randomBytes(Math.max(0, size - 4))): Frame {
  const data = Buffer.alloc(Math.max(4, size));
  data.writeUInt32BE(index, 0);
  fill.copy(data, 4);
  return { type: FrameType.STREAM_DATA, streamId: 1, data };
}
