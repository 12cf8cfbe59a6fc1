// Keepalive and RTT of one link: a PING every interval, the smoothed RTT from the PONGs, and the verdict
// "dead" after max(timeout, KEEPALIVE_RTT_FACTOR x RTT) of silence. It knows no sockets, records or frames' bytes.
import type { Clock, TimerHandle } from '../util/clock.ts';
import { KEEPALIVE_RTT_FACTOR } from './options.ts';

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
}

export class Keepalive {
  private readonly pings = new Map<bigint, number>();
  private nextPingId = 0n;
  private lastReceivedAt: number;
  private srtt: number | undefined;
  private timer: TimerHandle | undefined;

  constructor(private readonly init: KeepaliveInit) {
    this.lastReceivedAt = init.clock.now();
  }

  /** Smoothed round-trip time in ms; undefined before the first PONG. */
  get rttMs(): number | undefined {
    return this.srtt;
  }

  /** Sends the first PING now (for the agent it is also the key confirmation) and starts the ticks. */
  start(): void {
    this.timer = this.init.clock.setInterval(this.onTick, this.init.intervalMs);
    this.ping();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** Something (any record) arrived: the link is alive. */
  received(): void {
    this.lastReceivedAt = this.init.clock.now();
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
    const silentMs = this.init.clock.now() - this.lastReceivedAt;
    if (silentMs >= Math.max(this.init.timeoutMs, KEEPALIVE_RTT_FACTOR * (this.srtt ?? 0))) {
      this.stop();
      this.init.onDead(silentMs);
      return;
    }
    this.ping();
  };
}
