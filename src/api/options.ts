// What createRelay and createAgent take besides the profile, and the pieces both build from it: the logger
// and the event sink guarding relay and agent against a throwing listener. It knows no role.
import { createRootLogger, silentLogger, type Logger } from '../observe/log.ts';
import type { EventSink } from '../observe/events.ts';
import type { Clock } from '../util/clock.ts';
import type { LogRing } from '../observe/log-ring.ts';
import type { XnatEmitter } from './typed-events.ts';

/** Options of createRelay/createAgent; only `profile` is required. */
export interface EmbedOptions<P> {
  /** A YAML file's path, plain data shaped like the YAML, or a profile loadRelayProfile/loadAgentProfile returned. */
  readonly profile: P;
  /**
   * A pino logger to write to (used as given), or false for none. Default: a JSON logger on stdout at
   * the profile's log.level, as the CLI writes.
   */
  readonly logger?: Logger | false;
  /**
   * Environment for XNAT_PRIVATE_KEY / XNAT_ADMIN_TOKEN overrides. Default: process.env for a file path,
   * none for plain data (an object is the whole profile).
   */
  readonly env?: NodeJS.ProcessEnv;
  /** Injected time, for tests with a fake clock. */
  readonly clock?: Clock;
  /**
   * The log ring `logger` also writes to (createRootLogger's `ring`): its recent lines go into diagnostic
   * bundles (diagBundle, and an agent's answer to its relay's `xnat diag --agent`). Default: none.
   */
  readonly logs?: LogRing;
}

export function loggerOf(option: Logger | false | undefined, level: string, role: string): Logger {
  if (option === false) return silentLogger();
  // A given logger is used as it is: the caller binds its own fields (the CLI binds role already).
  if (option) return option;
  return createRootLogger({ level, base: { role } });
}

/** Events go to the emitter; a listener that throws is logged, never thrown into the relay or agent. */
export function sinkOf(emitter: XnatEmitter, log: Logger): EventSink {
  return (name, event) => {
    try {
      emitter.emit(name, event);
    } catch (err) {
      log.error({ event: name, err: String(err).slice(0, 200) }, 'event listener failed');
    }
  };
}

/** True when `input` is an options object (has `profile`) rather than a profile itself. */
export function isOptions<P>(input: unknown): input is EmbedOptions<P> {
  return typeof input === 'object' && input !== null && 'profile' in input;
}
