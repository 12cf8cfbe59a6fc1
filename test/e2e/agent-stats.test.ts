// End to end: `xnat status --agent NAME` on the relay shows the agent's own side, fetched with stats.query
// over its session: per mapping, its LAN target's connects, connect errors and connect latency; the agent's
// own status says the same.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { TestEnv, freePort } from './lib/env.ts';
import { startPair } from './lib/cluster.ts';
import { startHttpServer } from './lib/targets.ts';

const run = promisify(execFile);

interface AgentStatsJson {
  session: Record<string, number>;
  streams: Record<string, number>;
  mappings: Record<string, Record<string, number>>;
}

test('xnat status --agent shows LAN connects, connect errors and latency per mapping', async (t) => {
  const env = new TestEnv(t);
  const httpPort = await startHttpServer(env, 'up\n');
  const closedPort = await freePort(); // nothing listens: every dial of this mapping fails
  const token = randomBytes(16).toString('hex');
  const pair = await startPair(env, {
    mappings: [
      { name: 'web', localPort: httpPort },
      { name: 'dead', localPort: closedPort },
    ],
    relay: { admin: { port: await freePort(), token } },
    agent: { admin: { port: await freePort(), token } },
  });
  await run('curl', ['-sS', '--max-time', '20', `http://127.0.0.1:${pair.ports.web}/`]);
  await run('curl', ['-sS', '--max-time', '20', `http://127.0.0.1:${pair.ports.dead}/`]).catch(
    () => undefined,
  );

  const json = await env.run(['status', '--profile', pair.relay.profilePath, '--agent', 'home', '--json']);
  t.is(json.exit?.code, 0, json.stderr);
  const stats = JSON.parse(json.otherLines.join('\n')) as AgentStatsJson;
  t.is(stats.mappings.web?.connects, 1);
  t.is(stats.mappings.web?.connectErrors, 0);
  t.true((stats.mappings.web?.connectMsMax ?? -1) >= 0);
  t.is(stats.mappings.dead?.connects, 0);
  t.is(stats.mappings.dead?.connectErrors, 1);
  t.true((stats.session.links ?? 0) >= 1);

  const text = await env.run(['status', '--profile', pair.relay.profilePath, '--agent', 'home']);
  t.is(text.exit?.code, 0, text.stderr);
  t.regex(text.otherLines.join('\n'), /mapping dead lan connects=0 connect-errors=1/);

  // The agent's own status carries the same LAN side per mapping (its dashboard's lan columns).
  const own = await env.run(['status', '--profile', pair.agent.profilePath, '--json']);
  t.is(own.exit?.code, 0, own.stderr);
  const lan = Object.fromEntries(
    (JSON.parse(own.otherLines.join('\n')) as { mappings: { name: string; lan?: unknown }[] }).mappings.map(
      (m) => [m.name, m.lan],
    ),
  );
  t.like(lan, { web: { connects: 1, connectErrors: 0 }, dead: { connects: 0, connectErrors: 1 } });

  const unknown = await env.run(['status', '--profile', pair.relay.profilePath, '--agent', 'nobody']);
  t.not(unknown.exit?.code, 0);
  t.regex(unknown.stderr, /XNAT_ERR_COMMAND_NO_SESSION/);
});
