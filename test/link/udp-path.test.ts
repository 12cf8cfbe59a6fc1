// The UDP path between an agent and a relay path object on a fake clock and an in-memory network that can
// drop, capture, corrupt and rebind: probing, keepalive, replay and bad tag drops, roaming, fallback to
// the TCP lane and switch-back, and datagrams too large for the path.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { FakeClock } from '../../src/util/clock.ts';
import { silentLogger } from '../../src/observe/log.ts';
import { getAead } from '../../src/crypto/aead.ts';
import {
  UDP_PATH_KEEPALIVE_MS,
  UDP_PATH_PROBE_ATTEMPTS,
  UDP_PATH_PROBE_INTERVAL_MS,
  UdpPath,
  type UdpPeerAddress,
} from '../../src/link/udp-path.ts';
import { UDP_PATH_MAX_PAYLOAD_BYTES } from '../../src/link/udp-datagram.ts';
import { UdpPathTable } from '../../src/link/udp-path-table.ts';

const RELAY_INDEX = 0x11111111;
const AGENT_INDEX = 0x22222222;
const ROUND_MS = UDP_PATH_PROBE_ATTEMPTS * UDP_PATH_PROBE_INTERVAL_MS;

/** Agent <-> relay through a NAT whose public port can change; each direction can be cut. */
function setup(cipher: 'ChaChaPoly' | 'AESGCM' = 'ChaChaPoly') {
  const clock = new FakeClock();
  const aead = getAead('auto', cipher);
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  const net = {
    up: true,
    down: true,
    natPort: 40_000,
    /** Every datagram the agent sent, as the relay would receive it. */
    captured: [] as Buffer[],
    toRelay: 0,
    toAgent: 0,
  };
  const got = { agent: [] as string[], relay: [] as string[] };
  const table = new UdpPathTable(16, () => RELAY_INDEX);
  const from = (): UdpPeerAddress => ({ address: '203.0.113.7', port: net.natPort });
  const peers: { agent?: UdpPath } = {};
  const relay = table.add(
    (index) =>
      new UdpPath({
        role: 'relay',
        keys: { send: k2, recv: k1, aead },
        localIndex: index,
        clock,
        logger: silentLogger(),
        transmit: (bytes, to) => {
          // The NAT delivers only to its current public port.
          if (!net.down || !to || to.port !== net.natPort) return;
          net.toAgent++;
          peers.agent?.receive(bytes, { address: '198.51.100.1', port: 7000 });
        },
        onDatagram: (flowId, data) => got.relay.push(`${flowId}:${data.toString()}`),
      }),
  )!;
  const agent = new UdpPath({
    role: 'agent',
    keys: { send: k1, recv: k2, aead },
    localIndex: AGENT_INDEX,
    remoteIndex: RELAY_INDEX,
    clock,
    logger: silentLogger(),
    transmit: (bytes) => {
      net.captured.push(bytes);
      if (!net.up) return;
      net.toRelay++;
      table.dispatch(bytes, from());
    },
    onDatagram: (flowId, data) => got.agent.push(`${flowId}:${data.toString()}`),
  });
  peers.agent = agent;
  // The first probe left from the constructor, before `agent` was assigned for the relay's reply:
  // like a lost reply, the next probe of the round brings the path up.
  clock.advance(UDP_PATH_PROBE_INTERVAL_MS);
  return { clock, net, got, table, agent, relay, from };
}

for (const cipher of ['ChaChaPoly', 'AESGCM'] as const) {
  test(`the first probe's reply brings both sides up; data flows both ways (${cipher})`, (t) => {
    const { agent, relay, got } = setup(cipher);
    t.is(agent.state, 'udp');
    t.is(relay.state, 'udp');
    t.deepEqual(relay.peerAddress, { address: '203.0.113.7', port: 40_000 });
    t.true(agent.trySend(7, Buffer.from('hello')));
    t.true(relay.trySend(7, Buffer.from('world')));
    t.deepEqual(got.relay, ['7:hello']);
    t.deepEqual(got.agent, ['7:world']);
    t.is(agent.stats.sent, 1);
    t.is(relay.stats.received, 1);
  });
}

test('a replayed datagram is dropped and counted, and never delivered twice', (t) => {
  const { agent, relay, got, net, table, from } = setup();
  agent.trySend(1, Buffer.from('once'));
  const data = net.captured.at(-1)!;
  table.dispatch(data, from());
  table.dispatch(Buffer.from(data), from());
  t.deepEqual(got.relay, ['1:once']);
  t.is(relay.stats.replayed, 2);
  // A replay from another address does not move the relay either (the counter is not fresh).
  table.dispatch(data, { address: '192.0.2.66', port: 1 });
  t.deepEqual(relay.peerAddress, { address: '203.0.113.7', port: 40_000 });
  t.is(relay.stats.roams, 0);
});

