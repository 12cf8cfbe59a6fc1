// Honest start-up with real processes: a control, admin or metrics port held by another program ends
// the relay or agent with its code and exit status (nothing left half-started); a public port held by
// another program is XNAT_ERR_MAPPING_BIND_FAILED for that mapping, and both ends keep running.
import ava from 'ava';
import net, { type AddressInfo } from 'node:net';
import { EXIT } from '../../src/errors.ts';
import { TestEnv, WAIT_MS } from './lib/env.ts';
import { startRelay, startAgent, mappingReady } from './lib/cluster.ts';
import { agentProfile, allowAllExcept, makeKeys, relayProfile } from './lib/profiles.ts';
import { startHttpServer, visitorWorks } from './lib/targets.ts';
import type { XnatProcess, ExitInfo } from '../helpers/procs.ts';

const test = ava.serial;
const TOKEN = 'startup-test-token-0123456789';

/** A port held by "another program": a plain listener of this test process. */
async function holdPort(env: TestEnv): Promise<number> {
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  env.onDispose(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as AddressInfo).port;
}

async function exitOf(p: XnatProcess): Promise<ExitInfo> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${p.name} still running\n${p.tail()}`)), WAIT_MS);
  });
  try {
    return await Promise.race([p.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const relayKeys = makeKeys();
const agentKeys = makeKeys();
const agents = [{ name: 'home', publicKey: agentKeys.publicKey }];

for (const what of ['control', 'admin', 'metrics'] as const) {
  test(`relay: a taken ${what} port ends the process with its code`, async (t) => {
    const env = new TestEnv(t);
    const port = await holdPort(env);
    const file = env.write(
      'relay.yaml',
      relayProfile({
        keys: relayKeys,
        // An allow list covering one of the relay's own ports is invalid: leave the held one out.
        agents: agents.map((a) => ({ ...a, allow: allowAllExcept(port) })),
        ...(what === 'control' ? { port } : {}),
        ...(what === 'admin' ? { admin: { port, token: TOKEN } } : {}),
        ...(what === 'metrics' ? { metrics: { port } } : {}),
      }),
    );
    const relay = env.start(['relay', '--profile', file], { name: 'relay' });
    const exit = await exitOf(relay);
    const code = what === 'control' ? 'XNAT_ERR_LINK_LISTEN' : 'XNAT_ERR_ADMIN_LISTEN';
    t.is(exit.code, EXIT.NETWORK, relay.tail());
    t.regex(relay.stderr, new RegExp(`^error ${code}: .*127\\.0\\.0\\.1:${port} EADDRINUSE`, 'm'));
  });
}

for (const what of ['admin', 'metrics'] as const) {
  test(`agent: a taken ${what} port ends the process with its code, before it dials`, async (t) => {
    const env = new TestEnv(t);
    const port = await holdPort(env);
    const file = env.write(
      'agent.yaml',
      agentProfile({
        name: 'home',
        keys: agentKeys,
        relayPort: await holdPort(env),
        relayPublicKey: relayKeys.publicKey,
        mappings: [{ name: 'web', localPort: 9 }],
        ...(what === 'admin' ? { admin: { port, token: TOKEN } } : {}),
        ...(what === 'metrics' ? { metrics: { port } } : {}),
      }),
    );
    const agent = env.start(['agent', '--profile', file], { name: 'agent' });
    const exit = await exitOf(agent);
    t.is(exit.code, EXIT.NETWORK, agent.tail());
    t.regex(agent.stderr, /^error XNAT_ERR_ADMIN_LISTEN: /m);
    t.false(agent.logs.some((l) => l.msg === 'connecting'));
  });
}

test('a public port held by another program is MAPPING_BIND_FAILED for that mapping; both ends run on', async (t) => {
  const env = new TestEnv(t);
  const taken = await holdPort(env);
  const body = 'the other mapping\n';
  const httpPort = await startHttpServer(env, body);
  const relay = await startRelay(env, { keys: relayKeys, agents });
  const agent = startAgent(env, {
    name: 'home',
    keys: agentKeys,
    relayPort: relay.port,
    relayPublicKey: relayKeys.publicKey,
    mappings: [
      { name: 'blocked', remotePort: taken, localPort: httpPort },
      { name: 'web', localPort: httpPort },
    ],
  });
  const failed = await agent.proc.waitForLog({ msg: 'mapping failed', mapping: 'blocked' }, WAIT_MS);
  t.is(failed.code, 'XNAT_ERR_MAPPING_BIND_FAILED');
  const onRelay = await relay.proc.waitForLog({ msg: 'mapping failed', mapping: 'blocked' }, WAIT_MS);
  t.is(onRelay.code, 'XNAT_ERR_MAPPING_BIND_FAILED');
  t.regex(String(onRelay.detail), /EADDRINUSE/);
  t.true(await visitorWorks(env, await mappingReady(agent.proc, 'web'), body));
  t.is(relay.proc.exit, undefined);
  t.is(agent.proc.exit, undefined);
});
