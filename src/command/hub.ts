// The relay's set of command endpoints, one per agent (or admin client), keyed by a name it chooses.
// It knows nothing of sessions: owners add endpoints; an endpoint leaves the hub when it closes.
import type { XnatError } from '../errors.ts';
import type { CallOptions, CommandEndpoint } from './endpoint.ts';

/** Result of one peer in requestAll(). */
export type HubResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: XnatError };

export class CommandHub {
  private readonly endpoints = new Map<string, { endpoint: CommandEndpoint; onClose: () => void }>();

  /** Adds `endpoint` under `key`, replacing (not closing) an older one of the same key. */
  add(key: string, endpoint: CommandEndpoint): void {
    this.remove(key);
    const onClose = (): void => {
      if (this.endpoints.get(key)?.endpoint === endpoint) this.remove(key);
    };
    this.endpoints.set(key, { endpoint, onClose });
    endpoint.once('close', onClose);
    if (endpoint.closed) this.remove(key);
  }

  /** Removes `key`; true if it was there. The endpoint is left open. */
  remove(key: string): boolean {
    const entry = this.endpoints.get(key);
    if (!entry) return false;
    entry.endpoint.off('close', entry.onClose);
    return this.endpoints.delete(key);
  }

  get(key: string): CommandEndpoint | undefined {
    return this.endpoints.get(key)?.endpoint;
  }

  get size(): number {
    return this.endpoints.size;
  }

  keys(): string[] {
    return [...this.endpoints.keys()];
  }

  /** Sends one-way `name` to every endpoint; one that fails (closed, payload refused) is counted, not thrown. */
  broadcast(name: string, payload: unknown): { sent: number; failed: number } {
    let sent = 0;
    let failed = 0;
    for (const { endpoint } of this.endpoints.values()) {
      try {
        endpoint.send(name, payload);
        sent++;
      } catch {
        failed++;
      }
    }
    return { sent, failed };
  }

  /** Calls request `name` on every endpoint at once; never rejects: each key gets its value or its error. */
  async requestAll<T = unknown>(
    name: string,
    payload: unknown,
    opts?: CallOptions,
  ): Promise<Map<string, HubResult<T>>> {
    const entries = [...this.endpoints.entries()];
    const results = await Promise.allSettled(
      entries.map(([, e]) => e.endpoint.request<T>(name, payload, opts)),
    );
    const out = new Map<string, HubResult<T>>();
    results.forEach((r, i) => {
      const key = entries[i]![0];
      out.set(
        key,
        r.status === 'fulfilled' ? { ok: true, value: r.value } : { ok: false, error: r.reason as XnatError },
      );
    });
    return out;
  }
}
