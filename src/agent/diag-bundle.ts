// The agent's answer to diag.fetch: it builds its diagnostic bundle (src/protocol/diag-bundle.ts) and
// pushes it to the relay as a diag.bundle stream transfer, then replies with its size.
// It owns no state; the agent supplies the bundle and the session's endpoint.
import type { CommandEndpoint } from '../command/endpoint.ts';
import type { CommandRegistry } from '../command/registry.ts';
import { XnatError } from '../errors.ts';
import { diagBundle, diagFetch, handleRequest } from '../protocol/index.ts';
import { bundleSource } from '../protocol/diag-bundle.ts';

export interface AgentDiagSource {
  /** The session's command endpoint (the one diag.fetch came in on). */
  endpoint(): CommandEndpoint | undefined;
  /** Builds the bundle within `maxBytes`; absent: diag.fetch fails with XNAT_ERR_COMMAND_UNKNOWN. */
  readonly bundle: ((maxBytes: number) => Buffer) | undefined;
}

export function registerAgentDiag(registry: CommandRegistry, src: AgentDiagSource): void {
  // One at a time: a relay asking again and again gets its bundles in turn, never many built at once.
  handleRequest(
    registry,
    diagFetch,
    async (req) => {
      if (!src.bundle)
        throw new XnatError('XNAT_ERR_COMMAND_UNKNOWN', { detail: 'no diagnostic bundle here' });
      const endpoint = src.endpoint();
      if (!endpoint) throw new XnatError('XNAT_ERR_COMMAND_CHANNEL_CLOSED');
      const bundle = src.bundle(req.maxBytes);
      const { size, source } = bundleSource(bundle);
      await endpoint.sendStream(diagBundle.name, source, {
        size,
        meta: { transferId: req.transferId },
      });
      return { size: bundle.length };
    },
    { serial: true },
  );
}
