// An in-memory pair of SessionLinks for tests: async delivery, backpressure, cut, blackhole, pause.
// It knows nothing of sessions; each write is decoded as a link record is (src/wire's decodeFrames), and
// its frames come out of the other end in order, or the receiving end dies with the WIRE_* code.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { XnatError, type ErrorCode } from '../../src/errors.ts';
import type { SessionLink } from '../../src/session/session-link.ts';
import { decodeFrames } from '../../src/wire/decoder.ts';
import type { Frame } from '../../src/wire/frame.ts';

/** What one write may hold, like a link record's plaintext (src/link/wire.ts RECORD_MAX_PLAINTEXT_BYTES). */
const MAX_WRITE_BYTES = 65535 - 16;

/** Options of a memory link pair. */
export interface MemoryLinkOptions {
  /** Bytes queued on one end before write() returns false; default 256 KiB. */
  highWaterMark?: number;
  /** When set, each delivery hands over a random number of the queued writes, the rest a turn later. */
  random?: () => number;
  /** The agent's and relay's static public keys (32 bytes each); random by default. */
  agentKey?: Buffer;
  relayKey?: Buffer;
  /** The handshake hash both ends share; random by default (unique per pair, like Noise's). */
  handshakeHash?: Buffer;
}

const DEFAULT_HIGH_WATER_BYTES = 256 * 1024;

/** One end of a memory link. */
export class MemoryLink extends EventEmitter implements SessionLink {
  peer!: MemoryLink;
  closed = false;
  readonly rttMs = 1;
  readonly stats = { bytesIn: 0, bytesOut: 0, writes: 0 };
  /** Code passed to close(), if any. */
  closeCode: ErrorCode | undefined;
  /** Error this end closed with, if any. */
  closeError: XnatError | undefined;
  private queue: Buffer[][] = [];
  private queued = 0;
  private scheduled = false;
  private ending = false;
  private wantDrain = false;

  constructor(
    readonly remoteStaticKey: Buffer,
    readonly handshakeHash: Buffer,
    private readonly state: PairState,
    private readonly highWaterMark: number,
    private readonly random: (() => number) | undefined,
  ) {
    super();
  }

  /** Bytes written here and not yet delivered to the peer. */
  get queuedBytes(): number {
    return this.queued;
  }

  write(chunk: Buffer | readonly Buffer[]): boolean {
    if (this.closed || this.ending) return false;
    const chunks = Buffer.isBuffer(chunk) ? [chunk] : [...chunk];
    let size = 0;
    for (const c of chunks) size += c.length;
    if (size > MAX_WRITE_BYTES) throw new Error(`memory link write of ${size} bytes exceeds one record`);
    this.queue.push(chunks);
    this.queued += size;
    this.stats.writes++;
    this.schedule();
    if (this.queued < this.highWaterMark) return true;
    this.wantDrain = true;
    return false;
  }

  close(code?: ErrorCode, _reason?: string): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    this.closeCode = code;
    setImmediate(() => {
      this.deliver();
      if (this.state.blackholed || this.state.paused) {
        // The goodbye never reaches the peer of a dead path; only this end finishes.
        this.finish(undefined);
        return;
      }
      this.finish(undefined);
      this.peer.finish(new XnatError('XNAT_ERR_LINK_CLOSED_BY_PEER', { detail: code }));
    });
  }

  destroy(err?: XnatError): void {
    if (this.closed) return;
    this.finish(err);
    // Like a TCP reset: the peer learns of it a moment later, unless the path is dead.
    if (!this.state.blackholed) setImmediate(() => this.peer.finish(new XnatError('XNAT_ERR_LINK_RESET')));
  }

  /**
   * Delivers the queued writes (if the path allows), in order, each decoded as one record; `limit` bytes at
   * most (a write that does not fit is lost, like a record cut on the wire).
   */
  deliver(limit = Infinity): void {
    this.scheduled = false;
    if (this.closed || this.state.blackholed || this.state.paused || this.queued === 0) return;
    let units = this.queue;
    this.queue = [];
    this.queued = 0;
    if (this.random && units.length > 1) {
      const n = 1 + Math.floor(this.random() * units.length);
      for (const rest of units.slice(n)) {
        this.queue.push(rest);
        for (const c of rest) this.queued += c.length;
      }
      units = units.slice(0, n);
      this.schedule();
    }
    let budget = limit;
    for (const unit of units) {
      if (this.peer.closed || this.closed || this.state.blackholed) break;
      let size = 0;
      for (const c of unit) size += c.length;
      if (size > budget) break;
      budget -= size;
      this.stats.bytesOut += size;
      this.peer.stats.bytesIn += size;
      const frames: Frame[] = [];
      try {
        decodeFrames(unit, (f) => frames.push(f));
      } catch (err) {
        // Like a Link: a malformed frame costs the receiving end its link, with the WIRE_* code.
        this.peer.destroy(err as XnatError);
        break;
      }
      for (const f of frames) {
        if (this.peer.closed) break;
        this.peer.emit('frame', f);
      }
    }
    if (this.wantDrain && !this.closed && this.queued < this.highWaterMark) {
      this.wantDrain = false;
      this.emit('drain');
    }
  }

  /** @internal */
  schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => this.deliver());
  }

  /** @internal */
  finish(err: XnatError | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = err;
    this.queue = [];
    this.queued = 0;
    this.emit('close', err);
  }
}

interface PairState {
  blackholed: boolean;
  paused: boolean;
}

/** A connected pair: `agent` is the agent's end (remote key = relay key), `relay` the relay's end. */
export interface MemoryLinkPair {
  readonly agent: MemoryLink;
  readonly relay: MemoryLink;
  /**
   * Breaks the path like a reset: both ends close with XNAT_ERR_LINK_RESET. With `deliverFraction`, that
   * share of each direction's queued bytes arrives first (a frame may be cut in the middle).
   */
  cut(deliverFraction?: number): void;
  /** Silently stops delivery both ways; both ends stay open (a half-open path). Writes pile up. */
  blackhole(): void;
  /** Holds delivery (a stalled path) until resume(); write() returns false above the high-water mark. */
  pause(): void;
  resume(): void;
}

export function createMemoryLinkPair(opts: MemoryLinkOptions = {}): MemoryLinkPair {
  const agentKey = opts.agentKey ?? randomBytes(32);
  const relayKey = opts.relayKey ?? randomBytes(32);
  const hash = opts.handshakeHash ?? randomBytes(32);
  const hwm = opts.highWaterMark ?? DEFAULT_HIGH_WATER_BYTES;
  const state: PairState = { blackholed: false, paused: false };
  const agent = new MemoryLink(relayKey, hash, state, hwm, opts.random);
  const relay = new MemoryLink(agentKey, hash, state, hwm, opts.random);
  agent.peer = relay;
  relay.peer = agent;
  return {
    agent,
    relay,
    cut(deliverFraction = 0) {
      if (deliverFraction > 0 && !state.blackholed && !state.paused) {
        agent.deliver(Math.floor(agent.queuedBytes * deliverFraction));
        relay.deliver(Math.floor(relay.queuedBytes * deliverFraction));
      }
      state.blackholed = true;
      agent.finish(new XnatError('XNAT_ERR_LINK_RESET'));
      relay.finish(new XnatError('XNAT_ERR_LINK_RESET'));
    },
    blackhole() {
      state.blackholed = true;
    },
    pause() {
      state.paused = true;
    },
    resume() {
      state.paused = false;
      agent.schedule();
      relay.schedule();
    },
  };
}
