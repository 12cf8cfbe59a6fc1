// Small TCP helpers for benchmarks: free ports, connecting with a deadline, reading exact byte counts.
// It knows nothing of xnat, ssh or the measures.
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';

/** A port that was free a moment ago on 127.0.0.1 (for tools that cannot bind port 0 and report it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Connects to 127.0.0.1:`port` with Nagle off; rejects on error. */
export function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', noDelay: true });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Sends one byte and resolves when one comes back (an echo round trip proves the path end to end). */
export function echoOnce(s: Socket, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no echo within ${timeoutMs} ms`)), timeoutMs);
    const onData = (): void => done();
    const onClose = (): void => done(new Error('closed before the echo'));
    const done = (err?: Error): void => {
      clearTimeout(timer);
      s.off('data', onData);
      s.off('close', onClose);
      s.off('error', onClose);
      if (err) reject(err);
      else resolve();
    };
    s.on('data', onData);
    s.once('close', onClose);
    s.once('error', onClose);
    s.write('x');
  });
}

/** Resolves when the path answers an echo on a fresh connection, retrying until `timeoutMs`. */
export async function waitForEcho(port: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      const s = await dial(port);
      try {
        await echoOnce(s, Math.max(100, deadline - performance.now()));
        return;
      } finally {
        s.destroy();
      }
    } catch (err) {
      if (performance.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
