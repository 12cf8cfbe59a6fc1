// The answering half of an endpoint: checks and runs the peer's invocations (requests, one-ways, buffer
// and stream transfers in) and sends their replies, errors and credits. It knows nothing of outgoing calls.
import { XnatError } from '../errors.ts';
import type { Logger } from '../observe/log.ts';
import { MsgType, TransferMode, toWireFailure } from './codec.ts';
import type { Message } from './codec.ts';
import type { JobQueue } from './job-queue.ts';
import { zodPath } from './registry.ts';
import type { CommandContext, CommandDef, CommandRegistry, StreamContext } from './registry.ts';
import type { StatsRecorder } from './stats.ts';
import { IncomingTransfer } from './transfer-in.ts';

/** What the command layer logs through, a pino Logger's debug and warn lines (src/command/endpoint.ts). */
export type CommandLog = Pick<Logger, 'debug' | 'warn'>;

/** What the responder needs from its endpoint. */
export interface ResponderHost {
  readonly registry: CommandRegistry;
  readonly peer: unknown;
  readonly allow: ((peer: unknown, name: string) => boolean) | undefined;
  readonly queue: JobQueue;
  readonly stats: StatsRecorder;
  readonly log: CommandLog;
  /** Default buffer cap in bytes (a command's options.maxBytes overrides). */
  readonly maxBufferBytes: number;
  /** Cap on bytes held by all incoming buffers together; beyond it a new buffer gets BUSY. */
  readonly maxBufferedBytesTotal: number;
  /** Credit a stream receiver grants ahead, in bytes. */
  readonly streamWindowBytes: number;
  /** Encodes and sends; throws a typed error when the message cannot be encoded. */
  sendMessage(msg: Message, name: string | undefined): boolean;
  /** False while the channel pushes back (the session's replay buffer is over its cap). */
  writable(): boolean;
}

type Begin = Extract<Message, { type: typeof MsgType.BEGIN }>;

interface Invocation {
  readonly id: number | undefined;
  readonly name: string;
  readonly def: CommandDef;
  readonly serialKey: string | undefined;
  readonly controller: AbortController;
  payload: unknown;
  started: boolean;
  /** An answer was sent, or none is wanted any more (one-way, cancelled, closed). */
  answered: boolean;
  handlerRunning: boolean;
  transfer?: IncomingTransfer;
  start(): void;
}

export class Responder {
  private readonly invocations = new Map<number, Invocation>();
  /** Every admitted invocation not yet finished (one-ways too), so close() can abort them all. */
  private readonly live = new Set<Invocation>();
  private bufferedBytes = 0;

  constructor(private readonly host: ResponderHost) {}

  onRequest(msg: Extract<Message, { type: typeof MsgType.REQUEST | typeof MsgType.ONEWAY }>): void {
    const id = msg.type === MsgType.REQUEST ? msg.id : undefined;
    if (id !== undefined && this.invocations.has(id)) return this.duplicate();
    const def = this.admit(id, msg.name, msg.type === MsgType.REQUEST ? 'request' : 'oneway', msg.payload);
    if (!def) return;
    const inv = this.create(id, msg.name, def.def, def.payload);
    inv.start = () => {
      inv.started = true;
      this.runHandler(inv, () =>
        def.def.kind === 'request' || def.def.kind === 'oneway'
          ? def.def.handler(inv.payload, this.ctx(inv))
          : undefined,
      );
    };
    this.submit(inv);
  }

