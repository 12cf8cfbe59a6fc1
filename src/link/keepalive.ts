// Keepalive and RTT of one link: a PING every interval, the smoothed RTT from the PONGs, the early
// "suspect" after about one interval of silence (with a PING at once), and the verdict "dead" after
// max(timeout, KEEPALIVE_RTT_FACTOR x RTT) of silence. It knows no sockets, records or frames' bytes.
import type { Clock, TimerHandle } from '../util/clock.ts';
import { KEEPALIVE_RTT_FACTOR, SUSPECT_MARGIN_MS, SUSPECT_RTT_FACTOR } from './options.ts';

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

  /** Something (any record) arrived: the link is alive. */
  received(): void {
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

  /** Arms the watch for the next deadline after lastReceivedAt (suspect unless already, then dead). */
  private arm(): void {
    if (this.stopped) return;
    this.watch?.cancel();
    const { intervalMs, timeoutMs } = this.init;
    const suspectMs = this.suspected ? undefined : keepaliveSuspectMs(intervalMs, timeoutMs, this.srtt);
    const due = this.lastReceivedAt + (suspectMs ?? keepaliveDeadMs(timeoutMs, this.srtt));
    this.watch = this.init.clock.setTimeout(this.onWatch, Math.max(1, due - this.init.clock.now()));
  }

  private readonly onWatch = (): void => {
    this.watch = undefined;
    const silentMs = this.init.clock.now() - this.lastReceivedAt;
    if (silentMs >= keepaliveDeadMs(this.init.timeoutMs, this.srtt)) {
      this.stop();
      this.init.onDead(silentMs);
      return;
    }
    const suspectMs = keepaliveSuspectMs(this.init.intervalMs, this.init.timeoutMs, this.srtt);
    if (!this.suspected && suspectMs !== undefined && silentMs >= suspectMs) {
      this.suspected = true;
      this.arm();
      // A live link answers within a round trip: 'alive' then beats the probes the suspect starts.
      this.ping();
      this.init.onSuspect?.(silentMs);
      return;
    }
    this.arm();
  };
}
