// Warnings about a profile that loads but is unsafe: files holding secrets that other users may read.
// It knows file modes and wording only; the loader decides which files hold secrets.

/** The mode bits ssh refuses a private key file for: any access by group or others. */
const OPEN_BITS = 0o077;

/** True when a file of `mode` may be read or written by users other than its owner (never on Windows). */
export function openToOthers(mode: number): boolean {
  return process.platform !== 'win32' && (mode & OPEN_BITS) !== 0;
}

/** The warning for a secret-holding file others may read, with the command that fixes it. */
export function openFileWarning(path: string, mode: number, holds: string): string {
  const octal = (mode & 0o777).toString(8).padStart(4, '0');
  return `${path} holds ${holds}, and other users may read it (mode ${octal}): run chmod 600 ${path}`;
}
