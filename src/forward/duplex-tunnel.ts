// A Node Duplex that can be reset with a code (the deflate wrapper, a test's fake stream) seen through
// the byte path's narrow interface, so the TCP pipe has one way to talk to any tunnel stream.
import type { Duplex } from 'node:stream';
import { type ErrorCode, isErrorCode } from '../errors.ts';
import type { ByteReader, ByteStream } from '../mux/byte-stream.ts';

/** A Duplex that can be aborted with a code. */
export interface ResettableDuplex extends Duplex {
  reset(code: ErrorCode): void;
  readonly resetCode: ErrorCode | undefined;
}

/** A ByteStream over a Duplex; `done()` lets it close once the pipe saw both FINs. */
export interface DuplexTunnel extends ByteStream {
  /** Both directions ended cleanly: destroy the Duplex once its own FIN is out (not before: that resets). */
  done(): void;
}

export function tunnelOf(d: ResettableDuplex): DuplexTunnel {
  let reader: ByteReader | undefined;
  const codeOf = (err?: Error & { code?: unknown }): ErrorCode | undefined =>
    d.resetCode ?? (err ? (isErrorCode(err.code) ? err.code : 'XNAT_ERR_FORWARD_STREAM_RESET') : undefined);
  let failure: ErrorCode | undefined;
  return {
    get destroyed() {
      return d.destroyed;
    },
    get resetCode() {
      return d.resetCode;
    },
    setReader(r) {
      reader = r;
      d.on('data', (chunk: Buffer) => {
        if (!r.data(chunk)) d.pause();
      });
      d.on('drain', () => r.drain());
      d.on('end', () => r.end());
      d.on('error', (err: Error) => {
        failure ??= codeOf(err);
      });
      d.on('close', () => {
        // The pipe itself resets the socket when the Duplex closed before both directions ended.
        r.close(failure ?? d.resetCode);
      });
      if (d.destroyed) r.close(codeOf() ?? 'XNAT_ERR_FORWARD_STREAM_RESET');
    },
    write: (chunk) => d.write(chunk),
    end: () => {
      if (!d.destroyed) d.end();
    },
    reset: (code) => {
      if (!d.destroyed) d.reset(code);
    },
    resume: () => {
      if (!d.destroyed && reader) d.resume();
    },
    done: () => {
      if (d.destroyed) return;
      if (d.writableFinished) d.destroy();
      else d.once('finish', () => d.destroy());
    },
  };
}
