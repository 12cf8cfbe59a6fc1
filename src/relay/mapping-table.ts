// The relay's public ports: which mapping holds which port, who serves it, and its listener's life.
// Lazy listen: a port opens on the first claim and closes when its last serving session lets go.
import type { Socket } from 'node:net';
import { XnatError } from '../errors.ts';
import { listenPublicTcp, type PublicListener } from '../forward/tcp-public.ts';
import { listenPublicUdp, type PublicUdp } from '../forward/udp-public.ts';
import { emptyDrops } from '../forward/udp-drops.ts';
import { emptyTraffic, type TrafficCounters } from '../observe/status.ts';
import { realClock, type Clock } from '../util/clock.ts';
import type { Logger } from '../observe/log.ts';
import { isAllowed, type PortRange } from '../util/ports.ts';
import type { MappingServerStatus } from '../observe/status.ts';
import { pickServer } from './server-pick.ts';
import { VisitorPolicy, type Admitted } from './visitor-policy.ts';
import {
  DEFAULT_MAX_FLOWS_PER_MAPPING,
  DEFAULT_MAX_FLOWS_PER_SOURCE,
  UdpRouter,
  type FlowLimits,
  type FlowServer,
  type UdpEntry,
} from './udp-router.ts';

/** A visitor's admission rides on its socket, so one close listener serves every visitor. */
const kAdmitted = Symbol('xnat.admitted');
type AdmittedSocket = Socket & { [kAdmitted]: Admitted };
function releaseOnClose(this: AdmittedSocket): void {
  this[kAdmitted].release();
}

/** A session that serves mappings; the table only reads its load and health and hands it visitors and flows. */
export interface MappingServer extends FlowServer {
  readonly agentName: string;
  /** Streams open now. */
  readonly activeStreams: number;
  /** Ms left of the mapping's health back-off (0 when healthy). */
  backoffLeftOf(mapping: string, now: number): number;
  /** Streams open now of one mapping, with their bytes so far (for the mapping's status). */
  liveStreams(mapping: string): { streams: number; bytesUp: number; bytesDown: number };
  acceptVisitor(entry: MappingEntry, socket: Socket): void;
}

export interface MappingEntry {
  readonly name: string;
  readonly protocol: 'tcp' | 'udp';
  readonly port: number;
  readonly servers: Set<MappingServer>;
  listener: PublicListener | undefined;
  udp: PublicUdp | undefined;
  /** udp only: its flows, counters and route back to visitors. */
  flowState: UdpEntry | undefined;
  totalVisitors: number;
  /** Bytes of closed streams (tcp) or of every datagram (udp) since the port opened; see mapping-status.ts. */
  readonly traffic: TrafficCounters;
  /** Set by an operator (admin mapping.disable): new visitors are refused, open ones stay. */
  disabled: boolean;
}

export interface ClaimRequest {
  readonly name: string;
  readonly protocol: 'tcp' | 'udp';
  /** 0: any free port in the allowed ranges. */
  readonly remotePort: number;
  /** udp only: flow idle timeout in ms. */
  readonly idleTimeoutMs?: number;
  /** Share of new visitors against the other servers of the mapping; default 1. */
  readonly weight?: number;
  /** tcp: deflate this server's streams of the mapping. */
  readonly compress?: 'deflate';
}

/** Attempts at picking a free port in an allowed range before giving up. */
const FREE_PORT_ATTEMPTS = 64;

export class MappingTable {
  private readonly entries = new Map<string, MappingEntry>();
  private chain: Promise<unknown> = Promise.resolve();
  /** Routes UDP datagrams and counts their drops (sessions count theirs through it too). */
  readonly udpRouter: UdpRouter;
  /** Who may visit: screened before a visitor reaches any session; the relay updates it on reload. */
  readonly visitors: VisitorPolicy;

