// Visitor streams arriving at the agent, each to its mapping's target (a service or a LAN dial); targets' health.
import type { Session } from '../session/index.ts';
import type { MuxStream } from '../mux/mux.ts';
import type { CommandEndpoint } from '../command/endpoint.ts';
import { decodeOpenMeta, mappingHealth, sendOneWay, type OpenMeta } from '../protocol/index.ts';
import { dialTarget } from '../forward/tcp-target.ts';
import type { Logger } from '../observe/log.ts';
import type { EventSink } from '../observe/events.ts';
import { toXnatError } from '../errors.ts';
import type { Clock } from '../util/clock.ts';
import { joinLan } from './lan-stream.ts';
import type { AgentStreams, LiveStream } from './agent-streams.ts';
import type { PipeDone, PipeResult } from '../forward/tcp-pipe.ts';
import type { MappingRegistrar, MappingState } from './mapping-registrar.ts';
import { emptyTargetStats, noteDial, type TargetStats } from './agent-queries.ts';

/** The in-process services of handler mappings (AgentServices): who takes a handler mapping's streams. */
export interface StreamServices {
  /** Takes a visitor's stream of handler mapping `handler`; false when no such service is registered. */
  stream(handler: string, stream: MuxStream, meta: OpenMeta): boolean;
}

export interface StreamTargetsDeps {
  readonly mappings: MappingRegistrar;
  readonly streams: AgentStreams;
  readonly clock: Clock;
  readonly emit: EventSink;
  readonly services: StreamServices | undefined;
  /** The relay's current session and its command endpoint, for mapping.health; undefined between sessions. */
  readonly current: () => { session: Session | undefined; endpoint: CommandEndpoint | undefined };
}

export class StreamTargets {
  /** Per mapping name: how its LAN target answered dials (stats.query). */
  readonly targets = new Map<string, TargetStats>();

  constructor(private readonly deps: StreamTargetsDeps) {}

  /** A visitor's stream: dial the LAN target and join; a target that fails resets the stream (and visitor). */
  accept(stream: MuxStream, metaBytes: Buffer, log: Logger): void {
    const { clock, emit } = this.deps;
    let meta: OpenMeta;
    try {
      meta = decodeOpenMeta(metaBytes);
    } catch (err) {
      stream.reset(toXnatError(err).code);
      return;
    }
    const mapping = this.deps.mappings.get(meta.mapping);
    if (!mapping) {
      stream.reset('XNAT_ERR_MAPPING_UNKNOWN');
      return;
    }
    const m = mapping;
    const live = this.deps.streams.track(stream, m.profile.name, meta.visitor, m.traffic);
    // Fields on the lines written, not a child logger per stream (streams are many and mostly silent);
    // built only on the paths that write one.
    const visitor = live.visitor;
    const { local, handler } = m.profile;
    if (handler !== undefined || !local) {
      if (handler === undefined || !this.deps.services?.stream(handler, stream, meta)) {
        log.warn(
          { mapping: m.profile.name, stream: stream.id, handler, code: 'XNAT_ERR_MAPPING_NO_HANDLER' },
          'target failed',
        );
        live.ended(0, 0);
        return stream.reset('XNAT_ERR_MAPPING_NO_HANDLER');
      }
      m.activeStreams++;
      m.totalStreams++;
      emit('stream.opened', { mapping: m.profile.name, stream: stream.id, visitor });
      stream.once('close', () => {
        m.activeStreams--;
        live.ended(stream.stats.bytesIn, stream.stats.bytesOut);
        const code = stream.resetCode;
        emit('stream.closed', {
          mapping: m.profile.name,
          stream: stream.id,
          visitor,
          clean: !code,
          code,
        });
      });
      return;
    }
    m.activeStreams++;
    m.totalStreams++;
    emit('stream.opened', { mapping: m.profile.name, stream: stream.id, visitor });
    // A visitor may reset before the LAN dial completes: give the dial up then, and never join a LAN
    // socket to a dead stream (the pipe resets such a socket at once).
    let target = this.targets.get(m.profile.name);
    if (!target) this.targets.set(m.profile.name, (target = emptyTargetStats()));
    const t = target;
    const dialStart = clock.now();
    // The dial starts on receipt of the open; the pipe joins in the connect event's own turn.
    const cancel = dialTarget(local.host, local.port, { clock }, (e, socket) => {
      stream.off('close', cancel);
      if (socket) {
        noteDial(t, clock.now() - dialStart, true);
        if (m.health.succeeded()) this.reportHealth(m, true, 0, log);
        // An object, not a closure over this scope: an idle stream then keeps none of the open's locals.
        joinLan(socket, stream, meta, m.profile, m.bandwidth, clock, log, new LanEnd(m, live, emit, log));
        return;
      }
      m.activeStreams--;
      live.ended(0, 0);
      const fields = { mapping: m.profile.name, stream: stream.id };
      const code = e?.code ?? 'XNAT_ERR_FORWARD_TARGET_UNREACHABLE';
      emit('stream.closed', { ...fields, visitor, clean: false, code });
      if (code === 'XNAT_ERR_ABORTED')
        return log.debug({ ...fields }, 'visitor gone before the target answered');
      noteDial(t, clock.now() - dialStart, false);
      log.warn({ ...fields, code, detail: e?.detail }, 'target failed');
      stream.reset(code);
      const backoffMs = m.health.failed();
      if (backoffMs !== undefined) this.reportHealth(m, false, backoffMs, log);
    });
    stream.once('close', cancel);
  }

  /** Tells the relay (mapping.health) so it sends new visitors to other agents during the back-off. */
  private reportHealth(m: MappingState, healthy: boolean, retryAfterMs: number, log: Logger): void {
    const { session, endpoint } = this.deps.current();
    if (!endpoint || !session || session.state === 'closed') return;
    try {
      sendOneWay(endpoint, mappingHealth, { name: m.profile.name, healthy, retryAfterMs });
    } catch {
      // The session is ending: a new one registers the mapping afresh (healthy until the next refusal).
    }
    log[healthy ? 'info' : 'warn'](
      { mapping: m.profile.name, ...(healthy ? {} : { retryAfterMs }) },
      healthy ? 'target healthy' : 'target unhealthy',
    );
  }
}

/** The end of one joined LAN stream: counters, the event and the log line (one object per idle stream). */
class LanEnd implements PipeDone {
  constructor(
    private readonly m: MappingState,
    private readonly live: LiveStream,
    private readonly emit: EventSink,
    private readonly log: Logger,
  ) {}

  pipeDone(r: PipeResult): void {
    const { m, live } = this;
    m.activeStreams--;
    // The pipe counts from the LAN socket's view: what it wrote went up, what it read goes down.
    live.ended(r.bytesToSocket, r.bytesFromSocket);
    const mapping = live.mapping;
    const stream = live.stream.id;
    this.emit('stream.closed', { mapping, stream, visitor: live.visitor, clean: r.clean, code: r.code });
    if (!r.clean) this.log.info({ mapping, stream, code: r.code }, 'stream reset');
  }
}
