// Who may visit the relay's public ports: relay-wide and per-mapping CIDR allow/deny lists, caps on open
// connections (per mapping, per source), new-connection rate limits with temporary bans, refusals counted
// by cause and logged at most once per interval. It knows addresses and counts, not sockets or sessions.
import { BlockList } from 'node:net';
import type { CidrBlock, RateLimit, VisitorRules, VisitorsProfile } from '../config/index.ts';
import { sourceOf } from '../link/admission.ts';
import { CapLog } from '../observe/cap-log.ts';
import type { Logger } from '../observe/log.ts';
import type { VisitorPolicyRefusals } from '../observe/status.ts';
import type { Clock } from '../util/clock.ts';
import { canonicalIp } from '../util/ip.ts';

/** Why a visitor was turned away before reaching any agent. */
export type VisitorRefusalCause =
  'denied' | 'notAllowed' | 'banned' | 'rate' | 'maxConnections' | 'perSource' | 'noAgent';

export type VisitorRefusalCounts = { -readonly [K in keyof VisitorPolicyRefusals]: number };

export function emptyRefusals(): VisitorRefusalCounts {
  return { denied: 0, notAllowed: 0, banned: 0, rate: 0, maxConnections: 0, perSource: 0, noAgent: 0 };
}

/** Sources whose rate state is kept at once; the least recently seen goes first (bounded memory). */
export const MAX_RATE_SOURCES = 65_536;

/** An admitted visitor: call release() when its connection closes (idempotent). */
export interface Admitted {
  readonly ok: true;
  release(): void;
}
export type Admission = Admitted | { readonly ok: false; readonly cause: VisitorRefusalCause };

/**
 * One admitted visitor: an object with a method, not closures over admit()'s scope, and its count keys
 * rebuilt on release rather than kept (idle visitors are many; issue 10).
 */
class OpenVisitor implements Admitted {
  readonly ok = true;
  private done = false;

  constructor(
    private readonly policy: VisitorPolicy,
    private readonly mapping: string,
    private readonly source: string,
  ) {}

  release(): void {
    if (this.done) return;
    this.done = true;
    this.policy.released(this.mapping, this.source);
  }
}

interface Compiled {
  readonly allow: BlockList | undefined;
  readonly deny: BlockList | undefined;
  readonly maxPerSource: number | undefined;
  readonly rate: RateLimit | undefined;
  readonly maxConnections: number | undefined;
}

interface RateState {
  tokens: number;
  at: number;
  bannedUntil: number;
}

function blockList(blocks: readonly CidrBlock[] | undefined): BlockList | undefined {
  if (!blocks) return undefined;
  const list = new BlockList();
  for (const b of blocks) list.addSubnet(b.address, b.prefix, b.family);
  return list;
}

function compile(r: VisitorRules & { maxConnections?: number }): Compiled {
  return {
    allow: blockList(r.allow),
    deny: blockList(r.deny),
    maxPerSource: r.maxConnectionsPerSource,
    rate: r.rate,
    maxConnections: r.maxConnections,
  };
}

const NONE: Compiled = compile({});

/** Whether `list` holds `address` (IPv4-mapped IPv6 matches IPv4 blocks: BlockList folds it). */
function holds(list: BlockList, address: string): boolean {
  const family = address.includes(':') ? 'ipv6' : 'ipv4';
  try {
    return list.check(address, family);
  } catch {
    return false; // not an address at all ('' of a socket already gone)
  }
}

export class VisitorPolicy {
  private global: Compiled = NONE;
  private perMapping = new Map<string, Compiled>();
  /**
   * Open connections by source relay-wide, by mapping and source, and by mapping. Keyed by the address
   * strings themselves (nested per mapping), not by `scope|source` strings built and hashed anew on
   * every admit and release.
   */
  private readonly openOfSource = new Map<string, number>();
  private readonly openOfMappingSource = new Map<string, Map<string, number>>();
  private readonly openOfMapping = new Map<string, number>();
  private readonly rates = new Map<string, RateState>();
  private readonly log: CapLog;
  /** Refusals since start, relay-wide and per mapping, by cause. */
  readonly refused = emptyRefusals();
  private readonly refusedOf = new Map<string, VisitorRefusalCounts>();

  constructor(
    profile: VisitorsProfile | undefined,
    private readonly clock: Clock,
    logger: Logger,
  ) {
    this.log = new CapLog(logger, clock, 'visitor refused');
    this.update(profile);
  }

  /** Applies new rules (reload): open counts, rate state and bans carry over. */
  update(profile: VisitorsProfile | undefined): void {
    this.global = profile ? compile(profile) : NONE;
    this.perMapping = new Map((profile?.mappings ?? []).map((m) => [m.name, compile(m)]));
  }

  /** Refusals of one mapping by cause (all zero when it has none). */
  refusedFor(mapping: string): VisitorRefusalCounts {
    return { ...(this.refusedOf.get(mapping) ?? emptyRefusals()) };
  }

