// Fault-injection TCP proxy for tests: sits between agent and relay and blackholes, resets, delays,
// throttles or corrupts links on command. It knows nothing of frames or xnat; it moves bytes.
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/** 'up' = agent -> relay (client -> target), 'down' = relay -> agent. */
export type Direction = 'up' | 'down';

/** Where the proxy dials for each accepted connection. */
export interface FaultProxyOptions {
  readonly targetPort: number;
  /** Default 127.0.0.1. */
  readonly targetHost?: string;
}

/**
 * Bytes queued in one direction above which the proxy stops reading the source socket, so a throttle or
 * delay pushes back on the sender through TCP instead of buffering without bound.
 */
const PIPE_HIGH_WATER_BYTES = 256 * 1024;
/** A throttled direction writes slices of at most this share of a second, so the rate stays smooth. */
const THROTTLE_SLICE_MS = 50;

/** The faults in force; shared shape of per-connection and proxy-wide settings. */
interface Faults {
  blackhole: boolean;
  delayMs: number;
  /** Bytes per second, 0 = unthrottled. */
  throttleBps: number;
}

interface Queued {
  bytes: Buffer;
  /** Earliest time (performance.now() ms) these bytes may be forwarded, from the delay in force on arrival. */
  notBefore: number;
}

/** A byte to rewrite: XOR `mask` into the byte at `offset` from the start of one direction's stream. */
interface Flip {
  readonly offset: number;
  readonly mask: number;
}

