// The agent's LAN side of one visitor stream once its target answered: the PROXY protocol header first,
// the mapping's bandwidth buckets, deflate when the relay said so, then the pipe. It knows nothing of
// dialing, health or registration (stream-targets.ts and mapping-registrar.ts do those).
import type { Socket } from 'node:net';
import type { MappingProfile } from '../config/index.ts';
import type { BandwidthBuckets } from '../forward/bandwidth.ts';
import { deflateStream } from '../forward/compress.ts';
import { proxyHeader } from '../forward/proxy-protocol.ts';
import { pipeSocketToStream, SharedPipeLimits, type PipeDone } from '../forward/tcp-pipe.ts';
import type { MuxStream } from '../mux/mux.ts';
import type { Logger } from '../observe/log.ts';
import type { OpenMeta } from '../protocol/index.ts';
import type { Clock } from '../util/clock.ts';

/** One shared limits object per mapping's buckets (and clock): none allocated per stream. */
const sharedLimits = new WeakMap<BandwidthBuckets, { clock: Clock; limits: SharedPipeLimits }>();

/** Joins the LAN `socket` to `stream` as `profile` and the stream's open `meta` ask; `done` hears its end. */
export function joinLan(
  socket: Socket,
  stream: MuxStream,
  meta: OpenMeta,
  profile: MappingProfile,
  bandwidth: BandwidthBuckets,
  clock: Clock,
  log: Logger,
  done: PipeDone,
): void {
  // Before any byte of the visitor's: the service reads the header first, then the connection.
  if (profile.proxyProtocol) {
    const destination = meta.local ?? { address: '', port: 0 };
    socket.write(proxyHeader(profile.proxyProtocol, { source: meta.visitor, destination }, 'tcp'));
  }
  let shared = sharedLimits.get(bandwidth);
  if (!shared || shared.clock !== clock) {
    shared = { clock, limits: new SharedPipeLimits(clock) };
    sharedLimits.set(bandwidth, shared);
  }
  // The LAN socket's reads are the visitor's download, its writes the upload.
  const limits = shared.limits.get(bandwidth.down, bandwidth.up);
  const tunnel = meta.compress === 'deflate' ? deflateStream(stream) : stream;
  pipeSocketToStream(socket, tunnel, log, limits, done);
}
