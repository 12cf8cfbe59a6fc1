// What the mux needs from the layer below (a Session satisfies it structurally) and the mux's defaults.
// It knows nothing of links, sequence numbers or replay: reliable means "exactly once, in order" here.
import type { EventEmitter } from 'node:events';
import type { DatagramFrame, Frame } from '../wire/frame.ts';

/**
 * The session as the mux sees it. Events: 'frame' (frame: Frame) for every STREAM_*, COMMAND and DATAGRAM
 * frame received, reliable ones exactly once and in order; 'drain' once `writable` is true again;
 * 'closed' (err?: Error) once, when the session ends (expired, replaced, closed).
 */
export interface MuxTransport extends EventEmitter {
  /**
   * Sends a reliable frame (STREAM_*, COMMAND): delivered exactly once and in order. The frame is always
   * accepted; false means the transport's buffer is over its cap and the producer should stop until 'drain'.
   */
  sendReliable(frame: Frame): boolean;
  /**
   * Best effort: false when the datagram was dropped (no link, congested). Never replayed. `route`
   * 'lane' keeps it on the link's own datagram lane, in order behind the reliable frames already sent
   * (a new flow's first datagrams behind its flow.open); 'any' (default) lets the session pick a faster
   * datagram path when the link has one (the UDP path).
   */
  sendDatagram(frame: DatagramFrame, route?: DatagramRoute): boolean;
  /** False while the transport's buffer is over its cap (backpressure); 'drain' follows. */
  readonly writable: boolean;
  /** Optional link figures; `rttMs` (milliseconds) lets the mux grow receive windows on long paths. */
  readonly stats?: { readonly rttMs?: number };
  /** The same RTT read directly, preferred when present (no stats snapshot per window grant). */
  readonly rttMs?: number;
}

/** Which way a datagram may take: any (the session picks: UDP path or lane) or the link's lane only. */
export type DatagramRoute = 'any' | 'lane';

/** Stream ids: relay-opened streams are odd, agent-opened even, so both sides allocate without talking. */
export type MuxRole = 'relay' | 'agent';

/**
 * Send window every stream starts with, in bytes, on both sides (256 KiB). It is fixed by the protocol, so
 * the peers never need to agree on settings: a side that wants a larger receive window grants the
 * difference with a STREAM_WINDOW frame right after the open (yamux does the same).
 */
export const STREAM_INITIAL_WINDOW_BYTES = 256 * 1024;
/** Default largest receive window a stream may grow to, in bytes (16 MiB): the per-stream memory bound. */
export const STREAM_MAX_WINDOW_BYTES = 16 * 1024 * 1024;
/**
 * Default cap on how far all receive windows of one session may grow together beyond their initial 256 KiB
 * each, in bytes (16 MiB): one lone stream still reaches the full per-stream maximum, eight bulk streams
 * share it (16 MiB is 1.3 Gbit/s over a 100 ms round trip), and the memory a session's readers can be
 * made to hold stays bounded whatever the number of streams.
 */
export const SESSION_WINDOW_BUDGET_BYTES = 16 * 1024 * 1024;
/** Default largest DATA payload, in bytes (16 KiB): small enough that one round of the scheduler is short. */
export const STREAM_CHUNK_BYTES = 16 * 1024;
/** Default cap on streams open at once in one session, per side. */
export const MAX_STREAMS = 4096;
/** Largest stream id (u32 on the wire). */
export const MAX_STREAM_ID = 0xffff_ffff;
/**
 * A receive window doubles (up to its maximum) when the reader consumed half of it within this many round
 * trips: the window, not the reader, is then the bottleneck.
 */
export const WINDOW_GROWTH_RTTS = 4;
/** Round-trip floor used for window growth when the transport reports none, in milliseconds. */
export const WINDOW_GROWTH_MIN_RTT_MS = 1;
