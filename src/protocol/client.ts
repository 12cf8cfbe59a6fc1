// Typed use of catalogue commands: register a handler against a spec, call a spec and check the reply.
// It knows no command in particular; the catalogue supplies the schemas.
import type { z } from 'zod';
import { XnatError } from '../errors.ts';
import type { CallOptions, CommandEndpoint } from '../command/endpoint.ts';
import type { CommandContext, CommandOptions, CommandRegistry } from '../command/registry.ts';
import { zodPath } from '../command/registry.ts';
import type { CommandSpec } from './catalogue.ts';

type Awaitable<T> = T | Promise<T>;

/** Registers `handler` for request command `spec` with the spec's request and reply schemas. */
export function handleRequest<Req extends z.ZodType, Rep extends z.ZodType>(
  registry: CommandRegistry,
  spec: CommandSpec<Req, Rep> & { reply: Rep },
  handler: (payload: z.output<Req>, ctx: CommandContext) => Awaitable<z.input<Rep>>,
  options?: CommandOptions,
): void {
  if (spec.kind !== 'request')
    throw new XnatError('XNAT_ERR_INTERNAL', { detail: `${spec.name} is ${spec.kind}` });
  registry.register(spec.name, {
    kind: 'request',
    schema: spec.request,
    reply: spec.reply,
    handler,
    ...(options ? { options } : {}),
  });
}

/** Registers `handler` for one-way command `spec`. */
export function handleOneWay<Req extends z.ZodType>(
  registry: CommandRegistry,
  spec: CommandSpec<Req>,
  handler: (payload: z.output<Req>, ctx: CommandContext) => Awaitable<void>,
  options?: CommandOptions,
): void {
  if (spec.kind !== 'oneway')
    throw new XnatError('XNAT_ERR_INTERNAL', { detail: `${spec.name} is ${spec.kind}` });
  registry.register(spec.name, {
    kind: 'oneway',
    schema: spec.request,
    handler,
    ...(options ? { options } : {}),
  });
}

/**
 * Calls request command `spec`: the payload is checked before sending (XNAT_ERR_COMMAND_INVALID) and the
 * reply after (XNAT_ERR_COMMAND_REPLY_INVALID), so callers get typed values or typed errors.
 */
export async function callRequest<Req extends z.ZodType, Rep extends z.ZodType>(
  endpoint: CommandEndpoint,
  spec: CommandSpec<Req, Rep> & { reply: Rep },
  payload: z.input<Req>,
  opts?: CallOptions,
): Promise<z.output<Rep>> {
  const req = spec.request.safeParse(payload);
  if (!req.success) throw new XnatError('XNAT_ERR_COMMAND_INVALID', { detail: zodPath(req.error) });
  const raw = await endpoint.request(spec.name, req.data, opts);
  const rep = spec.reply.safeParse(raw);
  if (!rep.success) throw new XnatError('XNAT_ERR_COMMAND_REPLY_INVALID', { detail: zodPath(rep.error) });
  return rep.data;
}

/** Sends one-way command `spec` after checking the payload. */
export function sendOneWay<Req extends z.ZodType>(
  endpoint: CommandEndpoint,
  spec: CommandSpec<Req>,
  payload: z.input<Req>,
): void {
  const req = spec.request.safeParse(payload);
  if (!req.success) throw new XnatError('XNAT_ERR_COMMAND_INVALID', { detail: zodPath(req.error) });
  endpoint.send(spec.name, req.data);
}
