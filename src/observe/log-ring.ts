// The last log lines of this process, in a bounded ring, for the admin endpoint's admin.logs (the
// dashboard's log panel). It is a pino destination fed the same JSON lines as stdout, after redaction;
// it knows nothing of admin connections.

/** Lines kept; older ones are dropped first. */
export const LOG_RING_LINES = 500;
/** Characters kept of one line's message and of its fields each (a huge detail cannot fill memory). */
export const MAX_LOG_TEXT = 300;

export type LogLevelName = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** One recent log line. */
export interface LogEntry {
  /** Increasing per process; admin.logs returns lines after a given seq. */
  readonly seq: number;
  /** Wall-clock ms since the epoch. */
  readonly time: number;
  readonly level: LogLevelName;
  readonly msg: string;
  /** The other fields as `key=value` pairs, space-separated (pid, hostname, role and time left out). */
  readonly fields: string;
}

const LEVELS: Record<number, LogLevelName> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};
/** Numeric pino level of each name, for filters. */
export const LEVEL_VALUES: Record<LogLevelName, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
};
/** Fields every line of a process carries (role is bound on the root): left out of the text. */
const SKIP = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'role']);

const cut = (text: string) => (text.length > MAX_LOG_TEXT ? `${text.slice(0, MAX_LOG_TEXT - 1)}…` : text);

export class LogRing {
  private readonly lines: LogEntry[] = [];
  private seq = 0;

  constructor(private readonly max = LOG_RING_LINES) {}

  /** pino's destination interface: one JSON line (or several) per call. */
  write(chunk: string): boolean {
    for (const line of chunk.split('\n')) if (line) this.add(line);
    return true;
  }

  /** Lines with seq > `after` and level >= `minLevel`, oldest first, at most `limit` (the newest ones). */
  since(after = 0, limit = this.max, minLevel: LogLevelName = 'trace'): LogEntry[] {
    const min = LEVEL_VALUES[minLevel];
    const out = this.lines.filter((l) => l.seq > after && LEVEL_VALUES[l.level] >= min);
    return out.slice(Math.max(0, out.length - limit));
  }

  get lastSeq(): number {
    return this.seq;
  }

  private add(line: string): void {
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(line) as Record<string, unknown>;
    } catch {
      obj = { level: 30, msg: line };
    }
    const time = typeof obj.time === 'string' ? Date.parse(obj.time) : Number(obj.time ?? Date.now());
    const fields = Object.entries(obj)
      .filter(([k]) => !SKIP.has(k))
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    this.lines.push({
      seq: ++this.seq,
      time: Number.isFinite(time) ? time : Date.now(),
      level: LEVELS[Number(obj.level)] ?? 'info',
      msg: cut(String(obj.msg ?? '')),
      fields: cut(fields),
    });
    if (this.lines.length > this.max) this.lines.splice(0, this.lines.length - this.max);
  }
}
