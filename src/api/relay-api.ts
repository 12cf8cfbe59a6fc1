// createRelay: a Relay with typed events, the application's commands, and reload from its file or new data.
// The CLI's `xnat relay` is one caller; admin and metrics endpoints stay the CLI's (a layer above).
import { Relay } from '../relay/relay.ts';
import type { RelayProfile, RelayProfileInput } from '../config/index.ts';
import type { Logger } from '../observe/log.ts';
import type { RelayStatus } from '../observe/status.ts';
import type { StatsQueryReply } from '../protocol/index.ts';
import { buildDiagBundle } from '../protocol/diag-bundle.ts';
import type { PulledBundle } from '../protocol/diag-inbox.ts';
import type { LogRing } from '../observe/log-ring.ts';
import { XnatEmitter } from './typed-events.ts';
import { AppCommands, CommandPeer } from './commands.ts';
import { relayProfileOf, type ProfileSourceOf } from './profile.ts';
import { isOptions, loggerOf, sinkOf, type EmbedOptions } from './options.ts';

export type RelayProfileSource = ProfileSourceOf<RelayProfileInput, RelayProfile>;
export type RelayInit = EmbedOptions<RelayProfileSource>;

/** An embedded relay. Events: see XnatEvents (session.*, mapping.ready, stream.*, flow.*). */
export class XnatRelay extends XnatEmitter {
  /** The application's commands agents may call (`app.` names). */
  readonly commands = new AppCommands();
  readonly logger: Logger;
  private readonly relay: Relay;
  private readonly path: string | undefined;
  private readonly env: NodeJS.ProcessEnv | undefined;
  private readonly logs: LogRing | undefined;

  constructor(init: RelayInit) {
    super();
    this.logs = init.logs;
    const profile = relayProfileOf(init.profile, init.env);
    this.path = typeof init.profile === 'string' ? init.profile : undefined;
    this.env = init.env;
    this.logger = loggerOf(init.logger, profile.log.level, 'relay');
    this.relay = new Relay(profile, {
      logger: this.logger,
      ...(init.clock ? { clock: init.clock } : {}),
      hooks: { onEvent: sinkOf(this, this.logger), appCommands: this.commands.lookup },
    });
  }

  /** The profile in force (secrets included: never log it whole; see redactProfile). */
  get profile(): RelayProfile {
    return this.relay.profile;
  }

  /** The control port agents dial (the real one when the profile says port 0); 0 before start(). */
  get port(): number {
    return this.relay.status().control?.port ?? 0;
  }

  /** Opens the control port; resolves once it listens. */
  async start(): Promise<this> {
    await this.relay.start();
    return this;
  }

  /** Tells agents, closes sessions and public ports. Idempotent. */
  close(): Promise<void> {
    return this.relay.close();
  }

  /**
   * Applies a new profile (data or path), or re-reads the file the relay was created from; resolves with one
   * line per change. An invalid profile rejects with its XNAT_ERR_CONFIG_ code and changes nothing.
   */
  async reload(next?: RelayProfileSource): Promise<string[]> {
    const source = next ?? this.path;
    if (source === undefined) return [];
    return this.relay.reload(relayProfileOf(source, this.env));
  }

  /** Resets one visitor stream of a session (by the ids status shows); false when none matched. */
  closeStream(sessionId: string, streamId: number): boolean {
    return this.relay.closeStream(sessionId, streamId);
  }

  /** Disables (new visitors refused) or enables a mapping; returns how many public ports it changed. */
  setMappingDisabled(name: string, disabled: boolean): number {
    return this.relay.setMappingDisabled(name, disabled);
  }

  /** The status snapshot (the one `xnat status` and the dashboard show). */
  status(): RelayStatus {
    return this.relay.status();
  }

  /** Closes the named agent's session; false when it had none. */
  kick(agentName: string): boolean {
    return this.relay.kick(agentName) > 0;
  }

  /** The named agent's own counters (session, streams, and per mapping its LAN target's connects and latency). */
  agentStats(agentName: string): Promise<StatsQueryReply> {
    return this.relay.agentStats(agentName);
  }

  /**
   * This relay's diagnostic bundle (JSON: versions, sessions' link history, status, profile with secrets
   * redacted, recent log lines when `logs` was given) within `maxBytes` (default and most: 4 MiB).
   */
  diagBundle(maxBytes?: number): Buffer {
    return buildDiagBundle(
      { status: this.status(), profile: this.profile, ...(this.logs ? { logs: this.logs } : {}) },
      maxBytes,
    );
  }

  /**
   * The named agent's diagnostic bundle, asked over its session (a stream transfer that survives link
   * cuts). Resolves once it begins to arrive: read `source` (`size` bytes); `done` settles when the agent
   * confirmed the end. XNAT_ERR_DIAG_UNKNOWN_AGENT, XNAT_ERR_DIAG_AGENT_DETACHED, XNAT_ERR_DIAG_TOO_LARGE.
   */
  agentDiag(agentName: string, maxBytes?: number): Promise<PulledBundle> {
    return this.relay.agentDiag(agentName, maxBytes);
  }

  /** The named agent, to call its `app.` commands; calls fail with XNAT_ERR_COMMAND_NO_SESSION while it has none. */
  agent(agentName: string): CommandPeer {
    return new CommandPeer(() => this.relay.sessionOf(agentName)?.endpoint, agentName);
  }
}

/** Builds a relay from a profile (path, data, or loaded) or from options; call start() to listen. */
export function createRelay(input: RelayProfileSource | RelayInit): XnatRelay {
  return new XnatRelay(isOptions<RelayProfileSource>(input) ? input : { profile: input });
}