test('a datagram with a bad tag is dropped, counted, answered by nothing and changes nothing', (t) => {
  const { agent, relay, got, net, table, from } = setup();
  agent.trySend(1, Buffer.from('payload'));
  const good = net.captured.at(-1)!;
  t.deepEqual(got.relay, ['1:payload']);
  // The agent's next datagram, caught on the way (never delivered), its last byte flipped and sent
  // from an attacker's address.
  net.up = false;
  agent.trySend(1, Buffer.from('second'));
  net.up = true;
  const forged = Buffer.from(net.captured.at(-1)!);
  got.relay.length = 0;
  forged[forged.length - 1]! ^= 0x01;
  const beforeForged = net.toAgent;
  table.dispatch(forged, { address: '192.0.2.66', port: 9 });
  t.is(relay.stats.badTag, 1);
  t.is(net.toAgent, beforeForged, 'no answer to a forgery');
  t.deepEqual(relay.peerAddress, { address: '203.0.113.7', port: 40_000 }, 'no roam on a forgery');
  // A flipped header byte (the header is the associated data) is a bad tag too.
  const header = Buffer.from(good);
  header[12]! ^= 0x80;
  table.dispatch(header, from());
  t.is(relay.stats.badTag, 2);
  // Unknown index and runts never reach a path.
  const other = Buffer.from(good);
  other.writeUInt32BE(0x12345678, 4);
  table.dispatch(other, from());
  table.dispatch(Buffer.alloc(3), from());
  t.deepEqual(table.stats, { malformed: 1, unknownIndex: 1 });
});

test('the relay follows the agent to a new source port on an authenticated datagram', (t) => {
  const { agent, relay, got, net } = setup();
  net.natPort = 41_234; // the home NAT rebound the agent's mapping
  t.true(agent.trySend(3, Buffer.from('moved')));
  t.deepEqual(got.relay, ['3:moved']);
  t.deepEqual(relay.peerAddress, { address: '203.0.113.7', port: 41_234 });
  t.is(relay.stats.roams, 1);
  t.true(relay.trySend(3, Buffer.from('reply')));
  t.deepEqual(got.agent, ['3:reply'], 'the reply reaches the new port');
});

test('the agent keeps the path alive with a probe every keepalive interval', (t) => {
  const { agent, relay, clock, net } = setup();
  const before = net.toRelay;
  clock.advance(UDP_PATH_KEEPALIVE_MS * 4);
  t.is(net.toRelay - before, 4, 'one keepalive each interval, answered at once');
  t.is(agent.state, 'udp');
  t.is(relay.stats.probes, 6, 'the relay answered each probe (two in the first round)');
});

test('unanswered probes fall back to the tcp lane; a later re-probe switches back', (t) => {
  const { agent, relay, clock, net } = setup();
  net.up = false;
  // Traffic into silence starts a round at once instead of waiting for the keepalive.
  clock.advance(3_000);
  t.true(agent.trySend(1, Buffer.from('lost')));
  clock.advance(ROUND_MS);
  t.is(agent.state, 'tcp-lane');
  t.false(agent.trySend(1, Buffer.from('lane')), 'the caller must use the tcp lane');
  t.is(agent.stats.fallbacks, 1);
  // The relay, sending into silence, probes the agent; the agent's replies are lost too.
  t.true(relay.trySend(1, Buffer.from('down')));
  clock.advance(ROUND_MS);
  t.is(relay.state, 'tcp-lane');
  // UDP works again: the next re-probe (one keepalive interval on) brings both back.
  net.up = true;
  clock.advance(UDP_PATH_KEEPALIVE_MS);
  t.is(agent.state, 'udp');
  t.is(relay.state, 'udp');
  t.is(agent.stats.recoveries, 1);
  t.true(agent.trySend(1, Buffer.from('back')));
});

test('with no UDP at all the agent says probing, then the tcp lane; the relay too', (t) => {
  const clock = new FakeClock();
  const aead = getAead('auto', 'ChaChaPoly');
  const key = randomBytes(32);
  const agent = new UdpPath({
    role: 'agent',
    keys: { send: key, recv: key, aead },
    localIndex: 1,
    remoteIndex: 2,
    clock,
    logger: silentLogger(),
    transmit: () => {},
    onDatagram: () => {},
  });
  const relay = new UdpPath({
    role: 'relay',
    keys: { send: key, recv: key, aead },
    localIndex: 2,
    clock,
    logger: silentLogger(),
    transmit: () => t.fail('the relay sends nothing before it heard the agent'),
    onDatagram: () => {},
  });
  t.is(agent.state, 'probing');
  t.is(relay.state, 'probing');
  t.false(agent.trySend(1, Buffer.from('x')));
  clock.advance(ROUND_MS);
  t.is(agent.state, 'tcp-lane');
  t.is(relay.state, 'tcp-lane');
  t.is(agent.stats.probes, UDP_PATH_PROBE_ATTEMPTS);
  agent.close();
  relay.close();
  t.is(clock.pending, 0, 'no timer left after close');
});

