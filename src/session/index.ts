// The session layer's public surface: what mux, relay and agent import.
// It re-exports only; the mechanisms live in the files named below.
export {
  Session,
  type DatagramPath,
  type SessionInit,
  type SessionRole,
  type SessionState,
  type SessionStats,
} from './session.ts';
export { SessionServer, type SessionServerOptions } from './session-server.ts';
export {
  SessionClient,
  DEFAULT_CLIENT_BACKOFF,
  type LinkErrorInfo,
  type OutageSummary,
  type SessionClientOptions,
} from './session-client.ts';
export { DEFAULT_AUTH_RETRY_DELAY_MS, AUTH_RETRY_MAX_FACTOR } from './redial.ts';
export type { SessionLink } from './session-link.ts';
export { computeResumeProof, verifyResumeProof, RESUME_PROOF_LABEL } from './resume-proof.ts';
export * from './session-options.ts';
