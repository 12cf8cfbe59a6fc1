// The message channel the command framework runs over, and its adapter onto the mux's command lane.
// It knows nothing of commands: whole, ordered, reliable message bodies in and out, with backpressure.
import { EventEmitter } from 'node:events';
import { XnatError } from '../errors.ts';

/**
 * An ordered, reliable channel of whole messages (each at most MAX_MESSAGE_BYTES).
 * Events: 'message' (body: Buffer) whole and in order; 'drain' after send() returned false;
 * 'close' (err?: Error) once, after which nothing more is delivered or sent.
 */
export interface CommandChannel {
  /** Queues one message. Returns false when the sender should back off until 'drain' (the body IS accepted). */
  send(body: Buffer): boolean;
  on(event: 'message', listener: (body: Buffer) => void): this;
  on(event: 'drain', listener: () => void): this;
  on(event: 'close', listener: (err?: Error) => void): this;
  off(event: 'message', listener: (body: Buffer) => void): this;
  off(event: 'drain', listener: () => void): this;
  off(event: 'close', listener: (err?: Error) => void): this;
}

/**
 * The part of the mux the adapter needs (the Mux of src/mux/ satisfies it structurally): COMMAND frames
 * out through sendCommand(), in through the 'command' event; 'drain' after sendCommand() returned false;
 * 'close' or 'closed' when the mux (its session) ends.
 */
export interface MuxCommandLane extends Pick<EventEmitter, 'on' | 'off'> {
  sendCommand(body: Buffer): boolean;
}

class MuxCommandChannel extends EventEmitter implements CommandChannel {
  private closed = false;
  private readonly onCommand = (body: Buffer): void => {
    if (!this.closed) this.emit('message', body);
  };
  private readonly onDrain = (): void => {
    if (!this.closed) this.emit('drain');
  };
  private readonly onClose = (err?: Error): void => this.finish(err);

  constructor(private readonly mux: MuxCommandLane) {
    super();
    mux.on('command', this.onCommand);
    mux.on('drain', this.onDrain);
    mux.on('close', this.onClose);
    mux.on('closed', this.onClose);
  }

  send(body: Buffer): boolean {
    if (this.closed) throw new XnatError('XNAT_ERR_COMMAND_CHANNEL_CLOSED');
    return this.mux.sendCommand(body);
  }

  private finish(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.mux.off('command', this.onCommand);
    this.mux.off('drain', this.onDrain);
    this.mux.off('close', this.onClose);
    this.mux.off('closed', this.onClose);
    this.emit('close', err);
  }
}

/** Wraps a mux's command lane as a CommandChannel (one per mux; the mux stays owned by its session). */
export function muxCommandChannel(mux: MuxCommandLane): CommandChannel {
  return new MuxCommandChannel(mux);
}