  onBegin(msg: Begin): void {
    if (this.invocations.has(msg.id)) return this.duplicate();
    const mode = msg.mode === TransferMode.BUFFER ? 'buffer' : 'stream';
    const def = this.admit(msg.id, msg.name, mode, msg.meta);
    if (!def) return;
    const c = this.host.stats.of(msg.name);
    let reserved = 0;
    if (mode === 'buffer') {
      const cap = def.def.options?.maxBytes ?? this.host.maxBufferBytes;
      if (msg.size === undefined)
        return this.refuse(
          msg.id,
          msg.name,
          new XnatError('XNAT_ERR_COMMAND_MALFORMED', { detail: 'buffer without size' }),
          c,
        );
      if (msg.size > cap)
        return this.refuse(
          msg.id,
          msg.name,
          new XnatError('XNAT_ERR_COMMAND_BUFFER_TOO_LARGE', { detail: `cap ${cap} bytes` }),
          c,
        );
      if (this.bufferedBytes + msg.size > this.host.maxBufferedBytesTotal)
        return this.refuse(
          msg.id,
          msg.name,
          new XnatError('XNAT_ERR_COMMAND_BUSY', { detail: 'buffer budget' }),
          c,
        );
      reserved = msg.size;
      this.bufferedBytes += reserved;
    }
    const inv = this.create(msg.id, msg.name, def.def, def.payload);
    const tr = new IncomingTransfer(mode, msg.size, def.payload, reserved);
    inv.transfer = tr;
    inv.start = () => {
      inv.started = true;
      if (tr.mode === 'buffer') this.grant(inv, tr.startBuffer());
      else this.startStream(inv, tr);
    };
    if (!this.submit(inv)) this.release(tr);
  }

  onChunk(id: number, data: Buffer): void {
    const inv = this.invocations.get(id);
    const tr = inv?.transfer;
    if (!inv || !tr || tr.ended) return void this.host.stats.totals.unknownIds++;
    this.host.stats.of(inv.name).bytesIn += data.length;
    const err = tr.take(data);
    if (err) this.failTransfer(inv, err);
  }

  onEnd(id: number, total: number, sha256: Buffer): void {
    const inv = this.invocations.get(id);
    const tr = inv?.transfer;
    if (!inv || !tr || tr.ended) return void this.host.stats.totals.unknownIds++;
    const err = tr.end(total, sha256);
    if (err) return this.failTransfer(inv, err);
    if (tr.mode === 'buffer') {
      const def = inv.def;
      const data = tr.buffer!;
      this.runHandler(inv, () =>
        def.kind === 'buffer' ? def.handler(data, tr.meta, this.ctx(inv)) : undefined,
      );
    } else if (tr.result) {
      this.answer(inv, tr.result.value);
      this.maybeFinish(inv);
    }
  }

  /** The caller gave up: no answer, the handler's signal aborts, an incoming stream errors. */
  onCancel(id: number): void {
    const inv = this.invocations.get(id);
    if (!inv) return void this.host.stats.totals.unknownIds++;
    this.abandon(inv, new XnatError('XNAT_ERR_ABORTED', { detail: 'cancelled by the caller' }));
  }

  /** A decode failure of a message that referred to invocation `id` (or would have started it). */
  onBadMessage(type: number, id: number, err: XnatError): void {
    const inv = this.invocations.get(id);
    if (inv?.transfer) return this.failTransfer(inv, err);
    if (!inv && (type === MsgType.REQUEST || type === MsgType.BEGIN)) this.reject(id, undefined, err);
    else this.host.stats.totals.unknownIds++;
  }

  /** Endpoint closed: abort everything; nothing more is sent. */
  closeAll(err: XnatError): void {
    this.host.queue.clear();
    for (const inv of [...this.live]) {
      inv.started = true;
      this.abandon(inv, err);
    }
    this.invocations.clear();
  }

  // ---- admission

  private admit(
    id: number | undefined,
    name: string,
    kind: CommandDef['kind'],
    payload: unknown,
  ): { def: CommandDef; payload: unknown } | undefined {
    const def = this.host.registry.get(name);
    if (!def) {
      this.host.stats.totals.unknownCommands++;
      this.reject(id, undefined, new XnatError('XNAT_ERR_COMMAND_UNKNOWN', { detail: name.slice(0, 64) }));
      return undefined;
    }
    const c = this.host.stats.of(name);
    c.callsIn++;
    if (def.kind !== kind)
      return void this.refuse(
        id,
        name,
        new XnatError('XNAT_ERR_COMMAND_KIND', { detail: `${name} is ${def.kind}` }),
        c,
      );
    let allowed = true;
    try {
      allowed = this.host.allow ? this.host.allow(this.host.peer, name) === true : true;
    } catch {
      allowed = false;
    }
    if (!allowed)
      return void this.refuse(id, name, new XnatError('XNAT_ERR_COMMAND_DENIED', { detail: name }), c);
    const parsed = def.schema.safeParse(payload);
    if (!parsed.success)
      return void this.refuse(
        id,
        name,
        new XnatError('XNAT_ERR_COMMAND_INVALID', { detail: zodPath(parsed.error) }),
        c,
      );
    return { def, payload: parsed.data };
  }

