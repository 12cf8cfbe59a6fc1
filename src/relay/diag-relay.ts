// The relay's half of `xnat diag --agent NAME`: per agent session, an inbox for the diag.bundle stream
// transfers it asked for, and the ask itself (diag.fetch). It hands the bundle on as it arrives (the
// admin endpoint streams it to the CLI); it keeps nothing of it.
import type { CommandRegistry } from '../command/registry.ts';
import { XnatError, isXnatError, type ErrorCode } from '../errors.ts';
import { callRequest, diagBundle, diagFetch, DIAG_MAX_BYTES } from '../protocol/index.ts';
import { DiagInbox, pullBundle, type PulledBundle } from '../protocol/diag-inbox.ts';
import type { AgentSession } from './agent-session.ts';

/** Longest wait for diag.fetch's reply (it follows the whole transfer), in ms. */
export const DIAG_FETCH_TIMEOUT_MS = 120_000;

/** Codes a call fails with when its session ends under it. */
const SESSION_GONE: ReadonlySet<ErrorCode> = new Set([
  'XNAT_ERR_COMMAND_CHANNEL_CLOSED',
  'XNAT_ERR_SESSION_CLOSED',
  'XNAT_ERR_SESSION_EXPIRED',
  'XNAT_ERR_MUX_CLOSED',
]);

const inboxes = new WeakMap<AgentSession, DiagInbox>();

/** Registers diag.bundle on one session's registry (buildRelayRegistry calls it). */
export function registerDiagInbox(registry: CommandRegistry, session: AgentSession): void {
  const inbox = new DiagInbox();
  inboxes.set(session, inbox);
  inbox.register(registry, diagBundle);
}

/**
 * Asks the agent of `session` for its bundle. XNAT_ERR_DIAG_UNKNOWN_AGENT when the profile has no such
 * agent, XNAT_ERR_DIAG_AGENT_DETACHED when it has no attached session. Once begun, the transfer rides the
 * session: a link cut delays it and it resumes with the session.
 */
export function fetchAgentDiag(
  agentName: string,
  known: boolean,
  session: AgentSession | undefined,
  maxBytes = DIAG_MAX_BYTES,
): Promise<PulledBundle> {
  if (!known) return Promise.reject(new XnatError('XNAT_ERR_DIAG_UNKNOWN_AGENT', { detail: agentName }));
  const inbox = session && inboxes.get(session);
  if (!session || !inbox || session.session.state !== 'attached')
    return Promise.reject(new XnatError('XNAT_ERR_DIAG_AGENT_DETACHED', { detail: agentName }));
  return pullBundle(inbox, maxBytes, (transferId) =>
    callRequest(
      session.endpoint,
      diagFetch,
      { transferId, maxBytes },
      { timeoutMs: DIAG_FETCH_TIMEOUT_MS },
    ).catch((err: unknown) => {
      // The session ended under the transfer: say so in the operator's words, not the channel's.
      if (isXnatError(err) && SESSION_GONE.has(err.code))
        throw new XnatError('XNAT_ERR_DIAG_AGENT_DETACHED', { detail: `${agentName}: ${err.code}` });
      throw err;
    }),
  );
}
