// One admin token length limit: what a profile accepts, admin.auth accepts on the wire, and it fits
// the admin endpoint's small message cap before authentication (even at 3 UTF-8 bytes per character).
import test from 'ava';
import { parseAgentProfile, MAX_ADMIN_TOKEN_CHARS } from '../../src/config/index.ts';
import { adminAuth } from '../../src/protocol/index.ts';
import { startAdminServer } from '../../src/admin/admin-server.ts';
import { AdminClient } from '../../src/admin/admin-client.ts';
import { silentLogger } from '../../src/observe/log.ts';
import { isXnatError } from '../../src/errors.ts';

const KEY = Buffer.alloc(32, 1).toString('base64');
const agentYaml = (token: string) =>
  [
    'agent:',
    '  name: home',
    `  privateKey: "${KEY}"`,
    'relays:',
    `  - { address: "relay.example.com:7000", publicKey: "${KEY}" }`,
    'mappings:',
    '  - { name: web, remotePort: 8080, local: "127.0.0.1:80" }',
    'admin:',
    `  token: "${token}"`,
  ].join('\n');

test('profile and admin.auth agree on the longest token', (t) => {
  t.is(MAX_ADMIN_TOKEN_CHARS, 512);
  const longest = 'a'.repeat(MAX_ADMIN_TOKEN_CHARS);
  t.is(parseAgentProfile(agentYaml(longest), 'agent.yaml', {}).admin?.token, longest);
  t.true(adminAuth.request.safeParse({ token: longest }).success);
  const over = `${longest}a`;
  const err = t.throws(() => parseAgentProfile(agentYaml(over), 'agent.yaml', {}));
  t.true(isXnatError(err, 'XNAT_ERR_CONFIG_INVALID'));
  t.is((err as { detail?: string }).detail, 'agent.yaml:9 admin.token: must be at most 512 characters');
  t.false(adminAuth.request.safeParse({ token: over }).success);
});

test('the longest token, at 3 UTF-8 bytes per character, authenticates', async (t) => {
  const token = '€'.repeat(MAX_ADMIN_TOKEN_CHARS);
  t.is(parseAgentProfile(agentYaml(token), 'agent.yaml', {}).admin?.token, token);
  const server = await startAdminServer({
    listen: { host: '127.0.0.1', port: 0 },
    token,
    logger: silentLogger(),
    actions: {
      status: () => ({ role: 'agent', version: 't', name: 'a', startedAt: 0, relays: [], mappings: [] }),
    },
  });
  t.teardown(() => server.close());
  const client = await AdminClient.connect('127.0.0.1', server.port, token);
  t.is((await client.status()).role, 'agent');
  client.close();
});