/** One direction of a proxied connection: reads `src`, applies the faults, writes `dst` in order. */
class Pipe {
  forwarded = 0;
  dropped = 0;
  corruptNext = false;
  flip: Flip | undefined;
  /** Bytes read from the source and held back by a delay, throttle or full destination. */
  queuedBytes = 0;
  private readonly queue: Queued[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Earliest time the throttle allows the next write. */
  private throttleAt = 0;
  /** The source ended (or closed) while its end could not be delivered yet. */
  private ended = false;
  private endSent = false;
  /** The source is paused by this pipe's backpressure (not by the proxy waiting for its dial). */
  private srcPaused = false;

  constructor(
    private readonly src: Socket,
    private readonly dst: Socket,
    private readonly faults: Faults,
  ) {
    src.on('data', (chunk: Buffer) => this.onData(chunk));
    src.on('end', () => this.onEnd());
    dst.on('drain', () => this.pump());
  }

  private onData(chunk: Buffer): void {
    if (this.faults.blackhole) {
      this.dropped += chunk.length;
      return;
    }
    this.queue.push({ bytes: chunk, notBefore: performance.now() + this.faults.delayMs });
    this.queuedBytes += chunk.length;
    if (this.queuedBytes > PIPE_HIGH_WATER_BYTES && !this.srcPaused) {
      this.srcPaused = true;
      this.src.pause();
    }
    this.pump();
  }

  /** The source sent FIN (or closed gracefully): pass it on after the queued bytes; idempotent. */
  onEnd(): void {
    this.ended = true;
    this.pump();
  }

  /** Forwards what the faults allow now and schedules itself for the rest. */
  pump(): void {
    if (this.timer) return;
    while (this.queue.length > 0) {
      if (this.faults.blackhole) return;
      if (this.dst.destroyed) {
        // Bytes toward a closed peer: its kernel would answer with a reset.
        this.src.resetAndDestroy();
        return;
      }
      if (this.dst.writableNeedDrain) return;
      const now = performance.now();
      const head = this.queue[0]!;
      const bps = this.faults.throttleBps;
      const wait = Math.max(head.notBefore, bps > 0 ? this.throttleAt : 0) - now;
      if (wait > 0) {
        this.schedule(wait);
        return;
      }
      let bytes = head.bytes;
      if (bps > 0) {
        const slice = Math.max(1, Math.floor((bps * THROTTLE_SLICE_MS) / 1000));
        if (bytes.length > slice) {
          head.bytes = bytes.subarray(slice);
          bytes = bytes.subarray(0, slice);
        } else this.queue.shift();
        this.throttleAt = Math.max(now, this.throttleAt) + (bytes.length * 1000) / bps;
      } else {
        this.queue.shift();
      }
      this.queuedBytes -= bytes.length;
      if (this.corruptNext && bytes.length > 0) {
        this.corruptNext = false;
        bytes = Buffer.from(bytes);
        bytes[0] = bytes[0]! ^ 0x01;
      }
      const flip = this.flip;
      if (flip && flip.offset >= this.forwarded && flip.offset < this.forwarded + bytes.length) {
        this.flip = undefined;
        bytes = Buffer.from(bytes);
        bytes[flip.offset - this.forwarded]! ^= flip.mask;
      }
      this.forwarded += bytes.length;
      this.dst.write(bytes);
    }
    if (this.queuedBytes <= PIPE_HIGH_WATER_BYTES && this.srcPaused) {
      this.srcPaused = false;
      this.src.resume();
    }
    if (this.ended && !this.endSent && !this.faults.blackhole && !this.dst.destroyed) {
      this.endSent = true;
      this.dst.end();
    }
  }

  /**
   * The blackhole began: what was queued is lost (in flight on a dead path) and a source paused by
   * backpressure is read again, its bytes dropped, so neither direction survives a blackhole intact.
   */
  blackholed(): void {
    for (const q of this.queue) this.dropped += q.bytes.length;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.stop();
    if (this.srcPaused) {
      this.srcPaused = false;
      this.src.resume();
    }
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, Math.ceil(ms));
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

let nextConnectionId = 1;

/** One accepted connection (agent side `client`) and its dialled peer (relay side `target`). */
export class ProxyConnection {
  readonly id = nextConnectionId++;
  /** Resolves once both sockets are closed. */
  readonly closed: Promise<void>;
  private readonly faults: Faults;
  private readonly up: Pipe;
  private readonly down: Pipe;
  /** Closes of either side seen while blackholed, delivered on heal(). */
  private held = false;

  constructor(
    readonly client: Socket,
    readonly target: Socket,
    initial: Faults,
  ) {
    this.faults = { ...initial };
    this.up = new Pipe(client, target, this.faults);
    this.down = new Pipe(target, client, this.faults);
    const closeOf = (s: Socket) =>
      new Promise<void>((resolve) => (s.closed ? resolve() : s.once('close', () => resolve())));
    this.closed = Promise.all([closeOf(client), closeOf(target)]).then(() => {
      this.up.stop();
      this.down.stop();
    });
    this.wire(client, target, this.up);
    this.wire(target, client, this.down);
  }

  /**
   * A graceful close of `a` travels as a FIN behind the bytes still queued; a reset or abrupt close
   * reaches `b` at once, unless the link is blackholed (then `b` must not learn of it: a half-open link).
   */
  private wire(a: Socket, b: Socket, pipe: Pipe): void {
    a.on('error', () => {});
    a.on('close', (hadError) => {
      if (!hadError) {
        pipe.onEnd();
        return;
      }
      if (this.faults.blackhole) {
        this.held = true;
        return;
      }
      b.resetAndDestroy();
    });
  }

  /** Bytes forwarded agent -> relay so far. */
  get bytesUp(): number {
    return this.up.forwarded;
  }
  /** Bytes forwarded relay -> agent so far. */
  get bytesDown(): number {
    return this.down.forwarded;
  }
  /** Bytes read but not yet forwarded (held by delay, throttle or backpressure), both directions. */
  get bytesQueued(): number {
    return this.up.queuedBytes + this.down.queuedBytes;
  }
  /** Bytes dropped by a blackhole, both directions. */
  get bytesDropped(): number {
    return this.up.dropped + this.down.dropped;
  }
  get isClosed(): boolean {
    return this.client.destroyed && this.target.destroyed;
  }

  /**
   * Stops forwarding both ways silently; bytes are read and dropped (also those queued so far), sockets
   * stay open (a half-open link). Like a dead path, the link's byte streams never recover: TCP above a
   * rebinding NAT or a changed address is gone for good.
   */
  blackhole(): void {
    this.faults.blackhole = true;
    this.up.blackholed();
    this.down.blackholed();
  }
  /** Resets both sides at once (TCP RST). */
  reset(): void {
    this.client.resetAndDestroy();
    this.target.resetAndDestroy();
  }
  /** Holds each chunk `ms` milliseconds before forwarding it (bytes arriving from now on). */
  delay(ms: number): void {
    this.faults.delayMs = ms;
  }
  /** Limits each direction to `bytesPerSecond`; the proxy stops reading when its queue is full. */
  throttle(bytesPerSecond: number): void {
    this.faults.throttleBps = bytesPerSecond;
  }
  /** Flips the lowest bit of the next byte forwarded in `direction`. */
  corruptNextByte(direction: Direction): void {
    (direction === 'up' ? this.up : this.down).corruptNext = true;
  }
  /**
   * XORs `mask` into the byte at `offset` (counted from the connection's first byte) in `direction`,
   * once; a no-op when that byte was already forwarded. A man in the middle rewriting a field.
   */
  flipByteAt(direction: Direction, offset: number, mask: number): void {
    (direction === 'up' ? this.up : this.down).flip = { offset, mask };
  }
  /**
   * Undoes blackhole, delay and throttle for future bytes. A connection that lost bytes to the blackhole
   * stays dark for good (its later bytes are dropped too): TCP never delivers past a hole, so such a
   * stream is dead, as above a NAT that forgot it. One that lost nothing carries on intact, as TCP would.
   */
  heal(): void {
    this.faults.blackhole = this.bytesDropped > 0;
    this.faults.delayMs = 0;
    this.faults.throttleBps = 0;
    if (this.held) {
      this.held = false;
      // A side that went away while blackholed: the other side learns it now.
      if (this.client.destroyed !== this.target.destroyed) {
        (this.client.destroyed ? this.target : this.client).resetAndDestroy();
      }
    }
    this.up.pump();
    this.down.pump();
  }
  /** Closes both sides gracefully. */
  close(): void {
    this.client.end();
    this.target.end();
  }
  /** Destroys both sides now. */
  destroy(): void {
    this.client.destroy();
    this.target.destroy();
  }
}

/**
 * A TCP proxy on 127.0.0.1, port 0, that dials `target` for each accepted connection. Faults set on the
 * proxy apply to every live connection; blackhole, delay and throttle also apply to connections accepted
 * later, until heal() (so a blackholed proxy also models an uplink that is down for new dials: the proxy
 * still dials the target, but no byte passes either way).
 */
export class FaultProxy {
  readonly host = '127.0.0.1';
  private readonly live = new Set<ProxyConnection>();
  private readonly all: ProxyConnection[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly faults: Faults = { blackhole: false, delayMs: 0, throttleBps: 0 };
  private flipNext: { direction: Direction; offset: number; mask: number } | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly server: Server,
    private readonly options: FaultProxyOptions,
  ) {
    server.on('connection', (socket) => this.accept(socket));
  }

  /** Starts a proxy listening on 127.0.0.1 port 0 in front of `options.targetPort`. */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const server = createServer({ pauseOnConnect: true, noDelay: true, allowHalfOpen: true });
    const proxy = new FaultProxy(server, options);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return proxy;
  }

  /** The port agents dial. */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }
  /** Live connections (both sides not yet closed), oldest first. */
  get connections(): readonly ProxyConnection[] {
    return [...this.live];
  }
  /** Connections accepted since start, live or not. */
  get accepted(): number {
    return this.all.length;
  }

