// dig through a UDP mapping to a real dnsmasq behind the agent: every query (a new source port, so a new
// flow) is answered on its one and only try. Before the first-datagram fix, none was.
import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { TestEnv, programsAvailable, requirePrograms } from '../e2e/lib/env.ts';
import { makeKeys } from '../e2e/lib/profiles.ts';
import { killAll } from '../helpers/procs.ts';
import { freeBothPort, spawnDaemon, startAgent, startRelay } from './udp-stack.ts';

const execFileAsync = promisify(execFile);
const DNSMASQ = '/usr/sbin/dnsmasq';
const run = programsAvailable(DNSMASQ, 'dig') ? test : test.skip;

test.after.always(() => killAll());

async function dig(port: number, name: string): Promise<string> {
  const { stdout } = await execFileAsync(
    'dig',
    ['+tries=1', '+time=3', '+short', '@127.0.0.1', '-p', String(port), name],
    { timeout: 10_000 },
  ).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  return stdout.trim();
}

run('dig gets its answer through a udp mapping with one try, query after query', async (t) => {
  t.timeout(120_000);
  requirePrograms(DNSMASQ, 'dig');
  const env = new TestEnv(t);
  // dnsmasq cannot take port 0, and it listens on TCP too: a port free for both a moment ago.
  const dnsPort = await freeBothPort();
  const dns = spawnDaemon(env, DNSMASQ, [
    '--no-daemon',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--bind-interfaces',
    '--listen-address=127.0.0.1',
    `--port=${dnsPort}`,
    `--pid-file=${env.path('dnsmasq.pid')}`,
    '--address=/example.test/10.1.2.3',
    ...(process.getuid?.() === 0 ? ['--user=nobody', '--group=nogroup'] : []),
  ]);
  await dns.waitFor('started');
  t.is(await dig(dnsPort, 'example.test'), '10.1.2.3', 'dnsmasq answers directly');

  const relayKeys = makeKeys();
  const agentKeys = makeKeys();
  const relay = await startRelay(env, relayKeys, [{ name: 'dns', keys: agentKeys }]);
  const agent = await startAgent(env, {
    name: 'dns',
    keys: agentKeys,
    relayPort: relay.controlPort,
    relayKeys,
    mappings: [{ name: 'dns', localPort: dnsPort }],
  });
  const port = agent.ports.dns!;
  const answers: string[] = [];
  for (let i = 0; i < 5; i++) answers.push(await dig(port, 'example.test'));
  t.deepEqual(answers, Array(5).fill('10.1.2.3'), 'every dig answered on its only try');
});