  private create(id: number | undefined, name: string, def: CommandDef, payload: unknown): Invocation {
    return {
      id,
      name,
      def,
      serialKey: def.options?.serial ? name : undefined,
      controller: new AbortController(),
      payload,
      started: false,
      answered: id === undefined,
      handlerRunning: false,
      start: () => undefined,
    };
  }

  private submit(inv: Invocation): boolean {
    if (inv.id !== undefined) this.invocations.set(inv.id, inv);
    this.live.add(inv);
    if (this.host.queue.submit(inv)) return true;
    this.live.delete(inv);
    if (inv.id !== undefined) this.invocations.delete(inv.id);
    this.host.stats.totals.busy++;
    this.refuse(inv.id, inv.name, new XnatError('XNAT_ERR_COMMAND_BUSY'), this.host.stats.of(inv.name));
    return false;
  }

  private refuse(id: number | undefined, name: string, err: XnatError, c: { errorsIn: number }): void {
    c.errorsIn++;
    this.reject(id, name, err);
  }

  /**
   * Answers a refused invocation. A refusal is solicited by the peer (a flood of calls gets a flood of
   * BUSY), so while the channel pushes back it is dropped and counted instead: the call times out on
   * the peer's side, and this side's replay buffer stays within its cap.
   */
  private reject(id: number | undefined, name: string | undefined, err: XnatError): void {
    if (id === undefined) this.host.log.debug({ command: name, code: err.code }, 'one-way command dropped');
    else if (!this.host.writable()) this.host.stats.totals.refusalsDropped++;
    else this.sendError(id, name, err);
  }

  private duplicate(): void {
    this.host.stats.totals.malformed++;
  }

  // ---- running

  private ctx(inv: Invocation): CommandContext {
    return { peer: this.host.peer, name: inv.name, signal: inv.controller.signal };
  }

  private runHandler(inv: Invocation, call: () => unknown): void {
    inv.handlerRunning = true;
    Promise.resolve()
      .then(call)
      .then(
        (value) =>
          inv.transfer && !inv.transfer.ended ? this.streamHandlerDone(inv, value) : this.answer(inv, value),
        (err: unknown) => this.handlerFailed(inv, err),
      )
      .finally(() => {
        inv.handlerRunning = false;
        this.maybeFinish(inv);
      });
  }

  private startStream(inv: Invocation, tr: IncomingTransfer): void {
    const ctx: StreamContext = {
      ...this.ctx(inv),
      size: tr.size,
      cancel: () =>
        this.failTransfer(inv, new XnatError('XNAT_ERR_ABORTED', { detail: 'cancelled by the receiver' })),
    };
    const window = this.host.streamWindowBytes;
    const readable = tr.startStream(window, ctx, () => {
      const more = inv.answered ? 0 : tr.topUp(window);
      if (more > 0) this.grant(inv, more);
    });
    readable.on('close', () => {
      if (!tr.ended && !inv.answered)
        this.failTransfer(inv, new XnatError('XNAT_ERR_ABORTED', { detail: 'receiver closed the stream' }));
    });
    this.grant(inv, window);
    const def = inv.def;
    this.runHandler(inv, () => (def.kind === 'stream' ? def.handler(readable, tr.meta, ctx) : undefined));
  }

  /** A stream handler returned before the end: keep its value, drain the rest so credits keep flowing. */
  private streamHandlerDone(inv: Invocation, value: unknown): void {
    const tr = inv.transfer!;
    tr.result = { value };
    tr.readable?.resume();
  }

  private grant(inv: Invocation, bytes: number): void {
    const tr = inv.transfer!;
    tr.granted += bytes;
    this.send(inv, { type: MsgType.CREDIT, id: inv.id!, bytes });
  }