  constructor(
    /** The address public ports listen on (shown as the mapping's public address). */
    readonly publicHost: string,
    private readonly logger: Logger,
    private readonly random: () => number = Math.random,
    private readonly clock: Clock = realClock,
    limits: FlowLimits = {
      maxFlowsPerMapping: DEFAULT_MAX_FLOWS_PER_MAPPING,
      maxFlowsPerSource: DEFAULT_MAX_FLOWS_PER_SOURCE,
    },
  ) {
    this.udpRouter = new UdpRouter(clock, logger, limits);
    this.visitors = new VisitorPolicy(undefined, clock, logger);
    this.udpRouter.admitFlow = (mapping, address) => this.visitors.admitFlow(mapping, address) === undefined;
  }

  /** Claims a public port for `server`; serialised so two claims never race for one port. */
  claim(server: MappingServer, req: ClaimRequest, allow: readonly PortRange[]): Promise<MappingEntry> {
    const run = this.chain.then(() => this.claimNow(server, req, allow));
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Drops every claim of `server`; listeners left with no server close. */
  async release(server: MappingServer): Promise<void> {
    await Promise.all([...this.entries.values()].map((entry) => this.releaseEntry(server, entry)));
  }

  /**
   * Drops `server`'s claim on one entry (an agent gave the mapping up, or may no longer hold its port):
   * its flows there go; a listener left with no server closes. Streams are the server's own business.
   */
  async releaseEntry(server: MappingServer, entry: MappingEntry): Promise<void> {
    if (!entry.servers.delete(server)) return;
    const flows = entry.flowState?.flows;
    if (flows) for (const [k, f] of flows.entries()) if (f.server === server) flows.delete(k);
    if (entry.servers.size > 0) return;
    const key = `${entry.protocol}/${entry.port}`;
    if (this.entries.get(key) === entry) this.entries.delete(key);
    flows?.clear();
    this.logger.info({ mapping: entry.name, protocol: entry.protocol, port: entry.port }, 'mapping closed');
    await Promise.all([entry.listener?.close(), entry.udp?.close()]);
  }

  list(): readonly MappingEntry[] {
    return [...this.entries.values()];
  }

  async closeAll(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    this.udpRouter.close();
    this.visitors.close();
    for (const e of all) e.flowState?.flows.clear();
    await Promise.all(all.flatMap((e) => [e.listener?.close(), e.udp?.close()]));
  }

  private async claimNow(
    server: MappingServer,
    req: ClaimRequest,
    allow: readonly PortRange[],
  ): Promise<MappingEntry> {
    if (req.remotePort !== 0) {
      if (!isAllowed(allow, req.protocol, req.remotePort)) {
        throw new XnatError('XNAT_ERR_MAPPING_NOT_ALLOWED', { detail: `${req.remotePort}/${req.protocol}` });
      }
      const existing = this.entries.get(`${req.protocol}/${req.remotePort}`);
      if (existing) return this.join(existing, server, req);
      return this.open(server, req, req.remotePort);
    }
    // Port 0: join the same-named mapping another agent already serves, else pick a free allowed port.
    for (const e of this.entries.values()) {
      if (e.name === req.name && e.protocol === req.protocol && isAllowed(allow, e.protocol, e.port)) {
        return this.join(e, server, req);
      }
    }
    const ranges = allow.filter((r) => r.protocol === req.protocol);
    const size = ranges.reduce((n, r) => n + r.to - r.from + 1, 0);
    if (size === 0)
      throw new XnatError('XNAT_ERR_MAPPING_NOT_ALLOWED', { detail: `no ${req.protocol} range` });
    for (let i = 0; i < Math.min(FREE_PORT_ATTEMPTS, size); i++) {
      let k = Math.floor(this.random() * size);
      const range = ranges.find((r) => (k < r.to - r.from + 1 ? true : ((k -= r.to - r.from + 1), false)))!;
      const port = range.from + k;
      if (this.entries.has(`${req.protocol}/${port}`)) continue;
      try {
        return await this.open(server, req, port);
      } catch (err) {
        // Another program holds this one (the table knows its own ports): try another.
        if (err instanceof XnatError && err.code === 'XNAT_ERR_MAPPING_BIND_FAILED') continue;
        throw err;
      }
    }
    throw new XnatError('XNAT_ERR_MAPPING_NO_FREE_PORT', { detail: `${req.name}` });
  }

  private join(entry: MappingEntry, server: MappingServer, req: ClaimRequest): MappingEntry {
    if (entry.name !== req.name) {
      throw new XnatError('XNAT_ERR_MAPPING_IN_USE', {
        detail: `${entry.port}/${entry.protocol} held by ${entry.name}`,
      });
    }
    entry.servers.add(server);
    return entry;
  }

  private async open(server: MappingServer, req: ClaimRequest, port: number): Promise<MappingEntry> {
    const entry: MappingEntry = {
      name: req.name,
      protocol: req.protocol,
      port,
      servers: new Set([server]),
      listener: undefined,
      udp: undefined,
      flowState: undefined,
      totalVisitors: 0,
      traffic: emptyTraffic(),
      disabled: false,
    };
    let bound: { address: string; port: number };
    if (req.protocol === 'tcp') {
      bound = entry.listener = await listenPublicTcp(this.publicHost, port, (socket) =>
        this.route(entry, socket),
      );
    } else {
      const state: UdpEntry = {
        name: req.name,
        servers: entry.servers,
        flows: this.udpRouter.createTable(req.idleTimeoutMs, () => state),
        totalFlows: 0,
        drops: emptyDrops(),
        traffic: entry.traffic,
        disabled: () => entry.disabled,
        send: (data, address, p) => entry.udp?.send(data, address, p),
      };
      bound = entry.udp = await listenPublicUdp(this.publicHost, port, (data, address, p) =>
        this.udpRouter.route(state, data, address, p),
      );
      entry.flowState = state;
      state.local = { address: bound.address, port: bound.port };
    }
    this.entries.set(`${req.protocol}/${port}`, entry);
    this.logger.info(
      {
        what: 'mapping',
        mapping: req.name,
        protocol: req.protocol,
        address: bound.address,
        port: bound.port,
      },
      'listening',
    );
    return entry;
  }

  /** Each server of `entry` as status shows it: link, weight, health, open visitors of the mapping. */
  serverStatus(entry: MappingEntry): MappingServerStatus[] {
    const now = this.clock.now();
    return [...entry.servers].map((s) => ({
      agent: s.agentName,
      attached: s.attached,
      weight: s.weightOf(entry.name),
      healthy: s.healthyOf(entry.name, now),
      backoffMs: s.backoffLeftOf(entry.name, now),
      visitors: s.loadOf(entry.name),
    }));
  }

  /** The server server-pick.ts ranks first gets the visitor; with none (all gone) it is reset at once. */
  private route(entry: MappingEntry, socket: Socket): void {
    if (entry.disabled) {
      this.logger.debug({ mapping: entry.name, code: 'XNAT_ERR_MAPPING_DISABLED' }, 'visitor refused');
      socket.resetAndDestroy();
      return;
    }
    entry.totalVisitors++;
    const address = socket.remoteAddress ?? '';
    const admitted = this.visitors.admit(entry.name, address);
    if (!admitted.ok) {
      socket.resetAndDestroy();
      return;
    }
    const best = pickServer(entry.servers, entry.name, this.clock.now());
    if (!best) {
      admitted.release();
      this.visitors.refuse(entry.name, 'noAgent', address);
      socket.resetAndDestroy();
      return;
    }
    (socket as AdmittedSocket)[kAdmitted] = admitted;
    socket.on('close', releaseOnClose); // one function for every visitor, not a closure each
    best.acceptVisitor(entry, socket);
  }
}
