// The agent's mappings as one relay's session serves them: their phases, registration (hello,
// mapping.register) with retries, and the reload diff sent as commands (mapping.unregister, register).
// It knows nothing of links, streams or the LAN side; RelayConnection hands it each new session.
import { mappingTarget } from './mapping-target.ts';
import { noEvents, type EventSink } from '../observe/events.ts';
import type { Session } from '../session/index.ts';
import type { CommandEndpoint } from '../command/endpoint.ts';
import {
  callRequest,
  hello,
  mappingRegister,
  mappingUnregister,
  PROTOCOL_VERSION,
} from '../protocol/index.ts';
import type { MappingProfile } from '../config/index.ts';
import type { Logger } from '../observe/log.ts';
import { emptyTraffic, type MappingStatus, type TrafficCounters } from '../observe/status.ts';
import { toXnatError, type WireError } from '../errors.ts';
import type { Clock, TimerHandle } from '../util/clock.ts';
import { Backoff } from '../util/backoff.ts';
import { VERSION } from '../util/version.ts';
import { TargetHealth } from '../forward/target-health.ts';
import { BandwidthBuckets } from '../forward/bandwidth.ts';

/** Registration of failed mappings is retried with this backoff (the relay profile may be fixed meanwhile). */
const MAPPING_RETRY = { initialMs: 2_000, maxMs: 60_000 } as const;

/** One mapping of this agent as one relay sees it; replaced (not mutated) when a reload changes its claim. */
export interface MappingState {
  /** Mutable for a reload that changes only `local` (the relay is not involved). */
  profile: MappingProfile;
  phase: MappingStatus['phase'];
  remotePort: number;
  error: WireError | undefined;
  activeStreams: number;
  totalStreams: number;
  /** Bytes of closed streams (tcp) or of every datagram (udp) since the mapping was (re)claimed. */
  readonly traffic: TrafficCounters;
  /** The LAN target's health: refused dials put it in back-off (reported with mapping.health). */
  readonly health: TargetHealth;
  /** tcp: the mapping's bandwidth limit, shared by its streams. */
  readonly bandwidth: BandwidthBuckets;
}

function fresh(profile: MappingProfile, clock: Clock): MappingState {
  return {
    health: new TargetHealth(clock),
    bandwidth: new BandwidthBuckets(profile.bandwidth, clock),
    profile,
    phase: 'pending',
    remotePort: 0,
    error: undefined,
    activeStreams: 0,
    totalStreams: 0,
    traffic: emptyTraffic(),
  };
}

/**
 * Whether the relay's side of the mapping (its claim) is the same; `local`, `proxyProtocol` and
 * `bandwidth` are the agent's alone.
 */
function sameClaim(a: MappingProfile, b: MappingProfile): boolean {
  return (
    a.protocol === b.protocol &&
    a.remotePort === b.remotePort &&
    a.idleTimeoutMs === b.idleTimeoutMs &&
    (a.weight ?? 1) === (b.weight ?? 1) &&
    a.compress === b.compress
  );
}

interface Attached {
  readonly session: Session;
  readonly endpoint: CommandEndpoint;
  readonly log: Logger;
}

export class MappingRegistrar {
  private readonly states = new Map<string, MappingState>();
  private current: Attached | undefined;
  /** Mapping commands go one at a time, in order: an unregister never overtakes the register before it. */
  private chain: Promise<unknown> = Promise.resolve();
  private retryTimer: TimerHandle | undefined;
  private readonly retryBackoff = new Backoff(MAPPING_RETRY);
  private closed = false;

  constructor(
    mappings: readonly MappingProfile[],
    private readonly agentName: string,
    private readonly clock: Clock,
    /** Lifecycle events for an embedder (mapping.ready, mapping.failed). */
    private readonly emit: EventSink = noEvents,
  ) {
    for (const m of mappings) this.states.set(m.name, fresh(m, this.clock));
  }

  get(name: string): MappingState | undefined {
    return this.states.get(name);
  }

  all(): MappingState[] {
    return [...this.states.values()];
  }

  /** A new session: hello, then register every mapping. */
  attach(session: Session, endpoint: CommandEndpoint, log: Logger): void {
    const at: Attached = { session, endpoint, log };
    this.current = at;
    this.chain = Promise.resolve();
    this.retryBackoff.reset();
    this.cancelRetry();
    void this.enqueue(at, async () => {
      await callRequest(endpoint, hello, {
        protocolVersion: PROTOCOL_VERSION,
        agentName: this.agentName,
        software: `xnat/${VERSION}`,
      });
    }).then(
      () => this.register(at),
      (err: unknown) => {
        if (this.live(at)) log.warn({ code: toXnatError(err).code }, 'registration failed');
        this.scheduleRetry(at);
      },
    );
  }

  /** The session ended: every mapping waits for the next one. */
  detach(session: Session): void {
    if (this.current?.session !== session) return;
    this.current = undefined;
    this.cancelRetry();
    for (const m of this.states.values()) m.phase = 'pending';
  }

  close(): void {
    this.closed = true;
    this.cancelRetry();
  }

  private cancelRetry(): void {
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
  }

