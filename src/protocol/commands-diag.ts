// The diagnostic-bundle commands of the catalogue: the relay fetching an agent's bundle over its session,
// and an admin client asking for one; with the bundle size bounds.
import * as z from 'zod';
import { nameSchema, spec } from './command-spec.ts';

/**
 * Largest diagnostic bundle, in bytes: the side that builds one drops its oldest log lines to fit, and a
 * receiver refuses a declared size above what it asked for (XNAT_ERR_DIAG_TOO_LARGE).
 */
export const DIAG_MAX_BYTES = 4 * 1024 * 1024;
/** The smallest cap a caller may ask for: a bundle without its log lines fits in it. */
export const DIAG_MIN_BYTES = 16 * 1024;
const diagTransferId = z.number().int().min(1).max(0xffffffff);
const diagMaxBytes = z.number().int().min(DIAG_MIN_BYTES).max(DIAG_MAX_BYTES);

export const diagFetch = spec({
  name: 'diag.fetch',
  kind: 'request',
  direction: 'relay->agent',
  request: z.object({ transferId: diagTransferId, maxBytes: diagMaxBytes }),
  reply: z.object({ size: z.number().int().min(0).max(DIAG_MAX_BYTES) }),
  doc: 'Asks the agent for its diagnostic bundle; it sends it as diag.bundle with this transferId and replies with its size once the transfer ended.',
});

export const diagBundle = spec({
  name: 'diag.bundle',
  kind: 'stream',
  direction: 'agent->relay',
  request: z.object({ transferId: diagTransferId }),
  doc: "The agent's diagnostic bundle (JSON, secrets redacted), a stream transfer with its size declared; one the relay did not ask for is refused with XNAT_ERR_DIAG_UNEXPECTED.",
});

export const adminDiag = spec({
  name: 'admin.diag',
  kind: 'request',
  direction: 'admin',
  request: z.object({
    transferId: diagTransferId,
    /** Relay: the named agent's bundle (through its session); absent: this process's own. */
    agentName: nameSchema.optional(),
    maxBytes: diagMaxBytes.default(DIAG_MAX_BYTES),
  }),
  reply: z.object({ size: z.number().int().min(0).max(DIAG_MAX_BYTES) }),
  doc: "A diagnostic bundle (this process's, or on a relay the named agent's), pushed as admin.diagBundle with this transferId; the reply follows its end.",
});

export const adminDiagBundle = spec({
  name: 'admin.diagBundle',
  kind: 'stream',
  direction: 'admin-push',
  request: z.object({ transferId: diagTransferId }),
  doc: 'The bundle an admin.diag asked for, a stream transfer with its size declared (the CLI shows its progress).',
});