  private accept(client: Socket): void {
    // Paused until the target is up so no early byte races the dial.
    client.pause();
    client.setNoDelay(true);
    const target = createConnection({
      port: this.options.targetPort,
      host: this.options.targetHost ?? '127.0.0.1',
      noDelay: true,
      allowHalfOpen: true,
    });
    const conn = new ProxyConnection(client, target, this.faults);
    if (this.flipNext) {
      const { direction, offset, mask } = this.flipNext;
      this.flipNext = undefined;
      conn.flipByteAt(direction, offset, mask);
    }
    this.live.add(conn);
    this.all.push(conn);
    void conn.closed.then(() => this.live.delete(conn));
    target.once('connect', () => client.resume());
    for (const wake of [...this.waiters]) wake();
  }

  /** Resolves with the n-th connection accepted once n connections have been accepted in total. */
  waitForConnections(n: number, timeoutMs: number): Promise<ProxyConnection> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const conn = this.all[n - 1];
        if (!conn) return false;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(conn);
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(
          new Error(`fault proxy: ${this.all.length} of ${n} connections accepted after ${timeoutMs} ms`),
        );
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  blackhole(): void {
    this.faults.blackhole = true;
    for (const c of this.live) c.blackhole();
  }
  /** Resets every live connection; later connections are accepted normally. */
  reset(): void {
    for (const c of this.live) c.reset();
  }
  delay(ms: number): void {
    this.faults.delayMs = ms;
    for (const c of this.live) c.delay(ms);
  }
  throttle(bytesPerSecond: number): void {
    this.faults.throttleBps = bytesPerSecond;
    for (const c of this.live) c.throttle(bytesPerSecond);
  }
  /** Corrupts the next byte in `direction` on every live connection. */
  corruptNextByte(direction: Direction): void {
    for (const c of this.live) c.corruptNextByte(direction);
  }
  /** ProxyConnection.flipByteAt on the next connection accepted (set it before the agent dials). */
  flipByteAtNext(direction: Direction, offset: number, mask: number): void {
    this.flipNext = { direction, offset, mask };
  }
  heal(): void {
    this.faults.blackhole = false;
    this.faults.delayMs = 0;
    this.faults.throttleBps = 0;
    for (const c of this.live) c.heal();
  }

  /** Stops listening and destroys every connection; idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const c of this.live) c.destroy();
    });
    return this.closing;
  }
}

/** Starts a fault proxy in front of 127.0.0.1:`targetPort` (or `options`). */
export function startFaultProxy(target: number | FaultProxyOptions): Promise<FaultProxy> {
  return FaultProxy.start(typeof target === 'number' ? { targetPort: target } : target);
}
