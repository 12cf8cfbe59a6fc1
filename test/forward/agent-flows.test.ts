// AgentFlows with a stand-in mux, a fake clock and a real UDP service on loopback: a datagram that beats
// its flow.open is delivered once the open comes, unclaimed ones expire and are counted, and at the cap a
// new flow evicts the least-recently-active one (of the busiest mapping) and tells the relay.
import test from 'ava';
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { FakeClock } from '../../src/util/clock.ts';
import { AgentFlows } from '../../src/agent/udp-flows.ts';
import type { Mux } from '../../src/mux/mux.ts';
import type { UdpMapping } from '../../src/config/index.ts';
import { silentLogger } from '../../src/observe/log.ts';
import { waitFor } from '../helpers/procs.ts';

class FakeMux extends EventEmitter {
  readonly sent: Array<[number, string]> = [];
  sendDatagram(flowId: number, data: Buffer): boolean {
    this.sent.push([flowId, data.toString()]);
    return true;
  }
}

async function service(t: { teardown(fn: () => void): void }) {
  const got: string[] = [];
  const s = dgram.createSocket('udp4');
  s.on('message', (m, r) => {
    got.push(m.toString());
    s.send(Buffer.concat([Buffer.from('re:'), m]), r.port, r.address);
  });
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  t.teardown(() => s.close());
  return { port: s.address().port, got };
}

function mapping(name: string, port: number): UdpMapping {
  return {
    name,
    protocol: 'udp',
    remotePort: 0,
    local: { host: '127.0.0.1', port },
    idleTimeoutMs: 60_000,
  };
}

test('the first datagram is delivered whether it comes before or after its flow.open', async (t) => {
  const svc = await service(t);
  const mux = new FakeMux();
  const clock = new FakeClock();
  const closed: number[] = [];
  const flows = new AgentFlows(mux as unknown as Mux, clock, silentLogger(), {
    closeRemote: (id) => closed.push(id),
  });
  t.teardown(() => flows.closeAll());
  const m = mapping('dns', svc.port);
  mux.emit('datagram', 1, Buffer.from('early-1'));
  mux.emit('datagram', 1, Buffer.from('early-2'));
  clock.advance(1_000);
  flows.open(1, m, '198.51.100.1:5000');
  flows.open(2, m, '198.51.100.1:5001');
  mux.emit('datagram', 2, Buffer.from('late'));
  await waitFor(() => mux.sent.length === 3, 5_000, 'three answers');
  t.deepEqual(svc.got, ['early-1', 'early-2', 'late'], 'in order, the early ones first');
  t.deepEqual([...mux.sent].sort(), [
    [1, 're:early-1'],
    [1, 're:early-2'],
    [2, 're:late'],
  ]);
  // A datagram whose flow.open never comes is dropped after the pending time, and counted.
  mux.emit('datagram', 99, Buffer.from('orphan'));
  clock.advance(2_000);
  t.is(flows.dropCounts.unknownFlow, 1);
  const s = flows.status().find((f) => f.id === 1)!;
  t.like(s, { mapping: 'dns', visitor: '198.51.100.1:5000', packetsUp: 2, packetsDown: 2, drops: 0 });
  t.deepEqual(closed, []);
});

test('at the cap a new flow evicts the least-recently-active of the busiest mapping, and the relay is told', async (t) => {
  const svc = await service(t);
  const mux = new FakeMux();
  const clock = new FakeClock();
  const closed: number[] = [];
  const flows = new AgentFlows(mux as unknown as Mux, clock, silentLogger(), {
    maxFlows: 4,
    closeRemote: (id) => closed.push(id),
  });
  t.teardown(() => flows.closeAll());
  const game = mapping('game', svc.port);
  const voice = mapping('voice', svc.port);
  flows.open(1, voice, 'v:1');
  for (let id = 10; id < 13; id++) {
    clock.advance(10);
    flows.open(id, game, `g:${id}`);
  }
  clock.advance(10);
  mux.emit('datagram', 10, Buffer.from('keep-10')); // 10 is the most recent game flow now
  clock.advance(10);
  flows.open(13, game, 'g:13');
  t.deepEqual(closed, [11], 'the least-recently-active game flow went, not the voice one');
  flows.open(14, voice, 'v:14');
  t.deepEqual(closed, [11, 12], 'still from game: it holds the most flows');
  t.is(flows.size, 4);
  t.is(flows.mappingCounts('game')!.drops.tableFull, 2);
  t.is(flows.mappingCounts('game')!.active, 2);
  t.is(flows.mappingCounts('voice')!.active, 2);
  t.is(flows.dropCounts.tableFull, 2);
  // Idle expiry is told to the relay too, but is not a drop.
  clock.advance(61_000 * 1.25);
  t.is(flows.size, 0);
  t.deepEqual(
    [...closed].sort((a, b) => a - b),
    [1, 10, 11, 12, 13, 14],
  );
  t.is(flows.dropCounts.tableFull, 2);
  // flow.close from the relay closes without telling it back.
  flows.open(20, game, 'g:20');
  flows.close(20);
  t.is(flows.size, 0);
  t.false(closed.includes(20));
});
