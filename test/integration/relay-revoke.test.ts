// Relay reload narrowing an agent's allow list, with real processes: the port it no longer covers is
// closed at once (its visitor's connection reset, new connects refused, the agent told), the other
// mapping keeps working, and a key that needs a restart is named in one warning.
import ava from 'ava';
import net from 'node:net';
import { TestEnv, WAIT_MS, freePort } from '../e2e/lib/env.ts';
import { countLogs, startPair } from '../e2e/lib/cluster.ts';
import { relayProfile } from '../e2e/lib/profiles.ts';
import {
  connectVisitor,
  ending,
  startHashServer,
  startHttpServer,
  visitorWorks,
} from '../e2e/lib/targets.ts';
import { waitFor } from '../helpers/procs.ts';

const test = ava.serial;
const TOKEN = 'relay-revoke-token-0123456789';

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

test('relay reload revoking a port: the visitor is reset, the port closes, the agent marks it failed', async (t) => {
  t.timeout(180_000);
  const env = new TestEnv(t);
  const lan = await startHashServer(env);
  const body = 'still allowed\n';
  const httpPort = await startHttpServer(env, body);
  const adminPort = await freePort();
  const [revokedPort, keptPort] = [await freePort(), await freePort()];
  const pair = await startPair(env, {
    mappings: [
      { name: 'game', remotePort: revokedPort, localPort: lan.port },
      { name: 'web', remotePort: keptPort, localPort: httpPort },
    ],
    relay: {
      admin: { port: adminPort, token: TOKEN },
      allow: [`${revokedPort}/tcp`, `${keptPort}/tcp`],
    },
  });
  const relaySpec = {
    keys: pair.relayKeys,
    admin: { port: adminPort, token: TOKEN },
  };
  // A visitor with a live stream on the port about to be revoked.
  const visitor = await connectVisitor(env, revokedPort);
  visitor.write('hello game\n');
  await lan.connection(1);
  const visitorEnd = ending(visitor);

  env.write(
    'relay.yaml',
    relayProfile({
      ...relaySpec,
      agents: [{ name: 'home', publicKey: pair.agentKeys.publicKey, allow: [`${keptPort}/tcp`] }],
      tuning: { maxStreams: 99 },
    }),
  );
  const reload = await env.run(['reload', '--profile', pair.relay.profilePath]);
  t.is(reload.exit?.code, 0, reload.stderr);
  const out = reload.otherLines.join('\n');
  t.regex(out, /agent home changed/);
  t.regex(out, /mapping game of agent home closed: no longer allowed/);
  t.regex(out, /tuning\.maxStreams changed: needs a restart/);

  t.is(await visitorEnd, 'ECONNRESET');
  await waitFor(() => refused(revokedPort), WAIT_MS, 'the revoked port to close');
  const revoked = await pair.agent.proc.waitForLog({ msg: 'mapping revoked', mapping: 'game' }, WAIT_MS);
  t.is(revoked.code, 'XNAT_ERR_MAPPING_NOT_ALLOWED');
  await pair.relay.proc.waitForLog({ msg: 'tuning.maxStreams changed: needs a restart' }, WAIT_MS);
  // Its retry is refused by the new allow list; the other mapping never noticed.
  await pair.agent.proc.waitForLog(
    { msg: 'mapping failed', mapping: 'game', code: 'XNAT_ERR_MAPPING_NOT_ALLOWED' },
    WAIT_MS,
  );
  t.true(await visitorWorks(env, keptPort, body));
  t.is(countLogs(pair.agent.proc, { msg: 'session established' }), 1);
});
