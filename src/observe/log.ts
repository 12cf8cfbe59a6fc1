// The pino root logger: JSON lines when stdout is not a terminal, readable lines when it is, secrets redacted.
// Modules receive a logger from their owner and bind children once (role -> session -> stream/mapping).
import { pino, type Logger, type DestinationStream } from 'pino';
import pretty from 'pino-pretty';

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
  if (options.destination) return pino(opts, options.destination);
  if (usePretty) {
    return pino(
      opts,
      pretty({ sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }),
    );
  }
  return pino(opts, pino.destination({ fd: 1, sync: false }));
}

/** A logger that drops everything, for library use and unit tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
