// The agent's LAN side of one visitor stream once its target answered: the PROXY protocol header first,
// the mapping's bandwidth buckets, deflate when the relay said so, then the pipe. It knows nothing of
// dialing, health or registration (stream-targets.ts and mapping-registrar.ts do those).
import type { Socket } from 'node:net';
import type { MappingProfile } from '../config/index.ts';
import type { BandwidthBuckets } from '../forward/bandwidth.ts';
import { deflateStream } from '../forward/compress.ts';
import { proxyHeader } from '../forward/proxy-protocol.ts';
import { joinSocketToStream, type PipeResult } from '../forward/tcp-pipe.ts';
import type { MuxStream } from '../mux/mux.ts';
import type { Logger } from '../observe/log.ts';
import type { OpenMeta } from '../protocol/index.ts';
import type { Clock } from '../util/clock.ts';

/** Joins the LAN `socket` to `stream` as `profile` and the stream's open `meta` ask; resolves at its end. */
export function joinLan(
  socket: Socket,
  stream: MuxStream,
  meta: OpenMeta,
  profile: MappingProfile,
  bandwidth: BandwidthBuckets,
  clock: Clock,
  log: Logger,
): Promise<PipeResult> {
  // Before any byte of the visitor's: the service reads the header first, then the connection.
  if (profile.proxyProtocol) {
    const destination = meta.local ?? { address: '', port: 0 };
    socket.write(proxyHeader(profile.proxyProtocol, { source: meta.visitor, destination }, 'tcp'));
  }
  // The LAN socket's reads are the visitor's download, its writes the upload.
  const limits = {
    fromSocket: bandwidth.down ? [bandwidth.down] : [],
    toSocket: bandwidth.up ? [bandwidth.up] : [],
    clock,
  };
  const tunnel = meta.compress === 'deflate' ? deflateStream(stream) : stream;
  return joinSocketToStream(socket, tunnel, log, limits);
}
