// How a mapping's target reads in status and logs: `host:port`, or `inproc:NAME` for a handler mapping
// (an embedder's in-process service). It knows nothing of dialling.
import { formatHostPort, type MappingProfile } from '../config/index.ts';

export function mappingTarget(m: MappingProfile): string {
  return m.handler !== undefined ? `inproc:${m.handler}` : m.local ? formatHostPort(m.local) : '';
}
