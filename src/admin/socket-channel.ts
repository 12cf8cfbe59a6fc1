// A CommandChannel over one local TCP socket: u32 big-endian length, then the message body.
// Used by the admin endpoint and its clients (`xnat status`, the dashboard); it knows nothing of commands.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { XnatError } from '../errors.ts';
import type { CommandChannel } from '../command/channel.ts';

/** Largest admin message in bytes; status snapshots of big relays fit, and nothing unbounded is buffered. */
export const MAX_ADMIN_MESSAGE_BYTES = 4 * 1024 * 1024;
const LENGTH_BYTES = 4;

export class SocketChannel extends EventEmitter implements CommandChannel {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private closed = false;

  constructor(private readonly socket: Socket) {
    super();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.emit('drain'));
    socket.on('error', () => {}); // 'close' follows and reports
    socket.on('close', () => this.finish());
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

  close(): void {
    this.socket.end();
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.buffered >= LENGTH_BYTES && !this.closed) {
      const head = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      this.chunks = [head];
      const length = head.readUInt32BE(0);
      if (length > MAX_ADMIN_MESSAGE_BYTES) {
        this.socket.destroy();
        this.finish(new XnatError('XNAT_ERR_WIRE_OVERSIZE', { detail: `admin message ${length}` }));
        return;
      }
      if (head.length < LENGTH_BYTES + length) return;
      const body = head.subarray(LENGTH_BYTES, LENGTH_BYTES + length);
      const rest = head.subarray(LENGTH_BYTES + length);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
      this.emit('message', body);
    }
  }

  private finish(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close', err);
  }
}
