// The embedding API's lifecycle: profiles as data meet the YAML schema (errors name the key), a relay made
// from a file re-reads it on reload(), session events tell detach, resume and close, close() is idempotent.
import test from 'ava';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createAgent, createRelay, isXnatError, type XnatEventName } from '../../src/api/index.ts';
import { makeKeys } from '../e2e/lib/profiles.ts';
import { nextEvent, startEmbedded } from './embed-stack.ts';

test('a profile given as data is checked by the profile schema; the error names the key', (t) => {
  const keys = makeKeys();
  const err = t.throws(() =>
    createAgent({
      agent: { name: 'a', privateKey: keys.privateKey },
      relays: [{ address: '127.0.0.1:7000', publicKey: keys.publicKey }],
      mappings: [{ name: 'm', remotePort: 70000, local: '127.0.0.1:80' }],
    }),
  );
  if (!isXnatError(err)) return t.fail('not an XnatError');
  t.is(err.code, 'XNAT_ERR_CONFIG_INVALID');
  const text = `${err.message} ${err.detail ?? ''}`;
  t.regex(text, /mappings\[0\]\.remotePort/);
  t.false(text.includes(keys.privateKey), 'no secret in the error');
});

test('a relay created from a file path re-reads it on reload()', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'xnat-api-'));
  const relayKeys = makeKeys();
  const file = join(dir, 'relay.yaml');
  const base = {
    relay: { listen: '127.0.0.1:0', privateKey: relayKeys.privateKey },
    agents: [] as unknown[],
  };
  writeFileSync(file, stringify(base));
  const relay = createRelay({ profile: file, logger: false });
  await relay.start();
  t.teardown(() => relay.close());
  t.true(relay.port > 0);
  t.deepEqual(await relay.reload(), []);
  const agentKeys = makeKeys();
  writeFileSync(
    file,
    stringify({ ...base, agents: [{ name: 'late', publicKey: agentKeys.publicKey, allow: ['30000/tcp'] }] }),
  );
  t.deepEqual(await relay.reload(), ['agent late added']);
  t.is(relay.status().role, 'relay');
});

test('session events: attached, detached and resumed on a link cut, closed on a kick; close() twice is fine', async (t) => {
  const stack = await startEmbedded({
    mappings: [{ name: 'web', remotePort: 0, handler: 'web' }],
    proxy: true,
  });
  t.teardown(() => stack.close());
  await stack.port('web');
  const seen: string[] = [];
  for (const name of ['session.attached', 'session.detached', 'session.resumed', 'session.closed'] as const) {
    stack.agent.on(name, () => seen.push(`agent ${name}`));
    stack.relay.on(name, () => seen.push(`relay ${name}`));
  }
  const resumed = nextEvent(stack.agent, 'session.resumed');
  const detached = nextEvent(stack.relay, 'session.detached');
  stack.proxy!.reset();
  const r = await resumed;
  t.is(r.agent, 'app');
  t.is(r.resumes, 1);
  t.truthy(r.relay);
  t.truthy((await detached).code);
  const closed = nextEvent(stack.relay, 'session.closed');
  const attachedAgain = nextEvent(stack.agent, 'mapping.ready');
  t.true(stack.relay.kick('app'));
  await closed;
  await attachedAgain; // the agent starts a new session and registers again
  const want: XnatEventName[] = ['session.detached', 'session.resumed', 'session.closed'];
  for (const w of want)
    t.true(
      seen.some((s) => s.endsWith(w)),
      w,
    );
  await stack.agent.close();
  await stack.agent.close();
  await stack.relay.close();
  await stack.relay.close();
});
