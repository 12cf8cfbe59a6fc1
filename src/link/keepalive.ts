// Keepalive and RTT of one link: a PING every interval (and an echo PING when what must be answered is
// not), the smoothed RTT from the PONGs, the early "suspect" after about one interval of silence (with a
// PING at once), and the verdict "dead" after max(timeout, KEEPALIVE_RTT_FACTOR x RTT) of silence. It
// knows no sockets, records or frames' bytes.
import type { Clock, TimerHandle } from '../util/clock.ts';
import { ECHO_PING_MS, KEEPALIVE_RTT_FACTOR, SUSPECT_MARGIN_MS, SUSPECT_RTT_FACTOR } from './options.ts';

/** PINGs awaiting their PONG that are remembered for RTT; older ones are forgotten. */
const MAX_PINGS_IN_FLIGHT = 16;
/** Weight of a new RTT sample in the smoothed RTT (RFC 6298's alpha). */
const RTT_ALPHA = 0.125;

export interface KeepaliveInit {
  readonly clock: Clock;
  /** Between PINGs, in ms. */
  readonly intervalMs: number;
  /** Least silence (nothing received) that declares the link dead, in ms. */
  readonly timeoutMs: number;
  /** Sends a PING frame with this id. */
  readonly sendPing: (id: bigint) => void;
  /** Nothing was received for `silentMs`: the link is dead. */
  readonly onDead: (silentMs: number) => void;
  /** A new smoothed RTT and the raw sample it took in, in ms. */
  readonly onRtt: (srttMs: number, sampleMs: number) => void;
  /** Nothing was received for `silentMs` (keepaliveSuspectMs): the link may be dead. Optional. */
  readonly onSuspect?: (silentMs: number) => void;
  /** Something arrived on a suspect link: it is alive after all. Optional. */
  readonly onAlive?: () => void;
}

/** The silence after which a link is dead: max(timeout, KEEPALIVE_RTT_FACTOR x smoothed RTT). */
export function keepaliveDeadMs(timeoutMs: number, srttMs: number | undefined): number {
  return Math.max(timeoutMs, KEEPALIVE_RTT_FACTOR * (srttMs ?? 0));
}

/**
 * The silence after which a link is suspect: one ping interval (the peer's PINGs and our PONGs arrive at
 * least that often on a live link) plus max(SUSPECT_MARGIN_MS, SUSPECT_RTT_FACTOR x smoothed RTT), so a
 * slow link's queueing does not make it suspect; undefined when that is not below the dead verdict.
 */
export function keepaliveSuspectMs(
  intervalMs: number,
  timeoutMs: number,
  srttMs: number | undefined,
): number | undefined {
  const ms = intervalMs + Math.max(SUSPECT_MARGIN_MS, SUSPECT_RTT_FACTOR * (srttMs ?? 0));
  return ms < keepaliveDeadMs(timeoutMs, srttMs) ? ms : undefined;
}

export class Keepalive {
  private readonly pings = new Map<bigint, number>();
  private nextPingId = 0n;
  private lastReceivedAt: number;
  private srtt: number | undefined;
  private timer: TimerHandle | undefined;
  /** Fires at the next silence deadline (suspect, then dead); re-armed from lastReceivedAt. */
  private watch: TimerHandle | undefined;
  private suspected = false;
  private stopped = false;
  /** Something that must be answered went out and nothing arrived since. */
  private awaiting = false;
  /** When the last echo PING went out, and when the watch is due (clock ms). */
  private lastEchoAt = -Infinity;
  private watchDue = Infinity;

  constructor(private readonly init: KeepaliveInit) {
    this.lastReceivedAt = init.clock.now();
  }

  /** Smoothed round-trip time in ms; undefined before the first PONG. */
  get rttMs(): number | undefined {
    return this.srtt;
  }

  /** True between 'suspect' and the next record (or the verdict). */
  get suspect(): boolean {
    return this.suspected;
  }

