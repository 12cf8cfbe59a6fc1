// The pino root logger: JSON lines when stdout is not a terminal, readable lines when it is, secrets redacted.
// Modules receive a logger from their owner and bind children once (role -> session -> stream/mapping).
import { pino, type Logger, type DestinationStream } from 'pino';
import pretty from 'pino-pretty';
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

export function createRootLogger(options: RootLoggerOptions = {}): Logger {
  const level = options.level ?? process.env.XNAT_LOG_LEVEL ?? 'info';
  const format = process.env.XNAT_LOG_FORMAT;
  const usePretty = options.pretty ?? (format ? format === 'pretty' : process.stdout.isTTY === true);
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
      ? pretty({ sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' })
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
