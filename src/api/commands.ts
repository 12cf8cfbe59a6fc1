// An embedding application's own commands: registered under the `app.` prefix on either side, and called on
// the other side through the session's command endpoint (all four kinds of src/command/). It knows nothing of
// relays or agents; they look commands up here by name and say which endpoint a call goes to.
import type { Readable } from 'node:stream';
import type { z } from 'zod';
import { XnatError } from '../errors.ts';
import type {
  BufferCallOptions,
  CallOptions,
  CommandEndpoint,
  StreamCallOptions,
} from '../command/endpoint.ts';
import type { BufferDef, CommandDef, OneWayDef, RequestDef, StreamDef } from '../command/registry.ts';
import { MAX_NAME_LENGTH } from '../command/codec.ts';

/** Every application command's name starts with it; xnat's own commands never do, so none can be shadowed. */
export const APP_PREFIX = 'app.';

const APP_NAME_RE = /^app\.[A-Za-z0-9._-]+$/;

/** Throws XNAT_ERR_COMMAND_APP_NAME unless `name` is `app.` + [A-Za-z0-9._-], at most MAX_NAME_LENGTH chars. */
export function checkAppName(name: string): void {
  if (typeof name !== 'string' || name.length > MAX_NAME_LENGTH || !APP_NAME_RE.test(name))
    throw new XnatError('XNAT_ERR_COMMAND_APP_NAME', { detail: String(name).slice(0, 80) });
}

/** The application's command table of one side; looked up by each session's registry after xnat's own. */
export class AppCommands {
  private readonly defs = new Map<string, CommandDef>();

  /** Registers (or replaces) command `name`; takes effect at once, also for sessions already running. */
  register<S extends z.ZodType, R>(name: string, def: RequestDef<S, R>): void;
  register<S extends z.ZodType>(name: string, def: OneWayDef<S>): void;
  register<S extends z.ZodType, R>(name: string, def: BufferDef<S, R>): void;
  register<S extends z.ZodType, R>(name: string, def: StreamDef<S, R>): void;
  register(name: string, def: CommandDef): void {
    checkAppName(name);
    if (!['request', 'oneway', 'buffer', 'stream'].includes(def.kind))
      throw new XnatError('XNAT_ERR_COMMAND_KIND', { detail: String(def.kind) });
    this.defs.set(name, def);
  }

  /** Removes command `name`; later calls of it fail with XNAT_ERR_COMMAND_UNKNOWN. */
  unregister(name: string): boolean {
    return this.defs.delete(name);
  }

  /** The lookup relay and agent sessions consult (only `app.` names). */
  readonly lookup = (name: string): CommandDef | undefined =>
    name.startsWith(APP_PREFIX) ? this.defs.get(name) : undefined;
}

/**
 * The other side, as the application calls it. Each call takes the session's endpoint at call time, so a
 * call rides the session: it survives link cuts (the session replays it) and fails only when the session
 * ends (XNAT_ERR_COMMAND_CHANNEL_CLOSED) or was never there (XNAT_ERR_COMMAND_NO_SESSION).
 */
export class CommandPeer {
  constructor(
    private readonly endpoint: () => CommandEndpoint | undefined,
    /** Who the peer is, for error details. */
    readonly name: string,
  ) {}

  private current(command: string): CommandEndpoint {
    checkAppName(command);
    const e = this.endpoint();
    if (!e || e.closed) throw new XnatError('XNAT_ERR_COMMAND_NO_SESSION', { detail: this.name });
    return e;
  }

  /** Request/reply: resolves with the handler's reply (which may come as late as the timeout allows). */
  async request<T = unknown>(command: string, payload: unknown, opts?: CallOptions): Promise<T> {
    return this.current(command).request<T>(command, payload, opts);
  }

  /** One-way: no reply; throws at once when no session is open. */
  send(command: string, payload: unknown): void {
    this.current(command).send(command, payload);
  }

  /** Buffer: one block (capped, 16 MiB by default) with optional meta; progress as it is sent. */
  async sendBuffer<T = unknown>(
    command: string,
    data: Buffer,
    meta?: unknown,
    opts?: BufferCallOptions,
  ): Promise<T> {
    return (await this.current(command).sendBuffer(command, data, meta, opts)) as T;
  }

  /** Stream transfer: a Readable or a file path, flow controlled, SHA-256 checked at the end, with progress. */
  async sendStream<T = unknown>(
    command: string,
    source: Readable | string,
    opts?: StreamCallOptions,
  ): Promise<T> {
    return (await this.current(command).sendStream(command, source, opts)) as T;
  }
}
