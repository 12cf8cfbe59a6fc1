// A flood of UDP visitors beyond the relay's flow caps, real processes on loopback: 600 source ports over
// nine source addresses (127.0.0.2-10) against a mapping capped at 64 flows and 16 per address. The table
// stays bounded, evictions show as counters (status and /metrics) with few log lines, and a legitimate
// flow that keeps talking keeps its flow and its answers throughout.
import test from 'ava';
import type dgram from 'node:dgram';
import { TestEnv } from '../e2e/lib/env.ts';
import { makeKeys } from '../e2e/lib/profiles.ts';
import { countLogs } from '../e2e/lib/cluster.ts';
import { killAll } from '../helpers/procs.ts';
import {
  admin,
  askOnce,
  metrics,
  relayStatus,
  sample,
  startAgent,
  startRelay,
  udpEcho,
  visitor,
} from './udp-stack.ts';

test.after.always(() => killAll());

const MAX_PER_MAPPING = 64;
const MAX_PER_SOURCE = 16;
/** First 120 ports of one address (the per-source cap), then 60 from each of 8 more, interleaved (the table cap). */
const ONE_SOURCE = 120;
const SOURCES = 8;
const PER_SOURCE = 60;
/** The flood goes out CHUNK datagrams every CHUNK_PAUSE_MS (about 5 000 a second). */
const CHUNK = 20;
const CHUNK_PAUSE_MS = 4;
/** The player sends a datagram this often. */
const TICK_MS = 50;

test('a flood beyond the flow caps is evicted and counted while a real player keeps playing', async (t) => {
  t.timeout(120_000);
  const env = new TestEnv(t);
  const echo = await udpEcho(env);
  const relayKeys = makeKeys();
  const agentKeys = makeKeys();
  const relay = await startRelay(env, relayKeys, [{ name: 'game', keys: agentKeys }], {
    maxFlowsPerMapping: MAX_PER_MAPPING,
    maxFlowsPerSource: MAX_PER_SOURCE,
  });
  const agent = await startAgent(env, {
    name: 'game',
    keys: agentKeys,
    relayPort: relay.controlPort,
    relayKeys,
    mappings: [{ name: 'game', localPort: echo }],
  });
  const port = agent.ports.game!;
  const client = await admin(env, relay);

  // The player: its flow is open and has talked both ways before the flood starts.
  const player = await visitor(env);
  t.is(await askOnce(player, port, 'join'), 'echo:join');
  t.is(await askOnce(player, port, 'move'), 'echo:move');
  const playerAddr = `127.0.0.1:${player.address().port}`;
  const flowOf = async () =>
    (await relayStatus(client)).sessions[0]!.flows!.find((f) => f.visitor === playerAddr);
  const before = await flowOf();
  t.truthy(before);

  // 600 source ports, bound before the flood so that it comes at full speed.
  const bind = async (address: string, n: number) => {
    const row: dgram.Socket[] = [];
    for (let i = 0; i < n; i++) row.push(await visitor(env, address));
    return row;
  };
  const single = await bind('127.0.0.2', ONE_SOURCE);
  const many: dgram.Socket[][] = [];
  for (let a = 0; a < SOURCES; a++) many.push(await bind(`127.0.0.${a + 3}`, PER_SOURCE));

  let sent = 0;
  let answered = 0;
  player.on('message', () => answered++);
  const ticker = setInterval(() => {
    sent++;
    player.send(`tick-${sent}`, port, '127.0.0.1');
  }, TICK_MS);
  let maxSeen = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const st = await relayStatus(client);
      maxSeen = Math.max(maxSeen, st.mappings[0]!.activeFlows ?? 0);
    }
  })();

  // One datagram from each, in chunks paced so the relay's socket buffer keeps up: hundreds of new flows
  // between two of the player's datagrams.
  const order = [
    ...single,
    ...Array.from({ length: PER_SOURCE }, (_, i) => many.map((row) => row[i]!)).flat(),
  ];
  for (let k = 0; k < order.length; k += CHUNK) {
    for (const s of order.slice(k, k + CHUNK)) s.send('flood', port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, CHUNK_PAUSE_MS));
  }
  clearInterval(ticker);
  sampling = false;
  await sampler;
  // The player still plays. (Under the flood the kernel may drop a datagram from a full socket buffer
  // before the relay reads it, as on any network: a few tries, not a loss figure.)
  let still: string | undefined;
  for (let i = 0; i < 5 && still === undefined; i++) still = await askOnce(player, port, `still-${i}`, 1_000);
  t.truthy(still, 'the player is answered after the flood');

  const st = await relayStatus(client);
  const m = st.mappings.find((x) => x.name === 'game')!;
  t.true(
    maxSeen <= MAX_PER_MAPPING && m.activeFlows! <= MAX_PER_MAPPING,
    `flows ${maxSeen} / ${m.activeFlows}`,
  );
  const drops = m.flowDrops!;
  // 120 flows of one address leave 16 (104 per-source evictions); 480 more from 8 addresses do not fit
  // 64 (about 420 table-full evictions). Bounds are loose: a datagram the kernel dropped from the
  // relay's full socket buffer never arrived (170 of 420 were seen on a loaded 2-core run), so they only
  // prove that flows beyond the caps were evicted, not refused or kept.
  t.true(drops.perSource >= 50, `per-source evictions ${drops.perSource}`);
  t.true(drops.tableFull >= 50, `table-full evictions ${drops.tableFull}`);
  t.is(drops.noAgent + drops.sessionRefused, 0);

  const after = await flowOf();
  t.is(after?.id, before!.id, 'the player kept its flow through the flood');
  t.true(answered - 1 >= sent * 0.5, `player answered ${answered} of ${sent} ticks`);

  const text = await metrics(relay);
  t.is(sample(text, 'xnat_udp_drops_total', { mapping: 'game', cause: 'per_source' }), drops.perSource);
  t.is(sample(text, 'xnat_udp_drops_total', { mapping: 'game', cause: 'table_full' }), drops.tableFull);
  t.true(sample(text, 'xnat_mapping_open_flows', { mapping: 'game' }) <= MAX_PER_MAPPING);
  // Hundreds of evictions, a handful of log lines (one per 10 s interval at most).
  const lines = countLogs(relay.proc, { msg: 'udp drops' });
  t.true(lines >= 1 && lines <= 3, `udp drops lines: ${lines}`);
});
