// The pino root logger: JSON lines when stdout is not a terminal, readable lines when it is, secrets redacted.
// Modules receive a logger from their owner and bind children once (role -> session -> stream/mapping).
import { writeSync } from 'node:fs';
import { pino, type Logger, type DestinationStream } from 'pino';
import type { PrettyOptions, PrettyStream } from 'pino-pretty';
import type { LogRing } from './log-ring.ts';

export type { Logger } from 'pino';

/** Field names whose values never reach a log line, at any depth pino can redact. */
export const REDACT_PATHS = [
  'privateKey',
  'psk',
  'token',
  'secret',
  '*.privateKey',
  '*.psk',
  '*.token',
  '*.secret',
  '*.*.privateKey',
  '*.*.psk',
  '*.*.token',
];

export interface RootLoggerOptions {
  /** pino level; default "info" (XNAT_LOG_LEVEL overrides). */
  readonly level?: string;
  /** Readable output instead of JSON; default: stdout is a TTY (XNAT_LOG_FORMAT=json|pretty overrides). */
  readonly pretty?: boolean;
  /** Where lines go; default stdout. Tests pass a stream to capture lines. */
  readonly destination?: DestinationStream;
  /** Bound on every line, e.g. { role: 'relay' }. */
  readonly base?: Record<string, unknown>;
  /** Also keeps the newest lines here (redacted JSON), for the admin endpoint's log panel. */
  readonly ring?: LogRing;
}

type PrettyFactory = (options: PrettyOptions) => PrettyStream;

/**
 * pino-pretty once loadPrettyLogs() imported it. It is imported only for readable output (a terminal): a
 * daemon writing JSON never loads it, its colour and date-format dependencies included (issue 10: footprint).
 */
let prettyFactory: PrettyFactory | undefined;

const PRETTY_OPTIONS: PrettyOptions = {
  sync: true,
  colorize: true,
  translateTime: 'SYS:HH:MM:ss.l',
  ignore: 'pid,hostname',
};

/** Readable lines rather than JSON: the option, else XNAT_LOG_FORMAT, else whether stdout is a terminal. */
function wantsPretty(options: RootLoggerOptions): boolean {
  const format = process.env.XNAT_LOG_FORMAT;
  return options.pretty ?? (format ? format === 'pretty' : process.stdout.isTTY === true);
}

/**
 * Imports pino-pretty when `options` (as given to createRootLogger) will want it; the CLI awaits this first,
 * so its logger is readable from the first line. Without it createRootLogger still works (see prettyOut).
 */
export async function loadPrettyLogs(options: RootLoggerOptions = {}): Promise<void> {
  if (options.destination || !wantsPretty(options)) return;
  prettyFactory ??= (await import('pino-pretty')).default;
}

/**
 * Readable stdout. Before loadPrettyLogs() has run (a library caller), lines wait for the import in a
 * short queue; should the process exit first, they go out as they are (JSON), so no line is lost.
 */
function prettyOut(): DestinationStream {
  if (prettyFactory) return prettyFactory(PRETTY_OPTIONS);
  let target: DestinationStream | undefined;
  const queued: string[] = [];
  const flushRaw = (): void => {
    for (const line of queued.splice(0)) writeSync(1, line);
  };
  process.once('exit', flushRaw);
  void import('pino-pretty').then(
    (m) => {
      prettyFactory ??= m.default;
      const pretty = prettyFactory(PRETTY_OPTIONS);
      target = pretty;
      process.off('exit', flushRaw);
      for (const line of queued.splice(0)) pretty.write(line);
    },
    () => {
      // Cannot happen in a build (pino-pretty is bundled); if it did, JSON beats silence.
      target = { write: (line: string) => void writeSync(1, line) };
      process.off('exit', flushRaw);
      flushRaw();
    },
  );
  return {
    write(line: string) {
      if (target) target.write(line);
      else queued.push(line);
    },
  };
}

export function createRootLogger(options: RootLoggerOptions = {}): Logger {
  const level = options.level ?? process.env.XNAT_LOG_LEVEL ?? 'info';
  const usePretty = wantsPretty(options);
  const base = { ...(options.base ?? {}) };
  const opts = {
    level,
    base,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  const out: DestinationStream = options.destination
    ? options.destination
    : usePretty
      ? prettyOut()
      : pino.destination({ fd: 1, sync: false });
  if (!options.ring) return pino(opts, out);
  // Both streams at the lowest level: the logger's own level decides what is written at all.
  return pino(
    opts,
    pino.multistream([
      { stream: out, level: 'trace' },
      { stream: options.ring, level: 'trace' },
    ]),
  );
}

/** A logger that drops everything, for library use and unit tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
