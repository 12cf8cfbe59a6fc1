// LAN targets and visitors for end-to-end tests: a node HTTP server, a hashing TCP server, seeded byte
// streams (ChaCha20 keystream, never held in memory) and visitor sockets that tell a reset from a FIN.
import { createCipheriv, createHash } from 'node:crypto';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { TestEnv } from './env.ts';

/** Size of each chunk of a seeded stream, in bytes. */
const SEEDED_CHUNK_BYTES = 64 * 1024;
const ZEROS = Buffer.alloc(SEEDED_CHUNK_BYTES);

/**
 * A deterministic pseudo-random byte source: the ChaCha20 keystream of a key derived from `seed`.
 * next(n) returns the following n bytes (n <= 64 KiB); fast (OpenSSL) and constant in memory.
 */
export class SeededBytes {
  private readonly cipher;
  constructor(seed: string) {
    const key = createHash('sha256').update(seed).digest();
    this.cipher = createCipheriv('chacha20', key, Buffer.alloc(16));
  }
  next(n = SEEDED_CHUNK_BYTES): Buffer {
    return this.cipher.update(n === SEEDED_CHUNK_BYTES ? ZEROS : ZEROS.subarray(0, n));
  }
}

/** SHA-256 (hex) of the first `bytes` bytes of the seeded stream `seed`. */
export function seededDigest(seed: string, bytes: number): string {
  const src = new SeededBytes(seed);
  const hash = createHash('sha256');
  for (let left = bytes; left > 0;) {
    const n = Math.min(left, SEEDED_CHUNK_BYTES);
    hash.update(src.next(n));
    left -= n;
  }
  return hash.digest('hex');
}

/**
 * Writes `bytes` bytes of the seeded stream `seed` to `socket` with backpressure, then ends it (FIN).
 * `onProgress(written)` runs after each chunk and may return a promise to hold the writer.
 * Resolves with the SHA-256 of what was written.
 */
export async function writeSeeded(
  socket: net.Socket,
  seed: string,
  bytes: number,
  onProgress?: (written: number) => void | Promise<void>,
): Promise<string> {
  const src = new SeededBytes(seed);
  const hash = createHash('sha256');
  let written = 0;
  while (written < bytes) {
    if (socket.destroyed) throw new Error(`socket closed after ${written} of ${bytes} bytes written`);
    const chunk = src.next(Math.min(SEEDED_CHUNK_BYTES, bytes - written));
    hash.update(chunk);
    written += chunk.length;
    if (!socket.write(chunk)) await waitDrain(socket);
    if (onProgress) await onProgress(written);
  }
  socket.end();
  return hash.digest('hex');
}

function waitDrain(socket: net.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      socket.off('drain', onDrain);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error('socket closed while waiting for drain'));
    socket.once('drain', onDrain);
    socket.once('close', onClose);
  });
}

/** What a socket received: byte count and SHA-256, and how it ended. */
export interface Received {
  readonly bytes: number;
  readonly sha256: string;
  /** 'end' = clean FIN; otherwise the error code (e.g. ECONNRESET) or 'close' (closed without either). */
  readonly ending: string;
}

/** Hashes everything `socket` receives until it ends or fails. `onData(total)` runs after each chunk. */
export function hashIncoming(socket: net.Socket, onData?: (total: number) => void): Promise<Received> {
  return new Promise((resolve) => {
    const hash = createHash('sha256');
    let bytes = 0;
    let ending: string | undefined;
    socket.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
      onData?.(bytes);
    });
    socket.once('end', () => (ending ??= 'end'));
    socket.once('error', (err: NodeJS.ErrnoException) => (ending ??= err.code ?? err.message));
    socket.once('close', () => resolve({ bytes, sha256: hash.digest('hex'), ending: ending ?? 'close' }));
  });
}

/** A connection the hashing server accepted: what it received, and the digest of what it sent back. */
export interface ServerSide {
  readonly received: Promise<Received>;
  readonly sent: Promise<string>;
}

export interface HashServer {
  readonly port: number;
  /** Resolves with the n-th accepted connection (1-based). */
  connection(n?: number): Promise<ServerSide>;
}

/**
 * A LAN TCP server on 127.0.0.1:0 that hashes what each connection sends and answers with `replyBytes`
 * of the seeded stream `replySeed` (0: it only half-closes after the visitor's FIN).
 */
export async function startHashServer(
  env: TestEnv,
  opts: { replySeed?: string; replyBytes?: number; onData?: (total: number) => void } = {},
): Promise<HashServer> {
  const accepted: ServerSide[] = [];
  const waiters: Array<() => void> = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const received = hashIncoming(socket, opts.onData);
    const replyBytes = opts.replyBytes ?? 0;
    const sent =
      replyBytes > 0
        ? writeSeeded(socket, opts.replySeed ?? 'reply', replyBytes)
        : new Promise<string>((resolve) =>
            socket.once('end', () => {
              socket.end();
              resolve(createHash('sha256').digest('hex'));
            }),
          );
    sent.catch(() => {});
    accepted.push({ received, sent });
    for (const w of waiters.splice(0)) w();
  });
  const port = await listen(server);
  env.onDispose(() => closeServer(server, sockets));
  return {
    port,
    connection: (n = 1) =>
      new Promise((resolve) => {
        const check = () => {
          const c = accepted[n - 1];
          if (c) resolve(c);
          else waiters.push(check);
        };
        check();
      }),
  };
}