  /**
   * Applies a reloaded mapping list: removed and changed mappings are unregistered (their visitors reset
   * by the relay), added and changed ones registered; unchanged ones, and ones whose only change is
   * `local`, are not touched (their live connections go on; new visitors reach the new `local`).
   */
  apply(next: readonly MappingProfile[]): void {
    const old = new Map(this.states);
    const unregister: string[] = [];
    this.states.clear();
    for (const m of next) {
      const was = old.get(m.name);
      if (was && sameClaim(was.profile, m)) {
        was.profile = m;
        was.bandwidth.update(m.bandwidth);
        this.states.set(m.name, was);
        continue;
      }
      if (was) unregister.push(m.name);
      this.states.set(m.name, fresh(m, this.clock));
    }
    for (const name of old.keys()) if (!this.states.has(name)) unregister.push(name);
    const at = this.current;
    if (!at) return;
    if (unregister.length > 0) {
      void this.enqueue(at, async () => {
        const reply = await callRequest(at.endpoint, mappingUnregister, { names: unregister });
        for (const name of reply.removed) at.log.info({ mapping: name }, 'mapping unregistered');
      }).catch((err: unknown) => {
        if (this.live(at)) at.log.warn({ code: toXnatError(err).code }, 'unregistration failed');
      });
    }
    this.retryBackoff.reset();
    void this.register(at);
  }

  /** The relay stopped serving a mapping (mapping.revoked): it is failed now and retried with backoff. */
  revoked(name: string, error: WireError): void {
    const m = this.states.get(name);
    const at = this.current;
    if (!m || !at) return;
    m.phase = 'failed';
    m.error = error;
    m.remotePort = 0;
    at.log.warn({ mapping: name, code: error.code }, 'mapping revoked');
    this.scheduleRetry(at);
  }

  status(extra: (m: MappingState) => Partial<MappingStatus>): MappingStatus[] {
    return [...this.states.values()].map((m) => ({
      name: m.profile.name,
      protocol: m.profile.protocol,
      remotePort: m.remotePort,
      local: mappingTarget(m.profile),
      phase: m.phase,
      ...(m.error ? { error: m.error } : {}),
      activeStreams: m.activeStreams,
      totalStreams: m.totalStreams,
      ...extra(m),
    }));
  }

  private live(at: Attached): boolean {
    return !this.closed && this.current === at && at.session.state !== 'closed';
  }

  /** Runs `job` after the commands queued before it, if the session is still ours then. */
  private enqueue(at: Attached, job: () => Promise<void>): Promise<void> {
    const run = this.chain.then(() => (this.live(at) ? job() : undefined));
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** mapping.register for every mapping pending or failed when its turn comes; failures retried later. */
  private register(at: Attached): Promise<void> {
    return this.enqueue(at, async () => {
      const todo = [...this.states.values()].filter((m) => m.phase === 'pending' || m.phase === 'failed');
      if (todo.length === 0) return;
      for (const m of todo) m.phase = 'registering';
      try {
        const reply = await callRequest(at.endpoint, mappingRegister, {
          mappings: todo.map((m) => ({
            name: m.profile.name,
            protocol: m.profile.protocol,
            remotePort: m.profile.remotePort,
            idleTimeoutMs: m.profile.idleTimeoutMs,
            ...(m.profile.weight !== undefined && m.profile.weight !== 1 ? { weight: m.profile.weight } : {}),
            ...(m.profile.compress ? { compress: m.profile.compress } : {}),
          })),
        });
        for (const r of reply.results) {
          const m = this.states.get(r.name);
          // Removed or replaced by a reload meanwhile: its unregister is queued behind this.
          if (!m || !todo.includes(m)) continue;
          if (r.ok) {
            m.phase = 'ready';
            m.remotePort = r.remotePort ?? 0;
            m.error = undefined;
            at.log.info(
              {
                mapping: r.name,
                protocol: m.profile.protocol,
                remotePort: m.remotePort,
                local: mappingTarget(m.profile),
              },
              'mapping ready',
            );
            this.emit('mapping.ready', {
              agent: this.agentName,
              mapping: r.name,
              protocol: m.profile.protocol,
              remotePort: m.remotePort,
            });
          } else {
            m.phase = 'failed';
            m.error = r.error;
            at.log.warn({ mapping: r.name, code: r.error?.code, detail: r.error?.message }, 'mapping failed');
            this.emit('mapping.failed', {
              agent: this.agentName,
              mapping: r.name,
              protocol: m.profile.protocol,
              remotePort: 0,
              code: r.error?.code ?? 'XNAT_ERR_INTERNAL',
            });
          }
        }
      } catch (err) {
        for (const m of todo) if (m.phase === 'registering') m.phase = 'pending';
        if (this.live(at)) at.log.warn({ code: toXnatError(err).code }, 'registration failed');
      }
      this.scheduleRetry(at);
    });
  }

  private scheduleRetry(at: Attached): void {
    if (!this.live(at) || this.retryTimer) return;
    if ([...this.states.values()].every((m) => m.phase === 'ready' || m.phase === 'registering')) return;
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      void this.register(at);
    }, this.retryBackoff.next());
  }
}
