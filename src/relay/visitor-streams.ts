// One session's visitor streams on the relay: admission (share of the cap), the open, the pipe, idle timeouts.
import type { Socket } from 'node:net';
import type { Mux, MuxStream } from '../mux/mux.ts';
import type { BandwidthLimit, Tuning } from '../config/index.ts';
import type { Logger } from '../observe/log.ts';
import type { StreamStatus } from '../observe/status.ts';
import type { EventSink } from '../observe/events.ts';
import { CapLog } from '../observe/cap-log.ts';
import { pipeSocketToStream, SharedPipeLimits, type PipeDone, type PipeResult } from '../forward/tcp-pipe.ts';
import { IdleStreams } from '../forward/idle-streams.ts';
import { BandwidthBuckets } from '../forward/bandwidth.ts';
import { deflateStream } from '../forward/compress.ts';
import { encodeOpenMeta } from '../protocol/index.ts';
import type { ErrorCode } from '../errors.ts';
import type { Clock } from '../util/clock.ts';
import { admitStream } from './stream-shares.ts';
import type { ClaimOptions } from './claim-options.ts';
import type { MappingEntry } from './mapping-table.ts';

/**
 * A visitor's stream as status needs it; byte counts are read from the stream's own stats (no listeners).
 * It is also its pipe's PipeDone: one object per idle stream, no closure or promise (issue 10).
 */
class LiveStream implements PipeDone {
  readonly openedAt = Date.now();

  constructor(
    private readonly owner: VisitorStreams,
    readonly stream: MuxStream,
    readonly entry: MappingEntry,
    readonly visitor: string,
  ) {}

  get mapping(): string {
    return this.entry.name;
  }

  pipeDone(r: PipeResult): void {
    this.owner.ended(this, r);
  }
}

/** Idle timeout of a TCP visitor connection when the agent's mapping gives none, in ms (1 hour). */
export const DEFAULT_TCP_IDLE_MS = 60 * 60 * 1000;

/** Visitors this session turned away, by cause. */
export interface VisitorRefusals {
  /** The mapping held its share of the stream cap (see stream-shares.ts). */
  share: number;
  /** The mux refused the stream (cap, closed session). */
  streamLimit: number;
  /** Connections reset after their mapping's idle timeout. */
  idleTimeout: number;
}

export interface VisitorStreamsDeps {
  readonly mux: Mux;
  readonly tuning: Tuning;
  readonly log: Logger;
  readonly clock: Clock;
  readonly onEvent: EventSink;
  /** Weight, compression and health of each claimed mapping (the session's). */
  readonly options: ClaimOptions;
  /** The agent's bandwidth now (agents[].bandwidth; a reload replaces the agent's entry). */
  readonly bandwidth: () => BandwidthLimit | undefined;
}

export class VisitorStreams {
  private readonly streams = new Map<number, LiveStream>();
  /** Open streams per TCP mapping name, for fair shares of the stream cap. */
  private readonly perMapping = new Map<string, number>();
  /** Idle timeout per TCP mapping name, from the agent's claim. */
  private readonly idleMs = new Map<string, number>();
  /** The agent's total bandwidth (agents[].bandwidth), shared by all its visitors' pipes. */
  private readonly bandwidth: BandwidthBuckets;
  private readonly idle: IdleStreams;
  private readonly refusedLog: CapLog;
  private readonly limits: SharedPipeLimits;
  readonly refused: VisitorRefusals = { share: 0, streamLimit: 0, idleTimeout: 0 };

  constructor(private readonly deps: VisitorStreamsDeps) {
    this.idle = new IdleStreams(deps.clock);
    this.bandwidth = new BandwidthBuckets(deps.bandwidth(), deps.clock);
    this.refusedLog = new CapLog(deps.log, deps.clock, 'visitors refused');
    this.limits = new SharedPipeLimits(deps.clock);
  }

  get size(): number {
    return this.streams.size;
  }

  /** Streams open now of one mapping. */
  countOf(mapping: string): number {
    return this.perMapping.get(mapping) ?? 0;
  }

  /** A TCP mapping was claimed: its visitors get its idle timeout (the default when the claim gives none). */
  claimed(mapping: string, idleTimeoutMs: number | undefined): void {
    this.idleMs.set(mapping, idleTimeoutMs ?? DEFAULT_TCP_IDLE_MS);
  }

  /** A TCP mapping was given up: no new visitors count against it. */
  released(mapping: string): void {
    this.idleMs.delete(mapping);
  }

  /** Resets every visitor stream of `mapping` with `code`. */
  resetMapping(mapping: string, code: ErrorCode): void {
    for (const s of this.streams.values()) if (s.mapping === mapping) s.stream.reset(code);
  }

