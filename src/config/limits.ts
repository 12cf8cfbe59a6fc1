// Limits a profile shares with the wire (admin.auth): a leaf module, so the admin protocol can import them
// without loading the profile parser (yaml, the schema) into `xnat dashboard` (issue 10: memory).

/** Shortest admin token accepted, in characters. */
export const MIN_ADMIN_TOKEN_CHARS = 16;
/**
 * Longest admin token accepted, in characters (UTF-16 units, as String.length counts): one limit for the
 * profile and for admin.auth on the wire, so every token a profile accepts can authenticate.
 */
export const MAX_ADMIN_TOKEN_CHARS = 512;
