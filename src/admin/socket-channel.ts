// A CommandChannel over one local TCP socket: u32 big-endian length, then the message body.
// Used by the admin endpoint and its clients (`xnat status`, the dashboard); it knows nothing of commands.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { XnatError } from '../errors.ts';
import type { CommandChannel } from '../command/channel.ts';
import { LENGTH_BYTES, MessageReader } from './message-reader.ts';

/** Largest admin message in bytes; status snapshots of big relays fit, and nothing unbounded is buffered. */
export const MAX_ADMIN_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Longest wait for the last answer to be flushed by close(), in ms. */
const CLOSE_GRACE_MS = 1_000;

/**
 * Messages in and out of one socket. Beyond CommandChannel: a cap that can change (small before
 * authentication), pause()/resume() of delivery (the socket stops being read meanwhile, so the kernel's
 * window, not this process, holds what a peer pipelines), and destroy().
 */
export class SocketChannel extends EventEmitter implements CommandChannel {
  private readonly reader: MessageReader;
  private closed = false;
  private paused = false;

  constructor(
    private readonly socket: Socket,
    maxMessageBytes = MAX_ADMIN_MESSAGE_BYTES,
  ) {
    super();
    this.reader = new MessageReader(maxMessageBytes);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      if (this.closed) return;
      this.reader.push(chunk);
      this.deliver();
    });
    socket.on('drain', () => this.emit('drain'));
    socket.on('error', () => {}); // 'close' follows and reports
    socket.on('close', () => this.finish());
  }

  /** Bytes received and not yet delivered as messages. */
  get bufferedBytes(): number {
    return this.reader.bufferedBytes;
  }

  /** The cap for messages not yet started; see MessageReader.setMaxMessageBytes. */
  setMaxMessageBytes(bytes: number): void {
    this.reader.setMaxMessageBytes(bytes);
  }

  /** Stops delivering messages after the current one, and stops reading the socket. */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  /** Delivers what is buffered, then reads the socket again. */
  resume(): void {
    if (!this.paused || this.closed) return;
    this.paused = false;
    this.deliver();
    if (!this.paused && !this.closed) this.socket.resume();
  }

  send(body: Buffer): boolean {
    if (this.closed) throw new XnatError('XNAT_ERR_COMMAND_CHANNEL_CLOSED');
    const header = Buffer.allocUnsafe(LENGTH_BYTES);
    header.writeUInt32BE(body.length, 0);
    this.socket.cork();
    this.socket.write(header);
    const ok = this.socket.write(body);
    this.socket.uncork();
    return ok;
  }

  /**
   * Flushes what was sent, then closes; nothing more is delivered meanwhile. A peer that never reads
   * cannot hold the socket open: it is destroyed after CLOSE_GRACE_MS whatever is left unsent.
   */
  close(): void {
    if (this.closed) return;
    this.pause();
    const grace = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
    grace.unref();
    this.socket.once('close', () => clearTimeout(grace));
    this.socket.end(() => this.socket.destroy());
  }

  /** Closes the socket now; 'close' reports `err`. */
  destroy(err?: XnatError): void {
    this.finish(err);
    this.socket.destroy();
  }

  private deliver(): void {
    while (!this.paused && !this.closed) {
      let body: Buffer | undefined;
      try {
        body = this.reader.next();
      } catch (err) {
        this.destroy(err instanceof XnatError ? err : new XnatError('XNAT_ERR_INTERNAL', { cause: err }));
        return;
      }
      if (body === undefined) return;
      this.emit('message', body);
    }
  }

  private finish(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close', err);
  }
}
