// Reads a file the profile loader needs (the profile, a privateKeyFile) with a byte cap: open without
// blocking, fstat, refuse what is not a regular file, read at most cap+1 bytes. It knows no file format.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

/** Why a bounded read failed; the caller turns it into its XNAT_ERR_CONFIG_ error with its own context. */
export type BoundedReadFailure =
  | { readonly kind: 'io'; readonly cause: unknown }
  | { readonly kind: 'not-file'; readonly what: string }
  | { readonly kind: 'too-large' };

export type BoundedRead =
  | {
      readonly ok: true;
      readonly bytes: Buffer;
      /** st_mode of the file read (permission bits). */ readonly mode: number;
    }
  | ({ readonly ok: false } & BoundedReadFailure);

function describe(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Reads `path` whole if it is a regular file of at most `maxBytes`. O_NONBLOCK so that opening a FIFO
 * with no writer returns at once (it is then refused) instead of hanging; /dev/zero and other endless
 * files are refused by fstat before a byte is read, and a file that grows after fstat (or reports size 0,
 * as /proc files do) is still read no further than maxBytes + 1.
 */
export function readBoundedFile(path: string, maxBytes: number): BoundedRead {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0));
  } catch (cause) {
    return { ok: false, kind: 'io', cause };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { ok: false, kind: 'not-file', what: describe(st) };
    if (st.size > maxBytes) return { ok: false, kind: 'too-large' };
    // Sized from fstat (plus one byte to see growth), grown up to maxBytes + 1 when the size lied.
    let buf = Buffer.allocUnsafe(Math.min(maxBytes, Math.max(st.size, 4096)) + 1);
    let got = 0;
    for (;;) {
      if (got === buf.length) {
        if (got > maxBytes) return { ok: false, kind: 'too-large' };
        const bigger = Buffer.allocUnsafe(Math.min(maxBytes + 1, buf.length * 2));
        buf.copy(bigger, 0, 0, got);
        buf = bigger;
      }
      const n = readSync(fd, buf, got, buf.length - got, null);
      if (n === 0) break;
      got += n;
    }
    return { ok: true, bytes: buf.subarray(0, got), mode: st.mode };
  } catch (cause) {
    return { ok: false, kind: 'io', cause };
  } finally {
    closeSync(fd);
  }
}
