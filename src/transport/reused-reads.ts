// Link sockets that read into one reused buffer (net.Socket's onread): no fresh 64 KiB buffer per read, so
// no garbage per read for the GC to chase. A chunk is valid only during its callback: readers copy what they keep.
import net from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * Size of a dialled link socket's read buffer. Larger than one record (65 537 wire bytes) so a busy link
 * hands over several records per read and most of them lie whole in the buffer (no join before opening);
 * one per link, and links are few.
 */
export const REUSED_READ_BYTES = 256 * 1024;

/** What a socket's chunks go to; `transient` chunks die when the call returns. */
export type ChunkReader = (chunk: Buffer, transient: boolean) => void;

interface Reads {
  reader: ChunkReader | undefined;
  /**
   * Chunks that came while no reader was attached, copied: each pauses the socket, so there is at most
   * one per resume() (a handshake hands over to its link between two loop turns).
   */
  early: Buffer[];
}

const reusing = new WeakMap<Duplex, Reads>();

/** net.connect whose reads land in one reused buffer; readChunks() delivers them. */
export function connectReusingReads(opts: net.TcpNetConnectOpts): net.Socket {
  const reads: Reads = { reader: undefined, early: [] };
  const buffer = Buffer.allocUnsafe(REUSED_READ_BYTES);
  const socket = net.connect({
    ...opts,
    onread: {
      buffer,
      callback: (n: number, buf: Uint8Array): boolean => {
        const chunk = (buf as Buffer).subarray(0, n);
        if (reads.reader) {
          reads.reader(chunk, true);
          return true;
        }
        reads.early.push(Buffer.from(chunk));
        return false; // pauses the socket until a reader resumes it
      },
    },
  });
  reusing.set(socket, reads);
  return socket;
}

/**
 * Sends the socket's chunks to `reader` until the returned function detaches it: transient views of the
 * reused buffer for a socket from connectReusingReads, owned 'data' chunks for any other Duplex (accepted
 * sockets: net.Server has no onread; in-memory pairs in tests). One reader at a time.
 */
export function readChunks(socket: Duplex, reader: ChunkReader): () => void {
  const reads = reusing.get(socket);
  if (!reads) {
    const onData = (chunk: Buffer): void => reader(chunk, false);
    socket.on('data', onData);
    return () => socket.off('data', onData);
  }
  reads.reader = reader;
  const early = reads.early;
  reads.early = [];
  for (const c of early) reader(c, false);
  return () => {
    if (reads.reader === reader) reads.reader = undefined;
  };
}
