// The resume proof: HMAC-SHA256 over the session id and the new link's handshake hash, keyed by the resume secret.
// It knows nothing of frames or links; callers pass the bytes in and compare with verifyResumeProof.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { RESUME_PROOF_BYTES, RESUME_SECRET_BYTES, SESSION_ID_BYTES } from '../wire/frame.ts';

/** Domain-separation label at the start of every proof input (ASCII, no terminator). */
export const RESUME_PROOF_LABEL = Buffer.from('xnat-resume-v1', 'ascii');

/**
 * proof = HMAC-SHA256(key = resumeSecret, "xnat-resume-v1" || sessionId || handshakeHash). Bound to the
 * link's handshake hash, so a proof seen on one link is useless on any other.
 */
export function computeResumeProof(resumeSecret: Buffer, sessionId: Buffer, handshakeHash: Buffer): Buffer {
  return createHmac('sha256', resumeSecret)
    .update(RESUME_PROOF_LABEL)
    .update(sessionId)
    .update(handshakeHash)
    .digest()
    .subarray(0, RESUME_PROOF_BYTES);
}

/** Constant-time check of a received proof against the expected one. */
export function verifyResumeProof(
  resumeSecret: Buffer,
  sessionId: Buffer,
  handshakeHash: Buffer,
  proof: Buffer,
): boolean {
  const expected = computeResumeProof(resumeSecret, sessionId, handshakeHash);
  return proof.length === expected.length && timingSafeEqual(proof, expected);
}

/** A fresh random session id (16 bytes) and resume secret (32 bytes). */
export function newSessionIdentity(random: (n: number) => Buffer = randomBytes): {
  id: Buffer;
  resumeSecret: Buffer;
} {
  return { id: random(SESSION_ID_BYTES), resumeSecret: random(RESUME_SECRET_BYTES) };
}
