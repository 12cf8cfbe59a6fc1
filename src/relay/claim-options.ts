// What one session's agent asked for each mapping it serves, beyond the port: its weight, whether its
// streams are deflated, and its LAN target's health back-off (mapping.health). It knows names and
// numbers only; the session answers the pick (server-pick.ts) from it.
import type { ClaimRequest } from './mapping-table.ts';

export class ClaimOptions {
  private readonly weights = new Map<string, number>();
  private readonly compressed = new Set<string>();
  /** Until when (clock ms) each mapping's LAN target is unhealthy. */
  private readonly unhealthyUntil = new Map<string, number>();

  /** Records a successful claim's options (a re-registration replaces them). */
  set(name: string, protocol: 'tcp' | 'udp', req: ClaimRequest): void {
    this.weights.set(name, req.weight ?? 1);
    if (protocol === 'tcp' && req.compress === 'deflate') this.compressed.add(name);
    else this.compressed.delete(name);
  }

  has(name: string): boolean {
    return this.weights.has(name);
  }

  weightOf(name: string): number {
    return this.weights.get(name) ?? 1;
  }

  compresses(name: string): boolean {
    return this.compressed.has(name);
  }

  setHealth(name: string, healthy: boolean, retryAfterMs: number, now: number): void {
    if (healthy) this.unhealthyUntil.delete(name);
    else this.unhealthyUntil.set(name, now + retryAfterMs);
  }

  healthyOf(name: string, now: number): boolean {
    return (this.unhealthyUntil.get(name) ?? 0) <= now;
  }

  backoffLeftOf(name: string, now: number): number {
    return Math.max(0, Math.round((this.unhealthyUntil.get(name) ?? 0) - now));
  }
}
