// Shared fixtures of the link tests: key sets, a relay on 127.0.0.1:0, a tap between two memory pairs,
// captured log lines and condition waits. Not a test file itself.
import { Writable, type Duplex } from 'node:stream';
import type net from 'node:net';
import { pino, type Logger } from 'pino';
import { generateKeyPair, type KeyPair } from '../../src/crypto/keys.ts';
import { LinkAcceptor, connectLink, type Link, type ResponderOptions } from '../../src/link/link.ts';
import type { LinkOptions } from '../../src/link/options.ts';
import { createDuplexPair } from '../../src/transport/memory-pair.ts';
import { dialTcp, listenTcp, type TcpListener } from '../../src/transport/tcp.ts';
import { REDACT_PATHS } from '../../src/observe/log.ts';
import type { XnatError } from '../../src/errors.ts';
import { encodeFrame } from '../../src/wire/codec.ts';
import { FrameType, MAX_FRAME_PAYLOAD, type Frame } from '../../src/wire/frame.ts';

export interface Keys {
  relay: KeyPair;
  agent: KeyPair;
}

export function makeKeys(): Keys {
  return { relay: generateKeyPair(), agent: generateKeyPair() };
}

/** Log lines captured as text (debug level, redaction as in production). */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = pino({ level: 'debug', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
  return { logger, lines };
}

/** Waits until `cond()` holds, polling; throws after `timeoutMs`. */
export async function waitFor(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resolves with the err of the link's 'close' event. */
export function closed(link: Link): Promise<XnatError | undefined> {
  return new Promise((resolve) => {
    if (link.closed) resolve(undefined);
    link.once('close', (err?: XnatError) => resolve(err));
  });
}

/** One STREAM_DATA frame of `data` (stream 1), encoded, as the session would write it to a link. */
export function dataFrame(data: Buffer): Buffer[] {
  return encodeFrame({ type: FrameType.STREAM_DATA, streamId: 1, data });
}

/** Writes `data` as STREAM_DATA frames of at most `max` bytes at once, ignoring backpressure. */
export function writeFrames(link: Link, data: Buffer, max = MAX_FRAME_PAYLOAD): boolean {
  let ok = true;
  for (let off = 0; off < data.length; off += max) ok = link.write(dataFrame(data.subarray(off, off + max)));
  return ok;
}

/** Resolves once `n` bytes of STREAM_DATA arrived on the link, with all of them. */
export function collect(link: Link, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onData = (f: Frame): void => {
      if (f.type !== FrameType.STREAM_DATA) return;
      parts.push(Buffer.from(f.data));
      got += f.data.length;
      if (got >= n) {
        link.off('frame', onData);
        resolve(Buffer.concat(parts));
      }
    };
    link.on('frame', onData);
    link.once('close', (err?: XnatError) => {
      if (got < n) reject(err ?? new Error('closed early'));
    });
  });
}

/** Writes `data` as STREAM_DATA frames of random sizes, honouring write() === false by waiting for 'drain'. */
export async function writeAll(link: Link, data: Buffer, maxChunk = MAX_FRAME_PAYLOAD): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const n = Math.min(data.length - off, 1 + Math.floor(Math.random() * maxChunk));
    const ok = link.write(dataFrame(data.subarray(off, off + n)));
    off += n;
    if (!ok) await new Promise<void>((r) => link.once('drain', r));
  }
}

/** A relay listening on 127.0.0.1:0 with a LinkAcceptor; every accept outcome is recorded. */
export interface TestRelay {
  listener: TcpListener;
  acceptor: LinkAcceptor;
  links: Link[];
  errors: XnatError[];
  close(): Promise<void>;
}

export async function startRelay(opts: ResponderOptions): Promise<TestRelay> {
  const acceptor = new LinkAcceptor(opts);
  const links: Link[] = [];
  const errors: XnatError[] = [];
  const listener = await listenTcp('127.0.0.1', 0, (s) => {
    acceptor.accept(s).then(
      (l) => links.push(l),
      (e: XnatError) => errors.push(e),
    );
  });
  return {
    listener,
    acceptor,
    links,
    errors,
    async close() {
      for (const l of links) l.destroy();
      await listener.close();
    },
  };
}

