// The agent's session handshake on one new link: SESSION_OPEN (no session yet) or SESSION_RESUME (with the
// proof bound to this link), then the relay's first frame or a failure within the deadline. What the answer
// means is session-client.ts's business.
import { XnatError } from '../errors.ts';
import type { Clock } from '../util/clock.ts';
import { FrameType, type Frame } from '../wire/frame.ts';
import { computeResumeProof } from './resume-proof.ts';
import type { Session } from './session.ts';
import type { LinkPort } from './session-link.ts';
import { SESSION_PROTOCOL_VERSION } from './session-options.ts';

export interface ClientHandshake {
  readonly port: LinkPort;
  /** The session to resume; undefined opens a new one. */
  readonly session: Session | undefined;
  readonly deadlineMs: number;
  readonly clock: Clock;
  /** The relay's first frame (the port no longer reports to the handshake). */
  readonly onAnswer: (frame: Frame) => void;
  /** The link closed, or the deadline passed (the port is destroyed), before any answer. */
  readonly onFail: (err: XnatError) => void;
}

/** Writes OPEN or RESUME on the port and waits for the answer. */
export function startClientHandshake(h: ClientHandshake): void {
  const { port, session } = h;
  const timer = h.clock.setTimeout(
    () =>
      port.destroy(
        new XnatError('XNAT_ERR_SESSION_TIMEOUT', { detail: `no SESSION_ACCEPT in ${h.deadlineMs} ms` }),
      ),
    h.deadlineMs,
  );
  port.onClose = (err) => {
    timer.cancel();
    h.onFail(err ?? new XnatError('XNAT_ERR_LINK_CLOSED_BY_PEER', { detail: 'during session handshake' }));
  };
  port.onFrame = (frame) => {
    timer.cancel();
    port.onFrame = () => {};
    port.onClose = () => {};
    h.onAnswer(frame);
  };
  if (session) {
    port.writeFrame({
      type: FrameType.SESSION_RESUME,
      sessionId: session.id,
      proof: computeResumeProof(session.resumeSecret, session.id, port.link.handshakeHash),
      received: BigInt(session.receivedCount),
    });
  } else {
    port.writeFrame({ type: FrameType.SESSION_OPEN, version: SESSION_PROTOCOL_VERSION });
  }
}
