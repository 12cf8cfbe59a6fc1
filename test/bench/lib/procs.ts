// Child processes of a benchmark run: spawn any command, read its lines, wait on them, and kill every
// started process (and what it forked) by pid at the end, on error and on SIGINT. It knows no measure.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Characters of stdout/stderr kept per process for failure messages. */
const MAX_TEXT_CHARS = 64 * 1024;
/** Time a process gets to exit after SIGTERM before SIGKILL, in milliseconds. */
const STOP_GRACE_MS = 3000;

export interface SpawnOptions {
  readonly env?: Record<string, string | undefined>;
  readonly cwd?: string;
  /** Name in error messages; default the command's base name. */
  readonly name?: string;
  /** Run under `prlimit --nofile=N:N` (exec'd, so the pid stays the command's). */
  readonly nofile?: number;
}

const running = new Set<BenchProc>();
let hooksInstalled = false;

/** A started process with its output lines and its exit. */
export class BenchProc {
  readonly name: string;
  /** stdout lines, in order (the last MAX_TEXT_CHARS worth are what tail() shows). */
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;
  private stdoutText = '';
  private stderrText = '';
  private partial = '';
  private exitCode: number | null | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(command: string, args: readonly string[], opts: SpawnOptions = {}) {
    this.name = opts.name ?? command.split('/').pop() ?? command;
    const [cmd, argv] =
      opts.nofile !== undefined
        ? ['prlimit', [`--nofile=${opts.nofile}:${opts.nofile}`, command, ...args]]
        : [command, [...args]];
    this.child = spawn(cmd, argv, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(this);
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (t: string) => this.onStdout(t));
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (t: string) => {
      this.stderrText = (this.stderrText + t).slice(-MAX_TEXT_CHARS);
      this.notify();
    });
    this.exited = new Promise((done) => {
      this.child.once('close', (code) => {
        if (this.partial) this.lines.push(this.partial);
        this.partial = '';
        this.exitCode = code;
        running.delete(this);
        this.notify();
        done(code);
      });
      this.child.once('error', (err) => {
        this.stderrText += `spawn error: ${err.message}\n`;
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }
  get stderr(): string {
    return this.stderrText;
  }
  get stdout(): string {
    return this.stdoutText;
  }
  get hasExited(): boolean {
    return this.exitCode !== undefined;
  }

  /** Resolves with the first stdout line (or stderr text, with `stderr`) matching; rejects on exit or timeout. */
  waitFor<T>(
    pick: (line: string) => T | undefined,
    timeoutMs: number,
    what: string,
    stderr = false,
  ): Promise<T> {
    let index = 0;
    return new Promise<T>((resolve, reject) => {
      const check = (): void => {
        if (stderr) {
          const v = pick(this.stderrText);
          if (v !== undefined) return void finish(() => resolve(v));
        } else {
          for (; index < this.lines.length; index++) {
            const v = pick(this.lines[index]!);
            if (v !== undefined) return void finish(() => resolve(v));
          }
        }
        if (this.exitCode !== undefined)
          finish(() =>
            reject(new Error(`${this.name} exited (${this.exitCode}) before ${what}\n${this.tail()}`)),
          );
      };
      const timer = setTimeout(
        () =>
          finish(() => reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms\n${this.tail()}`))),
        timeoutMs,
      );
      const finish = (then: () => void): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
        then();
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Resolves with the first JSON line whose fields pass `test`. */
  waitForJson(test: (obj: Record<string, unknown>) => boolean, timeoutMs: number, what: string) {
    return this.waitFor<Record<string, unknown>>(
      (line) => {
        const obj = parseJsonLine(line);
        return obj && test(obj) ? obj : undefined;
      },
      timeoutMs,
      what,
    );
  }

  tail(): string {
    return `stdout tail:\n${this.stdoutText.slice(-2000)}\nstderr tail:\n${this.stderrText.slice(-2000)}`;
  }

  /** SIGTERM, then SIGKILL after a grace period; also kills processes it forked (by pid). */
  async stop(): Promise<void> {
    const kids = descendants(this.pid);
    if (!this.hasExited) this.child.kill('SIGTERM');
    // 'close' waits for stdio: a child that outlives its parent (sshd's session process on a dead link,
    // reparented to init) holds the pipes open, so the grace timer kills the descendants found at first too.
    const timer = setTimeout(() => {
      this.killNow();
      for (const pid of kids) killPid(pid, 'SIGKILL');
    }, STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
    for (const pid of kids) killPid(pid, 'SIGKILL');
  }

  /** SIGKILL now, with every descendant; synchronous for exit hooks. */
  killNow(): void {
    for (const pid of descendants(this.pid)) killPid(pid, 'SIGKILL');
    if (!this.hasExited) killPid(this.pid, 'SIGKILL');
  }

  private onStdout(text: string): void {
    this.stdoutText = (this.stdoutText + text).slice(-MAX_TEXT_CHARS);
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop()!;
    for (const p of parts) if (p.trim()) this.lines.push(p);
    this.notify();
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }
}

function parseJsonLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const v: unknown = JSON.parse(line);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function killPid(pid: number, signal: NodeJS.Signals): void {
  if (pid <= 0) return;
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** Every live process whose ancestry reaches `pid` (children, grandchildren, ...), from /proc. */
export function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name (field 2) may hold spaces and parentheses; fields resume after the last ')'.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parentOf.set(Number(entry), Number(rest[1]));
    } catch {
      // Exited while listing.
    }
  }
  const out: number[] = [];
  const frontier = [pid];
  while (frontier.length > 0) {
    const p = frontier.pop()!;
    for (const [child, parent] of parentOf) {
      if (parent === p) {
        out.push(child);
        frontier.push(child);
      }
    }
  }
  return out;
}

/** Starts `command` and tracks it; every tracked process is killed when this process exits or is interrupted. */
export function startProc(command: string, args: readonly string[], opts: SpawnOptions = {}): BenchProc {
  if (!hooksInstalled) {
    hooksInstalled = true;
    process.once('exit', killAllNow);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        killAllNow();
        process.kill(process.pid, signal);
      });
    }
  }
  return new BenchProc(command, args, opts);
}

/** SIGKILLs every tracked process still running and what it forked. */
export function killAllNow(): void {
  for (const p of [...running]) p.killNow();
}

/** Stops every tracked process gracefully (SIGTERM, then SIGKILL). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

/** Polls `condition` until true; rejects with `what` after `timeoutMs`. */
export async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