/** Dials the relay and runs the agent handshake. */
export async function dialAgent(
  relay: TestRelay,
  keys: Keys,
  extra: Partial<Parameters<typeof connectLink>[1]> = {},
): Promise<Link> {
  const socket = await dialTcp('127.0.0.1', relay.listener.port, { reuseReads: true });
  return connectLink(socket, { staticKeys: keys.agent, remoteStaticKey: keys.relay.publicKey, ...extra });
}

/** A raw TCP socket to the relay, for sending hand-made bytes. */
export function dialRaw(relay: TestRelay): Promise<net.Socket> {
  return dialTcp('127.0.0.1', relay.listener.port);
}

/**
 * Two memory pairs joined by a tap: agent <-> [a|tapA] ... [tapB|b] <-> relay. The test can mutate or
 * drop what flows agent -> relay (`toRelay`) and relay -> agent (`toAgent`), or inject bytes.
 */
export interface Tap {
  agentEnd: Duplex;
  relayEnd: Duplex;
  toRelay: (chunk: Buffer) => Buffer | undefined;
  toAgent: (chunk: Buffer) => Buffer | undefined;
  injectToRelay(bytes: Buffer): void;
  /** Everything the agent sent, in order. */
  fromAgent: Buffer[];
}

export function createTap(): Tap {
  const [agentEnd, tapA] = createDuplexPair();
  const [tapB, relayEnd] = createDuplexPair();
  const tap: Tap = {
    agentEnd,
    relayEnd,
    toRelay: (c) => c,
    toAgent: (c) => c,
    injectToRelay: (bytes) => tapB.write(bytes),
    fromAgent: [],
  };
  tapA.on('data', (c: Buffer) => {
    tap.fromAgent.push(Buffer.from(c));
    const out = tap.toRelay(c);
    if (out) tapB.write(out);
  });
  tapB.on('data', (c: Buffer) => {
    const out = tap.toAgent(c);
    if (out) tapA.write(out);
  });
  tapA.on('end', () => tapB.end());
  tapB.on('end', () => tapA.end());
  // A proxy whose one side fails closes the other, as a TCP relay in the middle would.
  tapA.on('close', () => !tapA.readableEnded && tapB.destroy());
  tapB.on('close', () => !tapB.readableEnded && tapA.destroy());
  tapA.on('error', () => {});
  tapB.on('error', () => {});
  return tap;
}

/** Establishes a link pair over a tap (memory only), with per-side options. */
export async function tapLinks(
  keys: Keys,
  agentOpts: LinkOptions = {},
  relayOpts: Partial<ResponderOptions> = {},
): Promise<{ tap: Tap; agent: Link; relay: Link; acceptor: LinkAcceptor }> {
  const tap = createTap();
  const acceptor = new LinkAcceptor({
    staticKeys: keys.relay,
    lookupAgent: () => ({}),
    ...relayOpts,
  });
  const [agent, relay] = await Promise.all([
    connectLink(tap.agentEnd, {
      staticKeys: keys.agent,
      remoteStaticKey: keys.relay.publicKey,
      ...agentOpts,
    }),
    acceptor.accept(tap.relayEnd),
  ]);
  return { tap, agent, relay, acceptor };
}

/** Every textual form of a secret that must never show up in logs or errors. */
export function secretForms(...secrets: Uint8Array[]): string[] {
  return secrets.flatMap((s) => {
    const b = Buffer.from(s);
    return [
      b.toString('hex'),
      b.toString('base64'),
      b.toString('base64url'),
      b.toString('base64').replace(/=+$/, ''),
    ];
  });
}

/** All text an error exposes: message, detail, and its causes' messages. */
export function errorText(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let i = 0; e && i < 5; i++) {
    if (e instanceof Error) {
      parts.push(e.message, String((e as XnatError).detail ?? ''), e.stack ?? '');
      e = e.cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join('\n');
}
