// The UDP commands of the catalogue: a visitor flow opened and dropped, and the relay's offer of a
// link's UDP path.
import * as z from 'zod';
import { nameSchema, port, spec } from './command-spec.ts';

export const flowOpen = spec({
  name: 'flow.open',
  kind: 'oneway',
  direction: 'relay->agent',
  request: z.object({
    flowId: z.number().int().min(0).max(0xffffffff),
    mapping: nameSchema,
    visitor: z.object({ address: z.string().max(64), port }),
    /** The relay's socket the visitor sent to (the PROXY protocol header's destination). */
    public: z.object({ address: z.string().max(64), port }).optional(),
  }),
  doc: 'A new UDP visitor of a mapping: DATAGRAM frames with this flowId follow (both ways); its first ones may arrive before it.',
});

export const flowClose = spec({
  name: 'flow.close',
  kind: 'oneway',
  direction: 'either',
  request: z.object({ flowId: z.number().int().min(0).max(0xffffffff) }),
  doc: 'The sender dropped a UDP flow (idle timeout, eviction at a cap); the receiver forgets it (the agent closes its LAN socket).',
});

export const udpOffer = spec({
  name: 'udp.offer',
  kind: 'oneway',
  direction: 'relay->agent',
  request: z.object({
    /** The link it is for: hex of the first 8 bytes of that link's handshake hash. */
    link: z.string().regex(/^[0-9a-f]{16}$/),
    /** The relay's receiver index of that link's UDP path. */
    index: z.number().int().min(1).max(0xffffffff),
  }),
  doc: "The relay's UDP path for one link is open at its control port: seal datagrams to this receiver index (docs/protocol.md, UDP path). Ignored when it names another link.",
});
