// Test helpers for real processes: start `node bin/xnat.js ...`, read its pino JSON lines, wait on them,
// and kill every started process when the test process exits. It knows no xnat command or log message.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';

/** The repository root (cwd of started processes). */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
/** Interval between polls of waitFor's condition, in milliseconds. */
const POLL_INTERVAL_MS = 10;
/** Characters of stderr kept per process; older text is dropped so a chatty child cannot eat memory. */
const MAX_STDERR_CHARS = 256 * 1024;
/** Log lines and stderr characters quoted in a timeout message. */
const TAIL_LINES = 8;
const TAIL_STDERR_CHARS = 2000;

/** One pino line as parsed from stdout. */
export interface LogLine {
  readonly level?: number;
  readonly msg?: string;
  readonly [field: string]: unknown;
}

/** A predicate over log lines, or fields that must all be deep-equal (e.g. `{ msg: 'listening', role: 'relay' }`). */
export type LogMatch = ((line: LogLine) => boolean) | Record<string, unknown>;

export interface StartOptions {
  /** Extra environment, merged over process.env and XNAT_LOG_FORMAT=json. */
  readonly env?: Record<string, string | undefined>;
  /** Script run by node instead of bin/xnat.js, relative to the repo root (for helper tests and fixtures). */
  readonly script?: string;
  /** A program run instead of `node SCRIPT` (a single executable build of xnat); absolute path. */
  readonly program?: string;
  /** Working directory; default the repo root. */
  readonly cwd?: string;
  /** Name used in error messages; default the first argument. */
  readonly name?: string;
}

/** How a process ended: exit code, or the signal that killed it. */
export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

const running = new Set<XnatProcess>();
let exitHookInstalled = false;

/** A started process with its parsed log lines, stderr text and exit. */
export class XnatProcess {
  /** Every JSON line of stdout so far, in order. */
  readonly logs: LogLine[] = [];
  /** Lines of stdout that were not JSON objects (a crash banner, pretty output by mistake). */
  readonly otherLines: string[] = [];
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  readonly name: string;
  private readonly child: ChildProcess;
  private stderrText = '';
  private partial = '';
  private exitInfo: ExitInfo | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(args: readonly string[], opts: StartOptions = {}) {
    this.name = opts.name ?? args[0] ?? opts.script ?? 'xnat';
    const script = resolve(REPO_ROOT, opts.script ?? 'bin/xnat.js');
    const [cmd, argv] = opts.program ? [opts.program, args] : [process.execPath, [script, ...args]];
    this.child = spawn(cmd, argv, {
      cwd: opts.cwd ?? REPO_ROOT,
      env: { ...process.env, XNAT_LOG_FORMAT: 'json', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    running.add(this);
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (text: string) => this.onStdout(text));
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (text: string) => {
      this.stderrText = (this.stderrText + text).slice(-MAX_STDERR_CHARS);
    });
    // A child that dies early must not crash the test with EPIPE on its stdin.
    this.child.stdin!.on('error', () => {});
    this.exited = new Promise<ExitInfo>((done) => {
      // 'close' (not 'exit') so every stdout line is parsed before `exited` resolves.
      this.child.once('close', (code, signal) => {
        this.flushPartial();
        this.exitInfo = { code, signal };
        running.delete(this);
        this.notify();
        done(this.exitInfo);
      });
      this.child.once('error', (err) => {
        this.stderrText += `spawn error: ${err.message}\n`;
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }
  /** Everything written to stderr so far (the last 256 KiB). */
  get stderr(): string {
    return this.stderrText;
  }
  /** The exit, once it happened. */
  get exit(): ExitInfo | undefined {
    return this.exitInfo;
  }
  /** The child's stdin, for processes that read commands from it. */
  get stdin(): NodeJS.WritableStream {
    return this.child.stdin!;
  }

  /** Sends `signal` (default SIGTERM); a no-op once the process has exited. */
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.exitInfo === undefined) this.child.kill(signal);
  }

  /** Kills with `signal` and waits for the exit; SIGKILL after `graceMs` if it is still running. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<ExitInfo> {
    this.kill(signal);
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Resolves with the first log line (already seen or to come) that matches; rejects when the process
   * exits first or after `timeoutMs`, quoting the last lines and stderr.
   */
  waitForLog(match: LogMatch, timeoutMs: number): Promise<LogLine> {
    const test = typeof match === 'function' ? match : fieldsMatcher(match);
    const what = typeof match === 'function' ? 'a log line matching the predicate' : JSON.stringify(match);
    let index = 0;
    return new Promise<LogLine>((resolveLine, reject) => {
      const check = (): void => {
        for (; index < this.logs.length; index++) {
          const line = this.logs[index]!;
          if (test(line)) {
            finish();
            resolveLine(line);
            return;
          }
        }
        if (this.exitInfo) {
          finish();
          reject(
            new Error(`${this.name} exited (${describeExit(this.exitInfo)}) before ${what}\n${this.tail()}`),
          );
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms\n${this.tail()}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** The last lines and stderr, for failure messages. */
  tail(): string {
    const lines = this.logs.slice(-TAIL_LINES).map((l) => `  ${JSON.stringify(l)}`);
    const other = this.otherLines.slice(-TAIL_LINES).map((l) => `  ${l}`);
    return [
      `last log lines:`,
      ...lines,
      ...(other.length ? ['other stdout:', ...other] : []),
      `stderr: ${this.stderrText.slice(-TAIL_STDERR_CHARS) || '(empty)'}`,
    ].join('\n');
  }

  private onStdout(text: string): void {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop()!;
    for (const part of parts) this.addLine(part);
    this.notify();
  }

  private flushPartial(): void {
    if (this.partial) this.addLine(this.partial);
    this.partial = '';
  }

  private addLine(raw: string): void {
    const text = raw.trim();
    if (!text) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed))
      this.logs.push(parsed as LogLine);
    else this.otherLines.push(text);
  }

  private notify(): void {
    for (const check of [...this.listeners]) check();
  }

  /** Kills synchronously with SIGKILL; for the exit hook. */
  killNow(): void {
    if (this.exitInfo === undefined) {
      try {
        this.child.kill('SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
}

function fieldsMatcher(fields: Record<string, unknown>): (line: LogLine) => boolean {
  const entries = Object.entries(fields);
  return (line) => entries.every(([k, v]) => isDeepStrictEqual(line[k], v));
}

function describeExit(e: ExitInfo): string {
  return e.signal ? `signal ${e.signal}` : `code ${e.code}`;
}

/**
 * Spawns `node bin/xnat.js ...args` in the repo root with XNAT_LOG_FORMAT=json and tracks it; every
 * started process is SIGKILLed when the test process exits.
 */
export function startProcess(args: readonly string[], opts: StartOptions = {}): XnatProcess {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', killAll);
    // A signal skips 'exit': kill the children, then let the signal take its default course.
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        killAll();
        process.kill(process.pid, signal);
      });
    }
  }
  return new XnatProcess(args, opts);
}

/** SIGKILLs every started process still running (synchronously; safe in an exit handler). */
export function killAll(): void {
  for (const p of [...running]) p.killNow();
}

/** Processes started and not yet exited. */
export function runningProcesses(): readonly XnatProcess[] {
  return [...running];
}

/**
 * Polls `condition` every few milliseconds until it is true; rejects with `what` after `timeoutMs`.
 * A condition that throws fails at once with that error.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (performance.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
  }
}
