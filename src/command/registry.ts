// The explicit table of commands one side handles: name -> kind, zod schemas, handler, options.
// Nothing registers on import; owners call createRegistry() and register(). It knows nothing of the wire.
import type { Readable } from 'node:stream';
import type { z } from 'zod';
import { XnatError } from '../errors.ts';
import { MAX_NAME_LENGTH } from './codec.ts';

/** The four command kinds. */
export type CommandKind = 'request' | 'oneway' | 'buffer' | 'stream';

/** What every handler receives besides its payload. */
export interface CommandContext {
  /** Who is on the other side (the endpoint's `peer` option), for authorisation and logging. */
  readonly peer: unknown;
  /** The command name. */
  readonly name: string;
  /** Aborted when the caller cancels, the call times out on the caller side, or the endpoint closes. */
  readonly signal: AbortSignal;
}

/** Context of a stream handler: progress reporting and receiver-side cancel. */
export interface StreamContext extends CommandContext {
  /** Size the sender declared, in bytes, if any. */
  readonly size: number | undefined;
  /** Set by the handler to hear progress: bytes received so far and the declared total. */
  onProgress?: (received: number, total?: number) => void;
  /** Cancels the transfer from the receiving side: the sender's call fails with XNAT_ERR_ABORTED. */
  cancel(): void;
}

/** Per-command options. */
export interface CommandOptions {
  /** Run invocations one at a time, in arrival order; default false. */
  readonly serial?: boolean;
  /** Buffer kind only: size cap in bytes for this command; default the endpoint's maxBufferBytes. */
  readonly maxBytes?: number;
}

type Awaitable<T> = T | Promise<T>;

export interface RequestDef<S extends z.ZodType = z.ZodType, R = unknown> {
  readonly kind: 'request';
  readonly schema: S;
  readonly reply?: z.ZodType<R>;
  readonly handler: (payload: z.output<S>, ctx: CommandContext) => Awaitable<R>;
  readonly options?: CommandOptions;
}
export interface OneWayDef<S extends z.ZodType = z.ZodType> {
  readonly kind: 'oneway';
  readonly schema: S;
  readonly handler: (payload: z.output<S>, ctx: CommandContext) => Awaitable<void>;
  readonly options?: CommandOptions;
}
/** Buffer kind: `schema` checks the meta; the handler gets the whole block once it arrived intact. */
export interface BufferDef<S extends z.ZodType = z.ZodType, R = unknown> {
  readonly kind: 'buffer';
  readonly schema: S;
  readonly reply?: z.ZodType<R>;
  readonly handler: (data: Buffer, meta: z.output<S>, ctx: CommandContext) => Awaitable<R>;
  readonly options?: CommandOptions;
}
/** Stream kind: `schema` checks the meta; the handler reads the Readable (it errors on integrity failure). */
export interface StreamDef<S extends z.ZodType = z.ZodType, R = unknown> {
  readonly kind: 'stream';
  readonly schema: S;
  readonly reply?: z.ZodType<R>;
  readonly handler: (source: Readable, meta: z.output<S>, ctx: StreamContext) => Awaitable<R>;
  readonly options?: CommandOptions;
}

/** Any command definition (handlers typed loosely once stored). */
export type CommandDef =
  | RequestDef<z.ZodType, unknown>
  | OneWayDef<z.ZodType>
  | BufferDef<z.ZodType, unknown>
  | StreamDef<z.ZodType, unknown>;

/** name -> definition; built by the owner, read by endpoints. */
export interface CommandRegistry {
  register<S extends z.ZodType, R>(name: string, def: RequestDef<S, R>): this;
  register<S extends z.ZodType>(name: string, def: OneWayDef<S>): this;
  register<S extends z.ZodType, R>(name: string, def: BufferDef<S, R>): this;
  register<S extends z.ZodType, R>(name: string, def: StreamDef<S, R>): this;
  get(name: string): CommandDef | undefined;
  names(): string[];
}

class Registry implements CommandRegistry {
  private readonly table = new Map<string, CommandDef>();

  constructor(private readonly fallback?: (name: string) => CommandDef | undefined) {}

  register(name: string, def: unknown): this {
    if (name.length === 0 || name.length > MAX_NAME_LENGTH)
      throw new XnatError('XNAT_ERR_INTERNAL', { detail: 'command name length' });
    if (this.table.has(name))
      throw new XnatError('XNAT_ERR_INTERNAL', { detail: `command ${name} registered twice` });
    this.table.set(name, def as CommandDef);
    return this;
  }

  get(name: string): CommandDef | undefined {
    return this.table.get(name) ?? this.fallback?.(name);
  }

  names(): string[] {
    return [...this.table.keys()];
  }
}

/**
 * An empty registry. `fallback` answers names the table does not have (an embedder's commands, which may be
 * added while sessions run); the table's own entries always win, so a fallback can never shadow them.
 */
export function createRegistry(fallback?: (name: string) => CommandDef | undefined): CommandRegistry {
  return new Registry(fallback);
}

/** The first zod issue's path as "a.b.0", for XNAT_ERR_COMMAND_INVALID details (paths, never values). */
export function zodPath(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return '(root)';
  const path = issue.path.map((p) => String(p)).join('.');
  return (path === '' ? '(root)' : path).slice(0, 128);
}
