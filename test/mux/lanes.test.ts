// The datagram and command lanes, and the mux's end: resetAll, the session closing, close() and destroy().
import test from 'ava';
import { once } from 'node:events';
import { XnatError, isXnatError } from '../../src/errors.ts';
import { Mux } from '../../src/mux/mux.ts';
import type { MuxDuplex as MuxStream } from '../../src/mux/mux-duplex.ts';
import { MAX_FRAME_PAYLOAD } from '../../src/wire/frame.ts';
import { closed, memoryTransportPair, quiet, until } from './memory-transport.ts';

function pair() {
  const [ta, tb] = memoryTransportPair();
  const relay = new Mux(ta, { role: 'relay' });
  const agent = new Mux(tb, { role: 'agent' });
  return { ta, tb, relay, agent };
}

/** Opens `n` streams from the relay and returns both ends of each. */
async function openMany(relay: Mux, agent: Mux, n: number): Promise<[MuxStream[], MuxStream[]]> {
  const remote: MuxStream[] = [];
  agent.on('stream', (s: MuxStream) => remote.push(s));
  const local = Array.from({ length: n }, () => relay.openStream(Buffer.from('m')));
  await until(() => remote.length === n);
  return [local, remote];
}

const errorOf = (s: MuxStream) => new Promise<Error>((r) => s.once('error', r));

test('datagrams pass with their flow id and are counted; drops are counted', async (t) => {
  const { ta, relay, agent } = pair();
  const got: [number, string][] = [];
  agent.on('datagram', (flowId: number, data: Buffer) => got.push([flowId, data.toString()]));
  t.true(relay.sendDatagram(7, Buffer.from('a')));
  t.true(relay.sendDatagram(0xffff_ffff, Buffer.from('b')));
  await until(() => got.length === 2);
  t.deepEqual(got, [
    [7, 'a'],
    [0xffff_ffff, 'b'],
  ]);
  ta.dropDatagrams = true; // no link: best effort means dropped, never queued
  t.false(relay.sendDatagram(7, Buffer.from('lost')));
  ta.dropDatagrams = false;
  t.false(relay.sendDatagram(7, Buffer.alloc(MAX_FRAME_PAYLOAD + 1)));
  t.is(relay.stats.datagramsSent, 2);
  t.is(relay.stats.datagramsDropped, 2);
  t.is(agent.stats.datagramsReceived, 2);
  t.throws(() => relay.sendDatagram(-1, Buffer.from('x')));
});

test('commands arrive whole and in order; empty or oversize bodies are refused', async (t) => {
  const { relay, agent } = pair();
  const got: string[] = [];
  agent.on('command', (body: Buffer) => got.push(body.toString()));
  for (let i = 0; i < 100; i++) t.true(relay.sendCommand(Buffer.from(`cmd ${i}`)));
  await until(() => got.length === 100);
  t.deepEqual(
    got,
    Array.from({ length: 100 }, (_, i) => `cmd ${i}`),
  );
  t.is(relay.stats.commandsSent, 100);
  t.is(agent.stats.commandsReceived, 100);
  t.true(
    isXnatError(
      t.throws(() => relay.sendCommand(Buffer.alloc(0))),
      'XNAT_ERR_MUX_MESSAGE_SIZE',
    ),
  );
  t.true(
    isXnatError(
      t.throws(() => relay.sendCommand(Buffer.alloc(MAX_FRAME_PAYLOAD + 1))),
      'XNAT_ERR_MUX_MESSAGE_SIZE',
    ),
  );
});

test('resetAll resets every stream on both sides with the code', async (t) => {
  const { relay, agent } = pair();
  const [local, remote] = await openMany(relay, agent, 5);
  const errs = remote.map(errorOf);
  relay.resetAll('XNAT_ERR_SESSION_REPLACED');
  for (const e of await Promise.all(errs)) t.true(isXnatError(e, 'XNAT_ERR_SESSION_REPLACED'));
  for (const s of local) t.is(s.resetCode, 'XNAT_ERR_SESSION_REPLACED');
  t.is(relay.streams.size, 0);
  t.is(agent.streams.size, 0);
  t.is(relay.stats.resetsSent, 5);
});

test('the session closing with an error destroys every stream with its code and closes the mux', async (t) => {
  const { ta, relay, agent } = pair();
  const [local, remote] = await openMany(relay, agent, 3);
  const errs = [...local, ...remote].map(errorOf);
  const relayClosed = once(relay, 'closed');
  ta.close(new XnatError('XNAT_ERR_SESSION_EXPIRED'));
  for (const e of await Promise.all(errs)) t.true(isXnatError(e, 'XNAT_ERR_SESSION_EXPIRED'));
  const [err] = (await relayClosed) as [XnatError];
  t.is(err.code, 'XNAT_ERR_SESSION_EXPIRED');
  t.is(relay.stats.resetsSent, 0, 'nothing is sent on a closed transport');
  t.true(
    isXnatError(
      t.throws(() => relay.openStream(Buffer.from('m'))),
      'XNAT_ERR_MUX_CLOSED',
    ),
  );
});

test('a session closing without error ends streams with XNAT_ERR_MUX_CLOSED', async (t) => {
  const { ta, relay, agent } = pair();
  const [local] = await openMany(relay, agent, 1);
  const err = errorOf(local[0]!);
  ta.close();
  t.true(isXnatError(await err, 'XNAT_ERR_MUX_CLOSED'));
});

test('close() refuses new streams both ways, lets open ones finish, then emits closed', async (t) => {
  const { ta, tb, relay, agent } = pair();
  const [local, remote] = await openMany(relay, agent, 1);
  relay.on('stream', () => t.fail('a stream opened after close()'));
  relay.close();
  t.true(
    isXnatError(
      t.throws(() => relay.openStream(Buffer.from('m'))),
      'XNAT_ERR_MUX_CLOSED',
    ),
  );
  const refused = agent.openStream(Buffer.from('m'));
  t.true(isXnatError(await errorOf(refused), 'XNAT_ERR_MUX_REFUSED'));
  let done = false;
  relay.once('closed', () => (done = true));
  await quiet(ta, tb);
  t.false(done, 'still waiting for the open stream');
  local[0]!.end('bye');
  remote[0]!.resume();
  remote[0]!.end();
  local[0]!.resume();
  await until(() => done);
  await closed(local[0]!);
  t.is(local[0]!.resetCode, undefined);
});

test('destroy() resets every stream at once and is idempotent', async (t) => {
  const { relay, agent } = pair();
  const [, remote] = await openMany(relay, agent, 2);
  const errs = remote.map(errorOf);
  let closedEvents = 0;
  relay.on('closed', () => closedEvents++);
  relay.destroy();
  relay.destroy();
  for (const e of await Promise.all(errs)) t.true(isXnatError(e, 'XNAT_ERR_MUX_CLOSED'));
  t.is(closedEvents, 1);
});
