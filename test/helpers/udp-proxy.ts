// A UDP forwarding proxy for tests, in front of one target, for one client (the agent): it can drop
// either direction, rebind its upstream socket (a NAT giving the agent a new public port), keep the
// datagrams it forwarded up (to replay them) and corrupt the next one. It knows nothing of what they hold.
import dgram from 'node:dgram';
import { startFaultProxy, type FaultProxy } from './fault-proxy.ts';

/** Datagrams kept for inject(), newest last. */
const CAPTURE_MAX = 256;

export class UdpProxy {
  /** Datagrams forwarded upstream (client -> target), newest last, at most CAPTURE_MAX. */
  readonly captured: Buffer[] = [];
  readonly counts = { up: 0, down: 0, droppedUp: 0, droppedDown: 0 };
  private dropUp = false;
  private dropDown = false;
  private corruptUp = false;
  private client: { address: string; port: number } | undefined;
  private upstream!: dgram.Socket;

  private constructor(
    private readonly listener: dgram.Socket,
    private readonly targetPort: number,
  ) {
    listener.on('message', (msg, rinfo) => this.fromClient(msg, rinfo));
  }

  /** Listens on 127.0.0.1:`listenPort` (0 = any) in front of 127.0.0.1:`targetPort`; rejects when taken. */
  static async start(targetPort: number, listenPort = 0): Promise<UdpProxy> {
    const listener = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.bind(listenPort, '127.0.0.1', () => {
        listener.off('error', reject);
        resolve();
      });
    });
    const proxy = new UdpProxy(listener, targetPort);
    await proxy.rebind();
    return proxy;
  }

  get port(): number {
    return this.listener.address().port;
  }

  /** The source port the target sees now. */
  get upstreamPort(): number {
    return this.upstream.address().port;
  }

  /** Drops datagrams in `direction` ('up': client -> target) until heal(). */
  drop(direction: 'up' | 'down' | 'both'): void {
    if (direction !== 'down') this.dropUp = true;
    if (direction !== 'up') this.dropDown = true;
  }

  heal(): void {
    this.dropUp = this.dropDown = false;
  }

  /** Flips a bit in the last byte (the tag) of the next datagram forwarded up. */
  corruptNextUp(): void {
    this.corruptUp = true;
  }

  /** Sends `data` to the target from the current upstream socket, as if the client had sent it again. */
  inject(data: Buffer): void {
    this.upstream.send(data, this.targetPort, '127.0.0.1');
  }

  /** A new upstream socket (new source port); the old one is closed, so replies to it are lost. */
  async rebind(): Promise<void> {
    const old = this.upstream as dgram.Socket | undefined;
    const next = dgram.createSocket('udp4');
    next.on('message', (msg) => this.fromTarget(msg));
    await new Promise<void>((resolve) => next.bind(0, '127.0.0.1', resolve));
    this.upstream = next;
    old?.close();
  }

  close(): void {
    for (const s of [this.listener, this.upstream]) {
      try {
        s.close();
      } catch {
        // already closed
      }
    }
  }

  private fromClient(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.client = { address: rinfo.address, port: rinfo.port };
    if (this.dropUp) {
      this.counts.droppedUp++;
      return;
    }
    let out = msg;
    if (this.corruptUp) {
      this.corruptUp = false;
      out = Buffer.from(msg);
      out[out.length - 1]! ^= 0x01;
    }
    this.captured.push(Buffer.from(msg));
    if (this.captured.length > CAPTURE_MAX) this.captured.shift();
    this.counts.up++;
    this.upstream.send(out, this.targetPort, '127.0.0.1');
  }

  private fromTarget(msg: Buffer): void {
    if (!this.client) return;
    if (this.dropDown) {
      this.counts.droppedDown++;
      return;
    }
    this.counts.down++;
    this.listener.send(msg, this.client.port, this.client.address);
  }
}

/**
 * A TCP fault proxy and a UDP proxy on one port number in front of a relay's control port (the agent
 * dials one address for its link and its UDP path). Retries when the UDP port number is taken.
 */
export async function startPathProxies(relayPort: number): Promise<{ tcp: FaultProxy; udp: UdpProxy }> {
  for (let i = 0; i < 20; i++) {
    const tcp = await startFaultProxy(relayPort);
    try {
      return { tcp, udp: await UdpProxy.start(relayPort, tcp.port) };
    } catch {
      await tcp.close();
    }
  }
  throw new Error('no port number free for both a tcp and a udp proxy');
}
