// Live profile reload of a real relay process: a newly added agent is accepted after `xnat reload`,
// a removed one is kicked, and the relay tells agents when it stops (relay.shutdown).
import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, encodeKey, type KeyPair } from '../../src/crypto/keys.ts';
import { startProcess, killAll, REPO_ROOT } from '../helpers/procs.ts';

const run = promisify(execFile);
test.after.always(() => killAll());

const TOKEN = 'reload-test-token-0123456789';

function relayYaml(
  relay: KeyPair,
  agents: Array<{ name: string; keys: KeyPair }>,
  adminPort: number,
): string {
  return (
    `relay:\n  listen: "127.0.0.1:0"\n  privateKey: "${encodeKey(relay.privateKey)}"\n  publicHost: "127.0.0.1"\n` +
    `admin:\n  listen: "127.0.0.1:${adminPort}"\n  token: "${TOKEN}"\n` +
    `agents:\n` +
    agents
      .map(
        (a) =>
          `  - name: ${a.name}\n    publicKey: "${encodeKey(a.keys.publicKey)}"\n    allow: ["20000-30000/tcp"]\n`,
      )
      .join('')
  );
}

function agentYaml(name: string, keys: KeyPair, relay: KeyPair, relayPort: number): string {
  return (
    `agent:\n  name: ${name}\n  privateKey: "${encodeKey(keys.privateKey)}"\n` +
    `relays:\n  - address: "127.0.0.1:${relayPort}"\n    publicKey: "${encodeKey(relay.publicKey)}"\n` +
    `mappings:\n  - name: ${name}-web\n    protocol: tcp\n    remotePort: 0\n    local: "127.0.0.1:9"\n` +
    `reconnect:\n  initialDelay: 50ms\n  maxDelay: 300ms\n  authRetryDelay: 500ms\n`
  );
}

test('xnat reload accepts a newly added agent and kicks a removed one; agents hear relay.shutdown', async (t) => {
  t.timeout(90_000);
  const dir = mkdtempSync(join(tmpdir(), 'xnat-reload-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const relayKeys = generateKeyPair();
  const a = { name: 'alpha', keys: generateKeyPair() };
  const b = { name: 'beta', keys: generateKeyPair() };
  // A fixed admin port is needed by `xnat reload --profile`; find one by binding 0 first.
  const net = await import('node:net');
  const adminPort = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const relayPath = join(dir, 'relay.yaml');
  writeFileSync(relayPath, relayYaml(relayKeys, [a], adminPort));
  const relay = startProcess(['relay', '--profile', relayPath], { name: 'relay' });
  const control = (await relay.waitForLog({ msg: 'listening', what: 'control' }, 30_000)).port as number;

  writeFileSync(join(dir, 'alpha.yaml'), agentYaml('alpha', a.keys, relayKeys, control));
  writeFileSync(join(dir, 'beta.yaml'), agentYaml('beta', b.keys, relayKeys, control));
  const alpha = startProcess(['agent', '--profile', join(dir, 'alpha.yaml')], { name: 'alpha' });
  const beta = startProcess(['agent', '--profile', join(dir, 'beta.yaml')], { name: 'beta' });
  await alpha.waitForLog({ msg: 'mapping ready' }, 30_000);
  await beta.waitForLog({ msg: 'link failed', code: 'XNAT_ERR_AUTH_UNKNOWN_AGENT' }, 30_000);

  // Swap the agents in the profile: beta in, alpha out.
  writeFileSync(relayPath, relayYaml(relayKeys, [b], adminPort));
  const { stdout } = await run(process.execPath, ['bin/xnat.js', 'reload', '--profile', relayPath], {
    cwd: REPO_ROOT,
  });
  t.regex(stdout, /agent alpha removed/);
  t.regex(stdout, /agent beta added/);
  await beta.waitForLog({ msg: 'mapping ready' }, 30_000);
  await alpha.waitForLog({ msg: 'session detached' }, 30_000);
  await alpha.waitForLog({ msg: 'link failed', code: 'XNAT_ERR_AUTH_UNKNOWN_AGENT' }, 30_000);

  relay.kill('SIGTERM');
  await beta.waitForLog({ msg: 'relay shutting down' }, 30_000);
  t.pass();
});