test('datagrams larger than the path payload take the tcp lane', (t) => {
  const { agent, relay } = setup();
  t.true(agent.canCarry(UDP_PATH_MAX_PAYLOAD_BYTES));
  t.false(agent.canCarry(UDP_PATH_MAX_PAYLOAD_BYTES + 1));
  t.false(agent.trySend(1, Buffer.alloc(UDP_PATH_MAX_PAYLOAD_BYTES + 1)));
  t.true(relay.trySend(1, Buffer.alloc(UDP_PATH_MAX_PAYLOAD_BYTES)));
});

test('datagrams sealed under another link are bad tags on this one', (t) => {
  const a = setup();
  const b = setup();
  a.agent.trySend(1, Buffer.from('for a'));
  b.table.dispatch(a.net.captured.at(-1)!, b.from());
  t.is(b.relay.stats.badTag, 1);
  t.deepEqual(b.got.relay, []);
});

test('keys move to the next epoch after the rekey interval; a datagram reordered across it still opens', (t) => {
  const { agent, relay, got, net, clock, table, from } = setup();
  t.is(net.captured.at(-1)![1], 0, 'epoch 0 first');
  // Hold one epoch-0 datagram back (delivered late, below).
  net.up = false;
  agent.trySend(1, Buffer.from('late'));
  net.up = true;
  const late = net.captured.at(-1)!;
  clock.advance(10 * 60_000);
  t.true(agent.trySend(1, Buffer.from('new key')));
  t.is(net.captured.at(-1)![1], 1, 'epoch 1 after 10 minutes');
  table.dispatch(late, from());
  t.deepEqual(got.relay, ['1:new key', '1:late']);
  // The relay's replies ratchet too, and the agent follows.
  t.true(relay.trySend(2, Buffer.from('down')));
  t.deepEqual(got.agent, ['2:down']);
  t.is(agent.state, 'udp');
});

test('a key is never more than one epoch ahead of the peer, so a long outage does not strand the path', (t) => {
  const { agent, relay, got, net, clock } = setup();
  net.up = false;
  net.down = false;
  // 45 minutes without UDP: the agent falls back and re-probes every keepalive, sealing all the while.
  clock.advance(45 * 60_000);
  t.is(agent.state, 'tcp-lane');
  const epochs = new Set(net.captured.slice(-20).map((d) => d[1]));
  t.deepEqual([...epochs], [1], 'one epoch ahead at most: the relay never saw epoch 1');
  net.up = true;
  net.down = true;
  clock.advance(UDP_PATH_KEEPALIVE_MS);
  t.is(agent.state, 'udp');
  t.is(relay.state, 'udp');
  t.true(agent.trySend(1, Buffer.from('after the outage')));
  t.deepEqual(got.relay, ['1:after the outage']);
});

test('a datagram of an epoch two behind no longer opens (the old key is gone)', (t) => {
  const { agent, relay, net, clock, table, from } = setup();
  net.up = false;
  agent.trySend(1, Buffer.from('old'));
  net.up = true;
  const old = net.captured.at(-1)!;
  for (let i = 0; i < 2; i++) {
    clock.advance(10 * 60_000);
    agent.trySend(1, Buffer.from(`epoch ${i + 1}`));
    // The keepalive tells the agent what the relay holds now, so the next rotation may go.
    clock.advance(UDP_PATH_KEEPALIVE_MS);
  }
  t.is(net.captured.at(-1)![1], 2);
  const before = relay.stats.badTag;
  table.dispatch(old, from());
  t.is(relay.stats.badTag, before + 1);
});

test('hostile bytes: random datagrams and mutations of a real one never deliver, answer or throw', (t) => {
  const { agent, relay, got, net, table, from } = setup();
  net.up = false;
  agent.trySend(5, Buffer.from('original'));
  net.up = true;
  const real = net.captured.at(-1)!;
  const answersBefore = net.toAgent;
  const statsBefore = { ...relay.stats };
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let i = 0; i < 3000; i++) {
    const junk = randomBytes(rnd(1300));
    // Half of them carry the live receiver index, so they reach the path's checks.
    if (junk.length >= 8 && i % 2 === 0) junk.writeUInt32BE(RELAY_INDEX, 4);
    t.notThrows(() => table.dispatch(junk, { address: '192.0.2.1', port: rnd(65536) }));
    const mutated = Buffer.from(real);
    mutated[rnd(mutated.length)]! ^= 1 << rnd(8);
    t.notThrows(() => table.dispatch(mutated, { address: '192.0.2.2', port: 1 }));
  }
  t.deepEqual(got.relay, [], 'nothing delivered');
  t.is(net.toAgent, answersBefore, 'nothing answered');
  t.deepEqual(relay.peerAddress, { address: '203.0.113.7', port: 40_000 }, 'no roam');
  t.is(relay.stats.received, statsBefore.received);
  // The real one, untouched, still opens: nothing above moved the replay window.
  table.dispatch(real, from());
  t.deepEqual(got.relay, ['5:original']);
});
