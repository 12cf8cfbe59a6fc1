// createAgent: an Agent with typed events, in-process services for handler mappings, the application's
// commands, and reload. The CLI's `xnat agent` is one caller; admin and metrics stay the CLI's.
import { Agent } from '../agent/agent.ts';
import type { AgentProfile, AgentProfileInput } from '../config/index.ts';
import type { Logger } from '../observe/log.ts';
import type { AgentStatus } from '../observe/status.ts';
import { XnatError } from '../errors.ts';
import { XnatEmitter } from './typed-events.ts';
import { AppCommands, CommandPeer } from './commands.ts';
import { Services, type DatagramService, type StreamService } from './services.ts';
import { agentProfileOf, type ProfileSourceOf } from './profile.ts';
import { isOptions, loggerOf, sinkOf, type EmbedOptions } from './options.ts';

export type AgentProfileSource = ProfileSourceOf<AgentProfileInput, AgentProfile>;
export type AgentInit = EmbedOptions<AgentProfileSource>;

/** An embedded agent. Events: see XnatEvents (session.*, mapping.*, stream.*, flow.*). */
export class XnatAgent extends XnatEmitter {
  /** The application's commands relays may call (`app.` names). */
  readonly commands = new AppCommands();
  readonly logger: Logger;
  private readonly agent: Agent;
  private readonly services: Services;
  private readonly path: string | undefined;
  private readonly env: NodeJS.ProcessEnv | undefined;

  constructor(init: AgentInit) {
    super();
    const profile = agentProfileOf(init.profile, init.env);
    this.path = typeof init.profile === 'string' ? init.profile : undefined;
    this.env = init.env;
    this.logger = loggerOf(init.logger, profile.log.level, 'agent');
    this.services = new Services(this.logger);
    this.agent = new Agent(profile, {
      logger: this.logger,
      ...(init.clock ? { clock: init.clock } : {}),
      ...(init.logs ? { logs: init.logs } : {}),
      hooks: {
        onEvent: sinkOf(this, this.logger),
        appCommands: this.commands.lookup,
        services: this.services,
      },
    });
  }

  get profile(): AgentProfile {
    return this.agent.profile;
  }

  /**
   * Serves the tcp mappings whose profile says `handler: NAME`: `fn` gets a ServiceStream per visitor.
   * Register before visitors arrive; until then they are reset with XNAT_ERR_MAPPING_NO_HANDLER.
   */
  serve(handler: string, fn: StreamService): this {
    this.services.addStream(handler, fn);
    return this;
  }

  /** Serves the udp mappings whose profile says `handler: NAME`: `fn` gets each datagram and a reply function. */
  serveDatagrams(handler: string, fn: DatagramService): this {
    this.services.addDatagram(handler, fn);
    return this;
  }

  /**
   * Binds the listen sockets of reverse-mode relays (relays[].mode: reverse); rejects with
   * XNAT_ERR_LINK_LISTEN when one is taken. Optional: start() binds them in the background otherwise
   * (and retries a taken one at the redial pace).
   */
  async listen(): Promise<this> {
    await this.agent.listen();
    return this;
  }

  /** Starts dialling every relay of the profile; sessions come up in the background (events tell when). */
  start(): this {
    this.agent.start();
    return this;
  }

  /** Closes every session (visitors are reset) and stops redialling. Idempotent. */
  close(): Promise<void> {
    this.agent.close();
    return Promise.resolve();
  }

  /**
   * Applies a new profile (data or path), or re-reads the file the agent was created from; resolves with one
   * line per change (added, removed, changed mappings; keys that need a restart are named).
   */
  async reload(next?: AgentProfileSource): Promise<string[]> {
    const source = next ?? this.path;
    if (source === undefined) return [];
    return this.agent.reload(agentProfileOf(source, this.env));
  }

  /** Resets one visitor stream of the session `sessionId` (the ids status shows); false when none matched. */
  closeStream(sessionId: string, streamId: number): boolean {
    return this.agent.closeStream(sessionId, streamId);
  }

  status(): AgentStatus {
    return this.agent.status();
  }

  /**
   * This agent's diagnostic bundle (JSON: versions, link history, status, profile with secrets redacted,
   * recent log lines when `logs` was given) within `maxBytes` (default and most: DIAG_MAX_BYTES, 4 MiB).
   */
  diagBundle(maxBytes?: number): Buffer {
    return this.agent.diagBundle(maxBytes);
  }

  /**
   * A relay of the profile, to call its `app.` commands: by its address as written (`host:port`), or the
   * first relay when omitted.
   */
  relay(address?: string): CommandPeer {
    const conns = this.agent.relays;
    const conn = address === undefined ? conns[0] : conns.find((c) => c.address === address);
    if (!conn) throw new XnatError('XNAT_ERR_COMMAND_NO_SESSION', { detail: `no relay ${address ?? ''}` });
    return new CommandPeer(() => conn.commandEndpoint, conn.address);
  }
}

/** Builds an agent from a profile (path, data, or loaded) or from options; call start() to dial. */
export function createAgent(input: AgentProfileSource | AgentInit): XnatAgent {
  return new XnatAgent(isOptions<AgentProfileSource>(input) ? input : { profile: input });
}
