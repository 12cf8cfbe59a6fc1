// In-process services of handler mappings: a visitor's stream handed to the application as a Duplex, a
// flow's datagrams to a callback. No LAN socket; the agent's hooks call in here. It knows nothing of links.
import type { Duplex } from 'node:stream';
import { duplexOf, type MuxStream } from '../mux/mux.ts';
import type { OpenEndpoint, OpenMeta } from '../protocol/open-meta.ts';
import type { UdpTarget } from '../forward/udp-target.ts';
import type { AgentServices } from '../agent/relay-connection.ts';
import type { ErrorCode } from '../errors.ts';
import type { Logger } from '../observe/log.ts';

/**
 * One visitor connection of a handler mapping, as a Duplex with the tunnel's flow control: write() returns
 * false and 'drain' follows as the visitor reads; reading slowly holds the visitor back (never buffers without
 * bound). Endings are honest: end() is the visitor's FIN, reset() (or destroy()) its TCP reset; the visitor's
 * own FIN is 'end', its reset an 'error' carrying the code (also in `resetCode`).
 */
export interface ServiceStream extends Duplex {
  /** The mapping the visitor came in on. */
  readonly mapping: string;
  /** The visitor's address and port, as the relay saw them. */
  readonly visitor: OpenEndpoint;
  /** The relay's address and port the visitor connected to. */
  readonly relayAddress: OpenEndpoint | undefined;
  /** Aborts both ways: the visitor sees a TCP reset. Default code XNAT_ERR_FORWARD_STREAM_RESET. */
  reset(code?: ErrorCode): void;
  /** The code the stream was reset with, by either side; undefined while it lives or after clean FINs. */
  readonly resetCode: ErrorCode | undefined;
}

/** Serves one visitor connection; may return a promise (a rejection resets the stream). */
export type StreamService = (stream: ServiceStream) => unknown;

/** One UDP visitor of a handler mapping. */
export interface FlowInfo {
  readonly mapping: string;
  /** The visitor's address:port. */
  readonly visitor: string;
}

/**
 * Serves one datagram of a flow; `reply` sends one back to that visitor (best effort, as any datagram:
 * dropped when no link is up). A throw drops the datagram only.
 */
export type DatagramService = (datagram: Buffer, reply: (data: Buffer) => void, flow: FlowInfo) => void;

/** The services an agent offers, by handler name (the profile's `mappings[].handler`). */
export class Services implements AgentServices {
  private readonly streams = new Map<string, StreamService>();
  private readonly datagrams = new Map<string, DatagramService>();

  constructor(private readonly log: Logger) {}

  addStream(handler: string, fn: StreamService): void {
    this.streams.set(handler, fn);
  }

  addDatagram(handler: string, fn: DatagramService): void {
    this.datagrams.set(handler, fn);
  }

  stream(handler: string, stream: MuxStream, meta: OpenMeta): boolean {
    const fn = this.streams.get(handler);
    if (!fn) return false;
    const s = asServiceStream(stream, meta);
    // A visitor's reset must not crash the application: Node throws an 'error' nobody listens to. The
    // service still sees it through its own listener, 'close' and resetCode.
    s.on('error', () => undefined);
    try {
      void Promise.resolve(fn(s)).catch((err: unknown) => this.failed(handler, s, err));
    } catch (err) {
      this.failed(handler, s, err);
    }
    return true;
  }

  flow(handler: string, visitor: string, onReply: (data: Buffer) => void): UdpTarget | undefined {
    const fn = this.datagrams.get(handler);
    if (!fn) return undefined;
    let closed = false;
    const info: FlowInfo = { mapping: handler, visitor };
    const reply = (data: Buffer) => {
      if (!closed) onReply(data);
    };
    return {
      send: (data) => {
        if (closed) return false;
        try {
          fn(data, reply, info);
        } catch (err) {
          this.log.warn({ handler, err: String(err).slice(0, 200) }, 'datagram service failed');
          return false;
        }
        return true;
      },
      close: () => {
        closed = true;
      },
    };
  }

  private failed(handler: string, s: ServiceStream, err: unknown): void {
    this.log.warn({ handler, stream: s.mapping, err: String(err).slice(0, 200) }, 'stream service failed');
    s.reset('XNAT_ERR_FORWARD_STREAM_RESET');
  }
}

function asServiceStream(inner: MuxStream, meta: OpenMeta): ServiceStream {
  const stream = duplexOf(inner);
  const reset = stream.reset.bind(stream);
  return Object.assign(stream, {
    mapping: meta.mapping,
    visitor: meta.visitor,
    relayAddress: meta.local,
    reset: (code: ErrorCode = 'XNAT_ERR_FORWARD_STREAM_RESET') => reset(code),
  });
}