  private answer(inv: Invocation, value: unknown): void {
    if (inv.answered) return;
    const def = inv.def;
    if (def.kind !== 'oneway' && def.reply) {
      const parsed = def.reply.safeParse(value);
      if (!parsed.success)
        return this.answerError(
          inv,
          new XnatError('XNAT_ERR_COMMAND_REPLY_INVALID', { detail: zodPath(parsed.error) }),
        );
      value = parsed.data;
    }
    inv.answered = true;
    try {
      this.host.sendMessage({ type: MsgType.REPLY, id: inv.id!, payload: value }, inv.name);
    } catch (err) {
      inv.answered = false;
      this.answerError(
        inv,
        err instanceof XnatError ? err : new XnatError('XNAT_ERR_COMMAND_HANDLER_FAILED'),
      );
    }
    this.release(inv.transfer);
  }

  private handlerFailed(inv: Invocation, err: unknown): void {
    if (err instanceof XnatError) return this.answerError(inv, err);
    // A plain Error's text may hold secrets: log only its name, send only the generic code.
    const e = err as { name?: unknown; code?: unknown } | undefined;
    this.host.log.warn(
      {
        command: inv.name,
        errName: typeof e?.name === 'string' ? e.name : typeof err,
        errCode: typeof e?.code === 'string' ? e.code : undefined,
      },
      'command handler failed',
    );
    this.answerError(inv, new XnatError('XNAT_ERR_COMMAND_HANDLER_FAILED', { detail: inv.name }));
  }

  private answerError(inv: Invocation, err: XnatError): void {
    if (inv.transfer && !inv.answered) return this.failTransfer(inv, err);
    this.host.stats.of(inv.name).errorsIn++;
    if (inv.answered)
      return void this.host.log.debug({ command: inv.name, code: err.code }, 'one-way command failed');
    inv.answered = true;
    this.sendError(inv.id!, inv.name, err);
  }

  /** Ends a transfer in with an error: the sender hears `err`, the handler's stream errors and its signal aborts. */
  private failTransfer(inv: Invocation, err: XnatError): void {
    if (inv.answered) return;
    inv.answered = true;
    this.host.stats.of(inv.name).errorsIn++;
    this.sendError(inv.id!, inv.name, err);
    this.abandon(inv, err);
  }

  /** Stops an invocation without (further) answer. */
  private abandon(inv: Invocation, err: XnatError): void {
    inv.answered = true;
    if (inv.id !== undefined && this.invocations.get(inv.id) === inv) this.invocations.delete(inv.id);
    if (!inv.started) this.host.queue.withdraw(inv);
    if (!inv.controller.signal.aborted) inv.controller.abort(err);
    inv.transfer?.destroy(err);
    this.release(inv.transfer);
    this.maybeFinish(inv);
  }

  private maybeFinish(inv: Invocation): void {
    if (!inv.answered || inv.handlerRunning) return;
    if (inv.id !== undefined && this.invocations.get(inv.id) === inv) this.invocations.delete(inv.id);
    if (inv.started) this.host.queue.done(inv);
    this.live.delete(inv);
    this.release(inv.transfer);
    if (inv.transfer) inv.transfer.buffer = undefined;
  }

  private release(tr: IncomingTransfer | undefined): void {
    if (!tr || tr.reserved === 0) return;
    this.bufferedBytes -= tr.reserved;
    tr.reserved = 0;
  }

  private sendError(id: number, name: string | undefined, err: XnatError): void {
    const w = toWireFailure(err);
    this.send(
      undefined,
      {
        type: MsgType.ERROR,
        id,
        code: w.code,
        message: w.message,
        ...(w.detail === undefined ? {} : { detail: w.detail }),
      },
      name,
    );
  }

  private send(inv: Invocation | undefined, msg: Message, name = inv?.name): void {
    try {
      this.host.sendMessage(msg, name);
    } catch (err) {
      // Only a closed channel gets here (answers always encode); the endpoint's close handles the rest.
      this.host.log.debug({ command: name, code: (err as XnatError).code }, 'command answer not sent');
    }
  }
}
