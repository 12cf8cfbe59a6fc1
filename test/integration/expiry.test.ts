// A session whose link stays down past the resume window expires: streams on both sides are aborted
// with XNAT_ERR_SESSION_EXPIRED (never ended cleanly), and the agent starts a new session.
import test from 'ava';
import { once } from 'node:events';
import type { MuxDuplex as MuxStream } from '../../src/mux/mux.ts';
import type { Session } from '../../src/session/index.ts';
import { startStack } from '../helpers/tunnel-stack.ts';
import { waitFor } from '../helpers/procs.ts';

test('a session detached past its resume window expires; its streams reset with the code, never a clean end', async (t) => {
  t.timeout(60_000);
  const stack = await startStack({ resumeWindowMs: 1_000 });
  t.teardown(() => stack.close());
  const agentStream = once(stack.agentMux, 'stream') as Promise<[MuxStream, Buffer]>;
  const relayStream = stack.relayMux.openStream(Buffer.from('x'));
  relayStream.write(Buffer.from('hello'));
  const [agentSide] = await agentStream;
  const ended = { relay: false, agent: false };
  relayStream.on('end', () => (ended.relay = true));
  agentSide.on('end', () => (ended.agent = true));
  relayStream.resume();
  agentSide.resume();
  // events.once() would reject on the expected 'error'; wait for 'close' only.
  const closed = (s: MuxStream) => new Promise<void>((resolve) => s.once('close', () => resolve()));
  const relayErr = closed(relayStream);
  const agentErr = closed(agentSide);
  relayStream.on('error', () => {});
  agentSide.on('error', () => {});
  const newSession = once(stack.client, 'session') as Promise<[Session]>;

  stack.proxy.blackhole();
  await waitFor(() => stack.relaySession.state === 'closed', 30_000, 'relay expires the session');
  stack.proxy.heal();
  await Promise.all([relayErr, agentErr]);
  t.is(relayStream.resetCode, 'XNAT_ERR_SESSION_EXPIRED');
  t.false(ended.relay, 'the relay side must not see a clean end');
  t.false(ended.agent, 'the agent side must not see a clean end');
  const [fresh] = await newSession;
  t.not(fresh.id.toString('hex'), stack.relaySession.id.toString('hex'));
  await waitFor(() => stack.agentSession.state === 'closed', 10_000, 'old agent session closed');
  t.true(
    ['XNAT_ERR_SESSION_EXPIRED', 'XNAT_ERR_SESSION_UNKNOWN'].includes(agentSide.resetCode ?? ''),
    agentSide.resetCode,
  );
});
