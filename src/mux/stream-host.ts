// The StreamHost a mux hands its streams: frames out, scheduler turns, and the session's window budget.
import type { ErrorCode } from '../errors.ts';
import type { Logger } from '../observe/log.ts';
import type { Clock } from '../util/clock.ts';
import { type Frame, FrameType, MAX_FRAME_PAYLOAD } from '../wire/frame.ts';
import type { MuxStream, StreamHost } from './mux-stream.ts';
import type { MuxTransport } from './mux-transport.ts';
import type { RecordFill } from './record-fill.ts';
import type { RoundRobin } from './round-robin.ts';

/** What the host needs of its mux: the mux's own objects (shared, not copied) and a few of its methods. */
export interface HostOwner {
  readonly clock: Clock;
  readonly chunkSize: number;
  readonly transport: MuxTransport;
  readonly ready: RoundRobin<MuxStream>;
  readonly fill: RecordFill;
  /** The mux's counters this host adds to. */
  readonly counters: { bytesOut: number; resetsReceived: number };
  readonly logger: Logger;
  /** How far all streams' receive windows may grow together beyond their initial ones, in bytes. */
  readonly windowBudget: number;
  transportClosed(): boolean;
  /** Sends one reliable frame the mux's one way (so its record estimate sees it). */
  reliable(frame: Frame): boolean;
  sendReset(streamId: number, code: ErrorCode): void;
  /** Serves ready streams while the transport takes data. */
  pump(): void;
  /** Drops a finished or destroyed stream from the mux's id table (and scheduler). */
  release(stream: MuxStream): void;
}

export function makeStreamHost(o: HostOwner): StreamHost {
  const { ready, fill, counters } = o;
  /** Window growth still free for the session's streams. */
  let windowBudgetFree = Math.max(0, o.windowBudget);
  const send = (frame: Frame) => {
    if (!o.transportClosed()) o.reliable(frame);
  };
  return {
    clock: o.clock,
    chunkSize: o.chunkSize,
    turnBytes: () => Math.min(ready.waiting === 0 ? MAX_FRAME_PAYLOAD : o.chunkSize, fill.room),
    transportClosed: () => o.transportClosed(),
    rttMs: () => ('rttMs' in o.transport ? o.transport.rttMs : o.transport.stats?.rttMs) ?? 0,
    sendWindow: (streamId, delta) => send({ type: FrameType.STREAM_WINDOW, streamId, delta }),
    sendFin: (streamId) => send({ type: FrameType.STREAM_FIN, streamId }),
    sendReset: (streamId, code) => o.sendReset(streamId, code),
    sendData: (frame) => {
      counters.bytesOut += frame.data.length;
      send(frame);
    },
    schedule: (stream) => {
      ready.add(stream);
      o.pump();
    },
    release: (stream) => o.release(stream),
    takeWindowBudget: (bytes) => {
      const granted = Math.min(bytes, windowBudgetFree);
      windowBudgetFree -= granted;
      return granted;
    },
    returnWindowBudget: (bytes) => {
      windowBudgetFree += bytes;
    },
    resetReceived: (stream, code) => {
      counters.resetsReceived++;
      o.logger.debug({ streamId: stream.id, code }, 'stream reset by peer');
    },
  };
}