/** A node HTTP server on 127.0.0.1:0 answering every request with `body`; resolves with its port. */
export async function startHttpServer(env: TestEnv, body: string): Promise<number> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(body);
  });
  const port = await listen(server);
  env.onDispose(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return port;
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: net.Server, sockets: Set<net.Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Connects a visitor to 127.0.0.1:`port` (half-open allowed); resolves once connected. */
export function connectVisitor(env: TestEnv, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true, noDelay: true });
    env.onDispose(() => socket.destroy());
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/**
 * Sends `request` through a fresh visitor connection, half-closes, and collects the whole answer.
 * Resolves with the text and how the connection ended ('end', or an error code such as ECONNRESET).
 */
export async function exchange(
  env: TestEnv,
  port: number,
  request: string | Buffer,
): Promise<{ text: string; ending: string }> {
  const socket = await connectVisitor(env, port);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const result = new Promise<{ text: string; ending: string }>((resolve) => {
    let ending: string | undefined;
    socket.once('end', () => {
      ending ??= 'end';
      socket.end();
    });
    socket.once('error', (err: NodeJS.ErrnoException) => (ending ??= err.code ?? err.message));
    socket.once('close', () =>
      resolve({ text: Buffer.concat(chunks).toString('utf8'), ending: ending ?? 'close' }),
    );
  });
  socket.write(request);
  return result;
}

/** An HTTP/1.0 GET: the server answers and closes, so the whole exchange ends with its FIN. */
export const HTTP_GET = 'GET / HTTP/1.0\r\nHost: lan\r\n\r\n';

/** A visitor's GET through `port` is answered 200 with `body` (see startHttpServer) and ends cleanly. */
export async function visitorWorks(env: TestEnv, port: number, body: string): Promise<boolean> {
  const { text, ending: how } = await exchange(env, port, HTTP_GET);
  return text.startsWith('HTTP/1.1 200') && text.endsWith(body) && how === 'end';
}

/**
 * Resolves with how `socket` ends from now on: 'end' (a clean FIN), the error code (ECONNRESET), or
 * 'close'; whichever comes first. Incoming data is discarded.
 */
export function ending(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    const done = (how: string) => {
      resolve(how);
      socket.destroy();
    };
    socket.on('data', () => {});
    socket.once('end', () => done('end'));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    socket.once('close', () => done('close'));
  });
}

/**
 * A TCP server on 127.0.0.1:0 that greets each connection with `${tag}\n` and holds it open (echoing what
 * it gets), so a test can tell which LAN target a visitor reached and keep the visitor counted as open.
 */
export async function startTagServer(env: TestEnv, tag: string): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.write(`${tag}\n`);
    socket.pipe(socket);
  });
  const port = await listen(server);
  env.onDispose(() => closeServer(server, sockets));
  return port;
}

/** Connects a visitor to `port` and resolves with it and the first line it receives (see startTagServer). */
export async function tagOf(
  env: TestEnv,
  port: number,
  localAddress?: string,
  host = '127.0.0.1',
): Promise<{ socket: net.Socket; tag: string }> {
  // A visitor refused at once may see the reset before its connect completes: that is its answer too.
  const connected = await new Promise<{ socket: net.Socket; error?: string }>((resolve) => {
    const s = net.connect({
      host,
      port,
      allowHalfOpen: true,
      ...(localAddress ? { localAddress } : {}),
    });
    env.onDispose(() => s.destroy());
    const onError = (err: NodeJS.ErrnoException) =>
      resolve({ socket: s, error: `error:${err.code ?? err.message}` });
    s.once('connect', () => {
      s.off('error', onError);
      resolve({ socket: s });
    });
    s.once('error', onError);
  });
  const socket = connected.socket;
  if (connected.error) return { socket, tag: connected.error };
  const tag = await new Promise<string>((resolve) => {
    let text = '';
    const done = (how: string) => {
      socket.off('data', onData);
      resolve(how);
    };
    const onData = (c: Buffer) => {
      text += c.toString('utf8');
      const nl = text.indexOf('\n');
      if (nl >= 0) done(text.slice(0, nl));
    };
    socket.on('data', onData);
    socket.once('error', (err: NodeJS.ErrnoException) => done(`error:${err.code ?? err.message}`));
    socket.once('end', () => done('end'));
    socket.once('close', () => done('close'));
  });
  return { socket, tag };
}