  live(mapping: string): { streams: number; bytesUp: number; bytesDown: number } {
    const out = { streams: 0, bytesUp: 0, bytesDown: 0 };
    for (const s of this.streams.values()) {
      if (s.mapping !== mapping) continue;
      out.streams++;
      out.bytesUp += s.stream.stats.bytesOut;
      out.bytesDown += s.stream.stats.bytesIn;
    }
    return out;
  }

  /** Resets one visitor stream (an operator closed it): the visitor sees a reset. */
  reset(streamId: number): boolean {
    const s = this.streams.get(streamId);
    if (!s) return false;
    this.deps.log.info(
      { mapping: s.mapping, stream: streamId, visitor: s.visitor },
      'stream closed by admin',
    );
    s.stream.reset('XNAT_ERR_ADMIN_CLOSED');
    return true;
  }

  /** A visitor arrived on one of our public ports: open a stream and join the socket to it. */
  accept(entry: MappingEntry, socket: Socket): void {
    const { log, options } = this.deps;
    const visitor = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    if (!admitStream(this.perMapping, this.idleMs.keys(), entry.name, this.deps.tuning.maxStreams)) {
      this.refused.share++;
      this.refusedLog.hit('XNAT_ERR_MAPPING_SHARE_FULL', { mapping: entry.name, visitor });
      socket.resetAndDestroy();
      return;
    }
    let stream;
    try {
      stream = this.deps.mux.open(
        encodeOpenMeta({
          mapping: entry.name,
          protocol: 'tcp',
          visitor: { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
          local: entry.listener?.localOf(socket) ?? {
            address: socket.localAddress ?? '',
            port: socket.localPort ?? 0,
          },
          ...(options.compresses(entry.name) ? { compress: 'deflate' as const } : {}),
        }),
        undefined,
        // The visitor's first bytes (most protocols speak first) ride in the open: one frame, and the
        // agent has them to write the moment its LAN connect is up.
        { holdForFirstBytes: true },
      );
    } catch (err) {
      this.refused.streamLimit++;
      this.refusedLog.hit((err as { code?: string }).code ?? 'XNAT_ERR_INTERNAL', {
        mapping: entry.name,
        visitor,
      });
      socket.resetAndDestroy();
      return;
    }
    const id = stream.id;
    const live = new LiveStream(this, stream, entry, visitor);
    this.streams.set(id, live);
    this.perMapping.set(entry.name, (this.perMapping.get(entry.name) ?? 0) + 1);
    this.idle.add(stream, this.idleMs.get(entry.name) ?? DEFAULT_TCP_IDLE_MS);
    // No child logger per visitor: at thousands of connections a second and of idle streams, the fields
    // go on the few lines that are written instead.
    log.debug({ mapping: entry.name, stream: id, visitor }, 'visitor connected');
    this.deps.onEvent('stream.opened', { mapping: entry.name, stream: id, visitor });
    const bw = this.bandwidth;
    bw.update(this.deps.bandwidth()); // a reload replaces the entry: its limits apply from here
    const tunnel = options.compresses(entry.name) ? deflateStream(stream) : stream;
    pipeSocketToStream(socket, tunnel, log, this.limits.get(bw.up, bw.down), live);
  }

  /** A visitor's pipe ended (both its socket and its stream are closed). */
  ended(live: LiveStream, r: PipeResult): void {
    const { entry, visitor, stream } = live;
    const id = stream.id;
    this.deps.onEvent('stream.closed', {
      mapping: entry.name,
      stream: id,
      visitor,
      clean: r.clean,
      code: r.code,
    });
    this.streams.delete(id);
    this.idle.delete(stream);
    const left = (this.perMapping.get(entry.name) ?? 1) - 1;
    if (left > 0) this.perMapping.set(entry.name, left);
    else this.perMapping.delete(entry.name);
    if (r.code === 'XNAT_ERR_FORWARD_IDLE_TIMEOUT') this.refused.idleTimeout++;
    entry.traffic.bytesUp += r.bytesFromSocket;
    entry.traffic.bytesDown += r.bytesToSocket;
    const done = { mapping: entry.name, stream: id, visitor, up: r.bytesFromSocket, down: r.bytesToSocket };
    if (r.clean) this.deps.log.debug(done, 'visitor closed');
    else this.deps.log.info({ ...done, code: r.code }, 'visitor reset');
  }

  /** The open streams, as status objects. */
  status(): StreamStatus[] {
    const now = Date.now();
    return [...this.streams.values()].map((s) => ({
      id: s.stream.id,
      mapping: s.mapping,
      visitor: s.visitor,
      bytesUp: s.stream.stats.bytesOut,
      bytesDown: s.stream.stats.bytesIn,
      ageMs: now - s.openedAt,
    }));
  }

  /** The session closed (its mux reset every stream): stop the idle sweep and the refusal log. */
  close(): void {
    this.idle.stop();
    this.refusedLog.close();
  }
}
