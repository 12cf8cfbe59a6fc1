// Who may visit, real processes: a relay on a dual-stack public host with relay-wide and per-mapping
// allow/deny (visitors bind 127.0.0.x and ::1), a per-source cap, refusals in status and /metrics by
// cause, and a rule change applied live by reload while open connections stay.
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { TestEnv } from '../e2e/lib/env.ts';
import { makeKeys } from '../e2e/lib/profiles.ts';
import { startTagServer, tagOf } from '../e2e/lib/targets.ts';
import { killAll, waitFor } from '../helpers/procs.ts';
import { admin, metrics, relayStatus, relayYaml, sample, startAgent, startRelay } from './udp-stack.ts';

test.after.always(() => killAll());

test('allow/deny for IPv4 and IPv6, per-source cap, counted refusals, live reload', async (t) => {
  t.timeout(120_000);
  const env = new TestEnv(t);
  const target = await startTagServer(env, 'ok');
  const relayKeys = makeKeys();
  const keys = makeKeys();
  const agents = [{ name: 'home', keys }];
  // publicHost '::' listens dual stack: IPv4 visitors arrive as ::ffff:127.0.0.x.
  const relayBlock = { listen: '127.0.0.1:0', privateKey: relayKeys.privateKey, publicHost: '::' };
  const rules = (extraDeny: string[]) => ({
    relay: relayBlock,
    visitors: {
      deny: ['127.0.0.3', ...extraDeny],
      mappings: [{ name: 'web', allow: ['127.0.0.0/29', '::1/128'], maxConnectionsPerSource: 2 }],
    },
  });
  const relay = await startRelay(env, relayKeys, agents, {}, rules([]));
  const agent = await startAgent(env, {
    name: 'home',
    keys,
    relayPort: relay.controlPort,
    relayKeys,
    mappings: [{ name: 'web', protocol: 'tcp', localPort: target }],
  });
  const port = agent.ports.web!;
  const reach = (from: string) => tagOf(env, port, from, from.includes(':') ? '::1' : '127.0.0.1');

  const first = await reach('127.0.0.2');
  t.is(first.tag, 'ok');
  t.is((await reach('::1')).tag, 'ok', 'IPv6 in the allow list');
  t.not((await reach('127.0.0.3')).tag, 'ok', 'relay-wide deny');
  t.not((await reach('127.0.0.9')).tag, 'ok', 'outside the allow list');
  const second = await reach('127.0.0.2');
  t.is(second.tag, 'ok');
  t.not((await reach('127.0.0.2')).tag, 'ok', 'third open connection of one source');
  t.is((await reach('127.0.0.4')).tag, 'ok', 'another source still gets in');

  const client = await admin(env, relay);
  const s = await relayStatus(client);
  const refused = s.mappings.find((m) => m.name === 'web')!.visitorsRefused!;
  t.deepEqual([refused.denied, refused.notAllowed, refused.perSource], [1, 1, 1]);
  t.is(s.visitorsRefused?.denied, 1);
  const text = await metrics(relay);
  t.is(sample(text, 'xnat_mapping_visitors_refused_total', { mapping: 'web', cause: 'not_allowed' }), 1);
  t.is(sample(text, 'xnat_mapping_visitors_refused_total', { mapping: 'web', cause: 'per_source' }), 1);
  t.truthy(
    relay.proc.logs.find((l) => l.msg === 'visitor refused'),
    'a (rate-limited) log line',
  );

  // Live: deny 127.0.0.2 as well. The next visitor from it is refused; its open connections stay.
  writeFileSync(relay.profilePath, relayYaml(relayKeys, agents, {}, rules(['127.0.0.2/32'])));
  const changes = await client.reload();
  t.true(changes.includes('visitors changed'), changes.join('; '));
  t.not((await reach('127.0.0.2')).tag, 'ok', 'denied after reload');
  first.socket.write('still here\n');
  await waitFor(
    () =>
      new Promise((r) => first.socket.once('data', (c: Buffer) => r(c.toString().includes('still here')))),
    10_000,
    'the open connection still echoes',
  );
  t.false(second.socket.destroyed);
  await waitFor(
    async () =>
      (await relayStatus(client)).mappings.find((m) => m.name === 'web')!.visitorsRefused!.denied === 2,
    10_000,
    'the refusal counted',
  );
});
