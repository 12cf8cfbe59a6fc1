// An authenticated but hostile agent (issue 15 point 5): frames for streams never opened, opens the relay
// refuses and a flood of bogus commands each solicit an answer; the relay's answers must stay within its
// replay buffer's cap (dropped and counted beyond it) while a legitimate stream beside them keeps flowing.
import ava from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { startStack } from '../helpers/tunnel-stack.ts';
import { FrameType } from '../../src/wire/frame.ts';
import type { MuxDuplex as MuxStream } from '../../src/mux/mux.ts';
import { CommandEndpoint } from '../../src/command/endpoint.ts';
import { createRegistry } from '../../src/command/registry.ts';
import { muxCommandChannel } from '../../src/command/channel.ts';
import { encodeMessage, MsgType } from '../../src/command/codec.ts';

// Serial: each floods its own stack; at once they starve each other's keepalives on 2 cores.
const test = ava.serial;

const REPLAY_CAP_BYTES = 64 * 1024;
/** Slack over the cap: one batch of frames handed over before the cap was seen, never the flood. */
const SLACK_BYTES = 64 * 1024;
const STRAY_FRAMES = 200_000;

/** Echoes what the agent side reads back to the relay side, then ends. */
function echo(stream: MuxStream): void {
  stream.on('error', () => {});
  stream.on('data', (d: Buffer) => {
    if (!stream.write(d)) stream.pause();
  });
  stream.on('drain', () => stream.resume());
  stream.on('end', () => stream.end());
}

/** Writes `data` to a relay-opened stream and resolves with the SHA-256 of what comes back. */
async function roundTrip(stream: MuxStream, data: Buffer): Promise<string> {
  const hash = createHash('sha256');
  const done = new Promise<string>((resolve, reject) => {
    stream.on('data', (d: Buffer) => hash.update(d));
    stream.once('end', () => resolve(hash.digest('hex')));
    stream.once('error', reject);
  });
  stream.end(data);
  return done;
}

test('stray frames and refused opens from an agent get answers within the replay cap; a live stream keeps flowing', async (t) => {
  const stack = await startStack({ replayBufferBytes: REPLAY_CAP_BYTES });
  t.teardown(() => stack.close());
  stack.agentMux.on('stream', echo);
  const data = randomBytes(4 * 1024 * 1024);
  const stream = stack.relayMux.openStream(Buffer.from('legit'));
  const echoed = roundTrip(stream, data);
  // The hostile part: frames for ids the agent never opened (even = agent-opened), and opens the relay
  // refuses (it takes no agent-opened streams): each asks for a STREAM_RESET.
  for (let i = 0; i < STRAY_FRAMES; i++) {
    const streamId = 1_000_000 + 2 * i;
    if (i % 4 === 0) {
      stack.agentSession.sendReliable({
        type: FrameType.STREAM_OPEN,
        streamId,
        meta: Buffer.alloc(0),
        data: Buffer.alloc(0),
      });
    } else {
      stack.agentSession.sendReliable({ type: FrameType.STREAM_DATA, streamId, data: Buffer.from('x') });
    }
  }
  t.is(await echoed, createHash('sha256').update(data).digest('hex'), 'the live stream is intact');
  const relay = stack.relaySession.stats;
  t.true(
    relay.replayHighWater <= REPLAY_CAP_BYTES + SLACK_BYTES,
    `relay replay buffer peaked at ${relay.replayHighWater} B (cap ${REPLAY_CAP_BYTES})`,
  );
  t.true(stack.relayMux.stats.repliesDropped > 0, 'answers beyond the cap were dropped and counted');
  t.is(stack.relaySession.state, 'attached');
});

test('a flood of calls the relay refuses gets refusals within the replay cap, counted when dropped', async (t) => {
  const stack = await startStack({ replayBufferBytes: REPLAY_CAP_BYTES });
  t.teardown(() => stack.close());
  const relayCommands = new CommandEndpoint(muxCommandChannel(stack.relayMux), {
    registry: createRegistry(),
  });
  t.teardown(() => relayCommands.close());
  // The agent writes raw REQUEST messages for a command the relay does not know: each asks for an ERROR.
  for (let id = 1; id <= 50_000; id++) {
    const body = encodeMessage(
      { type: MsgType.REQUEST, id, name: 'no.such.command', payload: { pad: 'x'.repeat(40) } },
      65_536,
    );
    stack.agentMux.sendCommand(body);
  }
  const deadline = Date.now() + 30_000;
  while (relayCommands.snapshot().messagesIn < 50_000 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  t.is(relayCommands.snapshot().messagesIn, 50_000);
  const relay = stack.relaySession.stats;
  t.true(
    relay.replayHighWater <= REPLAY_CAP_BYTES + SLACK_BYTES,
    `relay replay buffer peaked at ${relay.replayHighWater} B (cap ${REPLAY_CAP_BYTES})`,
  );
  t.true(relayCommands.snapshot().refusalsDropped > 0, 'refusals beyond the cap were dropped and counted');
});
