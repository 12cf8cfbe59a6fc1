// The sending half of a buffer or stream transfer: BEGIN, CHUNKs within the receiver's credit and the
// channel's backpressure, then END with the SHA-256. It knows nothing of replies or timeouts (its host does).
import { createHash } from 'node:crypto';
import { XnatError } from '../errors.ts';
import { CHUNK_BYTES, MsgType } from './codec.ts';
import type { Message, TransferModeValue } from './codec.ts';

/** What a transfer needs from its endpoint. */
export interface TransferHost {
  /** Encodes and sends (throws a typed error when closed or not encodable); false = channel backed up. */
  sendMessage(msg: Message): boolean;
  /** False while the channel asked to back off (until 'drain'). */
  writable(): boolean;
  /** Records progress, for the idle timeout. */
  touch(): void;
  /** Ends the call with `err` and tells the peer to stop. */
  fail(err: XnatError): void;
}

export class OutgoingTransfer {
  private accepted = false;
  private available = 0;
  private done = false;
  private waiter: (() => void) | undefined;

  constructor(
    private readonly host: TransferHost,
    private readonly id: number,
    private readonly name: string,
    private readonly mode: TransferModeValue,
    private readonly size: number | undefined,
    private readonly meta: unknown,
    private readonly onProgress: ((sent: number, total?: number) => void) | undefined,
  ) {}

  /** The receiver granted `bytes` more (the first grant, even of 0, means it accepted the transfer). */
  credit(bytes: number): void {
    this.accepted = true;
    this.available += bytes;
    this.wake();
  }

  /** Re-checks whether sending may continue (credit, drain, or the call ended). */
  wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** Marks the call as ended from outside (reply, error, timeout, abort, close); the loop stops. */
  stop(): void {
    this.done = true;
    this.wake();
  }

  /** Sends everything; failures go to host.fail. Never rejects. */
  run(source: Iterable<Buffer> | AsyncIterable<unknown>): void {
    void this.loop(source).catch((err: unknown) => {
      this.host.fail(
        err instanceof XnatError
          ? err
          : new XnatError('XNAT_ERR_COMMAND_SOURCE', { detail: this.name, cause: err }),
      );
    });
  }

  private async loop(source: Iterable<Buffer> | AsyncIterable<unknown>): Promise<void> {
    const hash = createHash('sha256');
    let sent = 0;
    this.host.sendMessage({
      type: MsgType.BEGIN,
      id: this.id,
      name: this.name,
      mode: this.mode,
      size: this.size,
      meta: this.meta,
    });
    for await (const item of source as AsyncIterable<unknown>) {
      const buf = toBuffer(item);
      let off = 0;
      while (off < buf.length) {
        if (!this.ready()) await this.until(() => this.ready());
        if (this.done) return;
        const n = Math.min(CHUNK_BYTES, buf.length - off, this.available);
        const piece = buf.subarray(off, off + n);
        hash.update(piece);
        off += n;
        sent += n;
        this.available -= n;
        this.host.sendMessage({ type: MsgType.CHUNK, id: this.id, data: piece });
        this.host.touch();
        if (this.onProgress) {
          try {
            this.onProgress(sent, this.size);
          } catch {
            // The caller's progress callback must not break the transfer.
          }
        }
      }
    }
    if (!this.accepted) await this.until(() => this.accepted);
    if (this.done) return;
    this.host.sendMessage({ type: MsgType.END, id: this.id, total: sent, sha256: hash.digest() });
  }

  private ready(): boolean {
    return this.done || (this.accepted && this.available > 0 && this.host.writable());
  }

  private async until(cond: () => boolean): Promise<void> {
    while (!this.done && !cond()) await new Promise<void>((resolve) => (this.waiter = resolve));
  }
}

function toBuffer(item: unknown): Buffer {
  if (Buffer.isBuffer(item)) return item;
  if (item instanceof Uint8Array) return Buffer.from(item.buffer, item.byteOffset, item.byteLength);
  if (typeof item === 'string') return Buffer.from(item);
  throw new XnatError('XNAT_ERR_COMMAND_SOURCE', { detail: 'source yielded a non-binary chunk' });
}
