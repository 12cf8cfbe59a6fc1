// One profile's YAML text: parsed with line numbers, and problems reported as `file:line key.path: reason`.
// It knows nothing of the schema; it maps key paths back to YAML nodes and turns issues into XnatErrors.
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import type { z } from 'zod';
import { XnatError, type ErrorCode } from '../errors.ts';
import { KEY_TEXT_PARAM } from './fields.ts';
import { closestKey } from './suggest.ts';

/** One problem in a profile; `path` is a key path (`['mappings', 1, 'remotePort']`) or an env var name. */
export interface ProfileIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
  /** The value is bad key text: reported as XNAT_ERR_CONFIG_KEY_TEXT. */
  readonly keyText?: boolean;
  /** The path names an environment variable, not a key of the file (no line). */
  readonly env?: boolean;
}

/** Most problems listed in one error; the rest are counted. */
const MAX_LISTED_ISSUES = 10;

/**
 * The yaml library's reason without the source text some messages end with ("Block scalar header includes
 * extra characters: <the rest of the line>", "Unresolved tag: <tag>"): that text may be a secret's line.
 */
function yamlReason(message: string): string {
  // Any line terminator ends the first line: "Not a YAML token: \r<key>" has no \n before the key.
  return message
    .split(/[\r\n\u2028\u2029]/)[0]!
    .replace(/(?<=[A-Za-z)]): .*$/s, '')
    .slice(0, 200);
}

/** Key names shown as written: what a profile key (or a typo of one) looks like; longer is a value's shape. */
const SHOWN_KEY_RE = /^[A-Za-z0-9_.-]{1,32}$/;

/**
 * Renders `['mappings', 1, 'remotePort']` as `mappings[1].remotePort`. An unknown key that cannot be a key
 * name (a 44-character base64 key written where a key goes) is shown by its length, never its text.
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const text = String(seg);
      const name = SHOWN_KEY_RE.test(text) ? text : `<key of ${text.length} characters>`;
      out += out === '' ? name : `.${name}`;
    }
  }
  return out === '' ? '(top level)' : out;
}

export class ProfileSource {
  /** The document as plain data (maps as objects, sequences as arrays). */
  readonly data: unknown;
  private readonly contents: Node | null;
  private readonly lines: LineCounter;

  /** Parses `text`; throws XNAT_ERR_CONFIG_YAML with the line of the first syntax error. */
  constructor(
    text: string,
    readonly name: string,
  ) {
    this.lines = new LineCounter();
    // prettyErrors off: pretty messages quote the offending source line, which may hold a secret. logLevel
    // 'error': the library's warnings (e.g. a collection used as a key) go to stderr, key text and all.
    const doc = parseDocument(text, {
      lineCounter: this.lines,
      prettyErrors: false,
      uniqueKeys: true,
      logLevel: 'error',
    });
    const first = doc.errors[0];
    if (first) {
      const line = this.lines.linePos(first.pos[0]).line;
      throw new XnatError('XNAT_ERR_CONFIG_YAML', {
        detail: `${this.name}:${line} ${yamlReason(first.message)}`,
      });
    }
    this.contents = doc.contents as Node | null;
    try {
      this.data = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      // Alias bombs and broken anchors surface here, after parsing. No cause: its message names the alias,
      // source text that a logged error's cause chain would print.
      throw new XnatError('XNAT_ERR_CONFIG_YAML', {
        detail: `${this.name}: ${yamlReason((err as Error).message)}`,
      });
    }
  }

  /** The 1-based line of the deepest node on `path` that exists (the key's line for a mapping entry). */
  lineOf(path: readonly PropertyKey[]): number | undefined {
    let node: unknown = this.contents;
    let line = this.lineAt(node);
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) break;
        line = this.lineAt(pair.key) ?? line;
        node = pair.value;
        // A scalar value on a later line than its key (rare) is the better pointer.
        if (isScalar(node)) line = this.lineAt(node) ?? line;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg];
        if (item === undefined) break;
        node = item;
        line = this.lineAt(node) ?? line;
      } else {
        break;
      }
    }
    return line;
  }

  /**
   * Converts zod issues to profile issues: one per unknown key (with the closest allowed key, when
   * `keysAt` gives the keys allowed at a path), key-text issues flagged.
   */
  fromZod(error: z.ZodError, keysAt?: (path: readonly PropertyKey[]) => readonly string[]): ProfileIssue[] {
    const out: ProfileIssue[] = [];
    for (const iss of error.issues) {
      if (iss.code === 'unrecognized_keys') {
        const allowed = keysAt?.(iss.path) ?? [];
        for (const key of iss.keys) {
          // Only a key that looks like one (SHOWN_KEY_RE) gets a suggestion: never echo a value's text.
          const near = SHOWN_KEY_RE.test(key) ? closestKey(key, allowed) : undefined;
          const message = near ? `unknown key (did you mean "${near}"?)` : 'unknown key';
          out.push({ path: [...iss.path, key], message });
        }
      } else if (iss.code === 'custom' && iss.params?.[KEY_TEXT_PARAM] === true) {
        out.push({ path: iss.path, message: iss.message, keyText: true });
      } else {
        out.push({ path: iss.path, message: iss.message });
      }
    }
    return out;
  }

  /** The error for `issues` (non-empty): KEY_TEXT when every issue is bad key text, else INVALID. */
  toError(issues: readonly ProfileIssue[]): XnatError {
    const located = issues.map((iss) => ({ iss, line: iss.env ? undefined : this.lineOf(iss.path) }));
    located.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    const listed = located.slice(0, MAX_LISTED_ISSUES).map(({ iss, line }) => {
      const where = iss.env ? 'environment' : line === undefined ? this.name : `${this.name}:${line}`;
      return `${where} ${iss.env ? String(iss.path[0]) : formatPath(iss.path)}: ${iss.message}`;
    });
    const more = located.length - listed.length;
    if (more > 0) listed.push(`and ${more} more`);
    const code: ErrorCode = issues.every((i) => i.keyText)
      ? 'XNAT_ERR_CONFIG_KEY_TEXT'
      : 'XNAT_ERR_CONFIG_INVALID';
    return new XnatError(code, { detail: listed.join('; ') });
  }

  private lineAt(node: unknown): number | undefined {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? this.lines.linePos(range[0]).line : undefined;
  }
}