  /** A new TCP visitor of `mapping` from `address`: admitted (release on close) or refused with a cause. */
  admit(mapping: string, rawAddress: string): Admission {
    const address = canonicalIp(rawAddress);
    const m = this.perMapping.get(mapping) ?? NONE;
    const cause = this.screen(mapping, m, address);
    if (cause) return this.refuse(mapping, cause, address);
    const source = sourceOfIp(address);
    const open = this.openOfMapping.get(mapping) ?? 0;
    if (m.maxConnections !== undefined && open >= m.maxConnections)
      return this.refuse(mapping, 'maxConnections', address);
    let ofMapping = this.openOfMappingSource.get(mapping);
    if (
      (this.global.maxPerSource !== undefined &&
        (this.openOfSource.get(source) ?? 0) >= this.global.maxPerSource) ||
      (m.maxPerSource !== undefined && (ofMapping?.get(source) ?? 0) >= m.maxPerSource)
    )
      return this.refuse(mapping, 'perSource', address);
    this.openOfMapping.set(mapping, open + 1);
    bump(this.openOfSource, source, 1);
    if (!ofMapping) this.openOfMappingSource.set(mapping, (ofMapping = new Map()));
    bump(ofMapping, source, 1);
    return new OpenVisitor(this, mapping, source);
  }

  /** An admitted visitor's connection closed: its counts go down (OpenVisitor calls it once). */
  released(mapping: string, source: string): void {
    bump(this.openOfMapping, mapping, -1);
    bump(this.openOfSource, source, -1);
    const ofMapping = this.openOfMappingSource.get(mapping);
    if (ofMapping) {
      bump(ofMapping, source, -1);
      if (ofMapping.size === 0) this.openOfMappingSource.delete(mapping);
    }
  }

  /** A new UDP flow of `mapping` from `address`: lists, bans and rates apply; caps are the flow table's. */
  admitFlow(mapping: string, rawAddress: string): VisitorRefusalCause | undefined {
    const address = canonicalIp(rawAddress);
    const cause = this.screen(mapping, this.perMapping.get(mapping) ?? NONE, address);
    if (cause) this.refuse(mapping, cause, address);
    return cause;
  }

  /** Counts and (rate-limited) logs a refusal; also for causes found elsewhere (noAgent). */
  refuse(
    mapping: string,
    cause: VisitorRefusalCause,
    address: string,
  ): { ok: false; cause: VisitorRefusalCause } {
    this.refused[cause]++;
    let c = this.refusedOf.get(mapping);
    if (!c) this.refusedOf.set(mapping, (c = emptyRefusals()));
    c[cause]++;
    this.log.hit(cause, { mapping, visitor: address });
    return { ok: false, cause };
  }

  close(): void {
    this.log.close();
  }

  /** Lists, then bans and rates (a refused flood still counts towards its ban). */
  private screen(mapping: string, m: Compiled, address: string): VisitorRefusalCause | undefined {
    if ((this.global.deny && holds(this.global.deny, address)) || (m.deny && holds(m.deny, address)))
      return 'denied';
    if ((this.global.allow && !holds(this.global.allow, address)) || (m.allow && !holds(m.allow, address)))
      return 'notAllowed';
    if (!this.global.rate && !m.rate) return undefined; // no key strings built for a check that is off
    const source = sourceOfIp(address);
    return (
      this.rateCheck(`*|${source}`, this.global.rate) ?? this.rateCheck(`m:${mapping}|${source}`, m.rate)
    );
  }

  /** Token bucket per source and scope: `connections` at once, refilled over `perMs`; empty: banned. */
  private rateCheck(key: string, rate: RateLimit | undefined): 'rate' | 'banned' | undefined {
    if (!rate) return undefined;
    const now = this.clock.now();
    let st = this.rates.get(key);
    if (st)
      this.rates.delete(key); // re-inserted below: the map's order is least recently seen first
    else {
      st = { tokens: rate.connections, at: now, bannedUntil: 0 };
      if (this.rates.size >= MAX_RATE_SOURCES) this.rates.delete(this.rates.keys().next().value!);
    }
    this.rates.set(key, st);
    if (now < st.bannedUntil) return 'banned';
    st.tokens = Math.min(rate.connections, st.tokens + ((now - st.at) * rate.connections) / rate.perMs);
    st.at = now;
    if (st.tokens >= 1) {
      st.tokens -= 1;
      return undefined;
    }
    st.bannedUntil = now + rate.banMs;
    // A ban served in full starts with a full bucket, not with what trickled in while it ran.
    st.tokens = rate.connections;
    st.at = st.bannedUntil;
    return 'rate';
  }
}

/** sourceOf for a canonicalIp() result: an IPv4 address (no ':') is its own source, with no string work. */
function sourceOfIp(address: string): string {
  return address !== '' && !address.includes(':') ? address : sourceOf(address);
}

function bump(map: Map<string, number>, key: string, by: number): void {
  const n = (map.get(key) ?? 0) + by;
  if (n > 0) map.set(key, n);
  else map.delete(key);
}
