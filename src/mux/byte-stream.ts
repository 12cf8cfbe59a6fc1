// The narrow interface between a tunnel stream and what moves its bytes (the TCP pipe, the Duplex
// adapter): data, end and reset each way, a boolean "send more?" and a callback once more may be sent.
import type { ErrorCode } from '../errors.ts';

/** What receives a stream's bytes. The stream calls it; it never calls the stream back re-entrantly. */
export interface ByteReader {
  /**
   * Bytes from the peer, in order. The chunk is the reader's to keep. Returns false to stop deliveries
   * until the reader calls `resume()` on the stream (its window then stops the peer).
   */
  data(chunk: Buffer): boolean;
  /** The peer half-closed (FIN), after its last byte. */
  end(): void;
  /** What was written after a false from `write()` has gone out: write more. */
  drain(): void;
  /**
   * The stream is over, once: `code` undefined when both directions ended with FIN, else the code it was
   * reset or aborted with (by either side, or its session ending), with the reason when known.
   */
  close(code: ErrorCode | undefined, detail?: string): void;
  /**
   * Bytes delivered and not yet consumed (the Duplex adapter's readable buffer); grants to the peer
   * follow consumption. Absent: delivered is consumed.
   */
  buffered?(): number;
}

/** A tunnel stream as the byte path sees it. */
export interface ByteStream {
  /** True once the stream is over (closed cleanly or reset); nothing more is delivered or sent. */
  readonly destroyed: boolean;
  /** The code it was reset with, by either side or by its session; undefined otherwise. */
  readonly resetCode: ErrorCode | undefined;
  /**
   * Attaches the one reader; bytes and a FIN that arrived before are delivered at once. A stream already
   * over calls `close` at once.
   */
  setReader(reader: ByteReader): void;
  /**
   * Queues `chunk` to send; the stream keeps it until the peer has it (never reuse its memory). False:
   * stop writing until the reader's `drain()`. Ignored after end() or once the stream is over.
   */
  write(chunk: Buffer): boolean;
  /** FIN after the queued bytes. */
  end(): void;
  /** Aborts both ways with `code` (the peer sees a reset). Idempotent. */
  reset(code: ErrorCode): void;
  /** The reader takes bytes again after its `data()` returned false. */
  resume(): void;
}
