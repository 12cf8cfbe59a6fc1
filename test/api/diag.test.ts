// The diagnostic bundle through the library API: relay.agentDiag(name) over the agent's session (a
// stream transfer), the agent's and the relay's own diagBundle(), and the typed refusals.
import test from 'ava';
import { isXnatError } from '../../src/api/index.ts';
import { startEmbedded } from './embed-stack.ts';

test('relay.agentDiag streams the agent bundle; own bundles of both; an unknown agent is refused', async (t) => {
  const stack = await startEmbedded({ mappings: [{ name: 'web', remotePort: 0, handler: 'web' }] });
  t.teardown(() => stack.close());
  await stack.port('web');

  const pulled = await stack.relay.agentDiag('app');
  const chunks: Buffer[] = [];
  for await (const c of pulled.source) chunks.push(c as Buffer);
  await pulled.done;
  const bytes = Buffer.concat(chunks);
  t.is(bytes.length, pulled.size);
  const doc = JSON.parse(bytes.toString()) as {
    role: string;
    name: string;
    profile: { agent: { privateKey: string } };
  };
  t.is(doc.role, 'agent');
  t.is(doc.name, 'app');
  t.is(doc.profile.agent.privateKey, '[redacted]');

  t.is((JSON.parse(stack.agent.diagBundle().toString()) as { role: string }).role, 'agent');
  t.is((JSON.parse(stack.relay.diagBundle().toString()) as { role: string }).role, 'relay');

  const err = await t.throwsAsync(stack.relay.agentDiag('nobody'));
  t.true(isXnatError(err, 'XNAT_ERR_DIAG_UNKNOWN_AGENT'));
});