  /** Sends the first PING now (for the agent it is also the key confirmation) and starts the ticks. */
  start(): void {
    this.timer = this.init.clock.setInterval(this.onTick, this.init.intervalMs);
    this.arm();
    this.ping();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.watch?.cancel();
    this.watch = undefined;
  }

  /**
   * What was just sent must be answered soon: silence from now on is news after echoMs, not only after
   * the suspect silence. Cheap on the hot path: the watch moves only when it is due later than that.
   */
  expectReply(): void {
    if (this.awaiting) return;
    this.awaiting = true;
    if (this.watchDue > this.init.clock.now() + this.echoMs()) this.arm();
  }

  /** Something (any record) arrived: the link is alive. */
  received(): void {
    this.awaiting = false;
    this.lastReceivedAt = this.init.clock.now();
    if (!this.suspected) return;
    this.suspected = false;
    this.arm();
    this.init.onAlive?.();
  }

  /** A PONG arrived; unknown ids (forgotten or never sent) are ignored. */
  pong(id: bigint): void {
    const sentAt = this.pings.get(id);
    if (sentAt === undefined) return;
    this.pings.delete(id);
    const sample = Math.max(0, this.init.clock.now() - sentAt);
    this.srtt = this.srtt === undefined ? sample : this.srtt + RTT_ALPHA * (sample - this.srtt);
    this.init.onRtt(this.srtt, sample);
  }

  private ping(): void {
    const id = this.nextPingId++;
    this.pings.set(id, this.init.clock.now());
    if (this.pings.size > MAX_PINGS_IN_FLIGHT) this.pings.delete(this.pings.keys().next().value!);
    this.init.sendPing(id);
  }

  private readonly onTick = (): void => {
    this.ping();
  };

  /** The silence after something to be answered that calls for an echo PING. */
  private echoMs(): number {
    return Math.max(ECHO_PING_MS, SUSPECT_RTT_FACTOR * (this.srtt ?? 0));
  }

  /**
   * Arms the watch for the next deadline after lastReceivedAt: the suspect's (unless already suspect),
   * then the dead verdict's; while a reply is awaited, the next echo's if earlier.
   */
  private arm(): void {
    if (this.stopped) return;
    this.watch?.cancel();
    const { intervalMs, timeoutMs } = this.init;
    const suspectMs = this.suspected ? undefined : keepaliveSuspectMs(intervalMs, timeoutMs, this.srtt);
    let due = this.lastReceivedAt + (suspectMs ?? keepaliveDeadMs(timeoutMs, this.srtt));
    if (this.awaiting) due = Math.min(due, Math.max(this.lastReceivedAt, this.lastEchoAt) + this.echoMs());
    const now = this.init.clock.now();
    this.watchDue = Math.max(now + 1, due);
    this.watch = this.init.clock.setTimeout(this.onWatch, this.watchDue - now);
  }

  private readonly onWatch = (): void => {
    this.watch = undefined;
    this.watchDue = Infinity;
    const silentMs = this.init.clock.now() - this.lastReceivedAt;
    if (silentMs >= keepaliveDeadMs(this.init.timeoutMs, this.srtt)) {
      this.stop();
      this.init.onDead(silentMs);
      return;
    }
    const now = this.init.clock.now();
    const echo = this.awaiting && silentMs >= this.echoMs() && now - this.lastEchoAt >= this.echoMs();
    if (echo) {
      // What we sent should have been answered by now: ask again, so that a link broken by an outage's
      // lost bytes is found as soon as the path returns (the peer cannot read this PING and drops it).
      this.lastEchoAt = now;
      this.ping();
    }
    const suspectMs = keepaliveSuspectMs(this.init.intervalMs, this.init.timeoutMs, this.srtt);
    if (!this.suspected && suspectMs !== undefined && silentMs >= suspectMs) {
      this.suspected = true;
      this.arm();
      // A live link answers within a round trip: 'alive' then beats the probes the suspect starts.
      if (!echo) this.ping();
      this.init.onSuspect?.(silentMs);
      return;
    }
    this.arm();
  };
}
