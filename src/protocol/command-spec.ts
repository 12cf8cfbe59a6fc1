// The shape of a catalogue entry (CommandSpec), its typed constructor, and the small zod shapes that
// several areas of the catalogue share; catalogue.ts gathers the commands built with them.
import * as z from 'zod';
import { XnatError } from '../errors.ts';
import type { CommandKind } from '../command/registry.ts';

/** Version of this catalogue and of the STREAM_OPEN meta; hello refuses any other. */
export const PROTOCOL_VERSION = 2;

/** Who sends a command to whom. 'admin': an admin client to an admin endpoint; 'admin-push': the reverse. */
export type CommandDirection = 'agent->relay' | 'relay->agent' | 'either' | 'admin' | 'admin-push';

/** One catalogue entry. `reply` is absent for one-way commands. */
export interface CommandSpec<Req extends z.ZodType = z.ZodType, Rep extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly kind: CommandKind;
  readonly direction: CommandDirection;
  readonly request: Req;
  readonly reply?: Rep;
  readonly doc: string;
}

export function spec<Req extends z.ZodType, Rep extends z.ZodType>(
  s: CommandSpec<Req, Rep> & { reply: Rep },
): CommandSpec<Req, Rep> & { reply: Rep };
export function spec<Req extends z.ZodType>(
  s: CommandSpec<Req, z.ZodNever> & { reply?: undefined },
): CommandSpec<Req, z.ZodNever>;
export function spec(s: CommandSpec): CommandSpec {
  return s;
}

// ---- shared shapes

/** Names of agents and mappings: 1-64 of [A-Za-z0-9._-]. */
export const nameSchema = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/);
export const port = z.number().int().min(0).max(65535);
export const shortText = z.string().max(200);
/** An error as it crosses the wire inside a reply: code and message, never a stack. */
export const wireErrorSchema = z.object({ code: z.string().max(64), message: z.string().max(300) });
export const counters = z.record(z.string().max(64), z.number());

export const mappingPhaseSchema = z.enum(['pending', 'registering', 'ready', 'failed']);

/** Throws XNAT_ERR_PROTOCOL_VERSION unless `version` is PROTOCOL_VERSION (the relay's hello handler calls it). */
export function checkProtocolVersion(version: number): void {
  if (version !== PROTOCOL_VERSION)
    throw new XnatError('XNAT_ERR_PROTOCOL_VERSION', {
      detail: `peer ${version}, this side ${PROTOCOL_VERSION}`,
    });
}
