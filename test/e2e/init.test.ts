// Profiles that work at once: `xnat init` writes relay and agent profiles (admin and metrics blocks,
// mode 0600) that `xnat check FILE` accepts and that run: relay and agent start, `xnat status` answers on
// both, /metrics serves; and `xnat pubkey` / `keygen --public` derive public keys from private ones.
import ava from 'ava';
import { readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { TestEnv, WAIT_MS, freePort } from './lib/env.ts';
import { makeKeys } from './lib/profiles.ts';
import { waitFor } from '../helpers/procs.ts';

const test = ava.serial;

/**
 * The default admin and metrics ports (7001/7002, 9100/9101) may be taken on a shared test machine: moves
 * them (and only them) to free ones in the written profiles, lets the relay pick the mapping's public port,
 * and applies `edit`. Returns the moves.
 */
async function movePorts(files: readonly string[], edit: (text: string) => string = (x) => x) {
  const ports = {
    7001: await freePort(),
    7002: await freePort(),
    9100: await freePort(),
    9101: await freePort(),
  };
  for (const file of files) {
    let text = readFileSync(file, 'utf8');
    for (const [from, to] of Object.entries(ports))
      text = text.replace(`127.0.0.1:${from}"`, `127.0.0.1:${to}"`);
    writeFileSync(file, edit(text.replace('remotePort: 2222', 'remotePort: 0')));
  }
  return ports;
}

test('init -> check -> relay and agent start -> xnat status works on the written profiles', async (t) => {
  t.timeout(180_000);
  const env = new TestEnv(t);
  const dir = env.path('init');
  const control = await freePort();
  const init = await env.run(['init', dir, '--relay-address', `127.0.0.1:${control}`]);
  t.is(init.exit?.code, 0, init.stderr);
  const relayPath = join(dir, 'relay.yaml');
  const agentPath = join(dir, 'agent.yaml');
  const printed = init.otherLines.join('\n');
  for (const line of [
    `xnat check ${relayPath}`,
    `xnat relay --profile ${relayPath}`,
    `xnat status --profile ${relayPath}`,
    `xnat agent --profile ${agentPath}`,
    `xnat status --profile ${agentPath}`,
  ])
    t.true(printed.includes(line), `instructions lack "${line}":\n${printed}`);
  t.regex(printed, new RegExp(`let ${control}/tcp \\(agents\\)`));

  for (const file of [relayPath, agentPath]) {
    t.is(statSync(file).mode & 0o777, 0o600);
    const text = readFileSync(file, 'utf8');
    t.regex(text, /^admin:\n {2}listen: "127\.0\.0\.1:\d+"\n {2}token: "[A-Za-z0-9_-]{32}"$/m);
    t.regex(text, /^metrics:\n {2}listen: "127\.0\.0\.1:\d+"$/m);
    // The positional form, with no warning (mode 0600).
    const check = await env.run(['check', file]);
    t.is(check.exit?.code, 0, check.stderr);
    t.regex(check.otherLines.join('\n'), /^ok: /);
    t.is(check.stderr, '');
  }
  const tokens = [relayPath, agentPath].map((f) => /token: "([^"]+)"/.exec(readFileSync(f, 'utf8'))![1]);
  t.not(tokens[0], tokens[1]);

  const ports = await movePorts([relayPath, agentPath]);
  const relay = env.start(['relay', '--profile', relayPath], { name: 'relay' });
  await relay.waitForLog({ msg: 'listening', what: 'control' }, WAIT_MS);
  const agent = env.start(['agent', '--profile', agentPath], { name: 'agent' });
  await agent.waitForLog({ msg: 'mapping ready', mapping: 'ssh' }, WAIT_MS);

  const onRelay = await env.run(['status', '--profile', relayPath]);
  t.is(onRelay.exit?.code, 0, onRelay.stderr);
  t.regex(onRelay.otherLines.join('\n'), /session \w+ agent=home state=attached/);
  const onAgent = await env.run(['status', '--profile', agentPath]);
  t.is(onAgent.exit?.code, 0, onAgent.stderr);
  t.regex(onAgent.otherLines.join('\n'), /mapping ssh tcp remotePort=\d+ phase=ready/);
  const metrics = await fetch(`http://127.0.0.1:${ports[9100]}/metrics`);
  t.is(metrics.status, 200);
  t.regex(await metrics.text(), /^xnat_up\{role="relay"\} 1$/m);
});

test('xnat pubkey and keygen --public derive the public key from a key file, a profile or stdin', async (t) => {
  const env = new TestEnv(t);
  const keys = makeKeys();
  const keyFile = env.write('home.key', `${keys.privateKey}\n`);
  const fromFile = await env.run(['pubkey', keyFile]);
  t.is(fromFile.exit?.code, 0, fromFile.stderr);
  t.deepEqual(fromFile.otherLines, [keys.publicKey]);
  t.is(fromFile.stderr, '');

  const viaStdin = env.start(['keygen', '--public'], { name: 'keygen --public' });
  viaStdin.stdin.end(`${keys.privateKey}\n`);
  await viaStdin.exited;
  t.is(viaStdin.exit?.code, 0, viaStdin.stderr);
  t.deepEqual(viaStdin.otherLines, [keys.publicKey]);

  // A profile: its own private key's public half (what the other side's profile needs).
  const dir = env.path('p');
  await env.run(['init', dir]);
  const agentText = readFileSync(join(dir, 'agent.yaml'), 'utf8');
  const relayText = readFileSync(join(dir, 'relay.yaml'), 'utf8');
  const relayPub = /relays:\n {2}- address: "[^"]+"\n {4}publicKey: "([^"]+)"/.exec(agentText)![1];
  const agentPub = /agents:\n {2}- name: home\n {4}publicKey: "([^"]+)"/.exec(relayText)![1];
  t.deepEqual((await env.run(['pubkey', join(dir, 'relay.yaml')])).otherLines, [relayPub]);
  t.deepEqual((await env.run(['pubkey', '--json', join(dir, 'agent.yaml')])).logs, [{ publicKey: agentPub }]);

  // A key file others may read: a warning like ssh's, and still the answer.
  chmodSync(keyFile, 0o644);
  const open = await env.run(['pubkey', keyFile]);
  t.deepEqual(open.otherLines, [keys.publicKey]);
  t.regex(
    open.stderr,
    /^warning: .*home\.key holds a private key, and other users may read it \(mode 0644\): run chmod 600 /,
  );

  // Not a key: exit 3 with KEY_TEXT, and the text is never echoed.
  const bad = env.start(['pubkey'], { name: 'pubkey bad' });
  bad.stdin.end('not-a-key-but-maybe-a-secret\n');
  await waitFor(() => bad.exit !== undefined, WAIT_MS, 'pubkey to exit');
  t.is(bad.exit?.code, 3);
  t.regex(bad.stderr, /^error XNAT_ERR_CONFIG_KEY_TEXT: /);
  t.false(bad.stderr.includes('maybe-a-secret'));
});

test('init --reverse writes a reverse-mode pair: the relay dials the agent, which listens; both run', async (t) => {
  t.timeout(120_000);
  const env = new TestEnv(t);
  const dir = env.path('init-reverse');
  const control = await freePort();
  const agentPort = await freePort();
  const init = await env.run([
    'init',
    dir,
    '--relay-address',
    `127.0.0.1:${control}`,
    '--reverse',
    `127.0.0.1:${agentPort}`,
  ]);
  t.is(init.exit?.code, 0, init.stderr);
  const printed = init.otherLines.join('\n');
  t.regex(printed, new RegExp(`let ${agentPort}/tcp in from the relay`));
  t.notRegex(printed, /\(agents\)/);
  const relayPath = join(dir, 'relay.yaml');
  const agentPath = join(dir, 'agent.yaml');
  t.regex(readFileSync(relayPath, 'utf8'), new RegExp(`^ {4}dial: "127\\.0\\.0\\.1:${agentPort}"$`, 'm'));
  t.regex(
    readFileSync(agentPath, 'utf8'),
    new RegExp(`^ {4}mode: reverse\\n {4}listen: "0\\.0\\.0\\.0:${agentPort}"$`, 'm'),
  );
  await movePorts([relayPath, agentPath], (text) =>
    text.replace(`0.0.0.0:${agentPort}`, `127.0.0.1:${agentPort}`),
  );
  for (const file of [relayPath, agentPath]) {
    const check = await env.run(['check', file]);
    t.is(check.exit?.code, 0, check.stderr);
  }
  env.start(['agent', '--profile', agentPath], { name: 'agent' });
  const relay = env.start(['relay', '--profile', relayPath], { name: 'relay' });
  await relay.waitForLog({ msg: 'listening', what: 'control' }, WAIT_MS);
  await waitFor(
    async () =>
      /dialed-by=relay/.test((await env.run(['status', '--profile', relayPath])).otherLines.join('\n')),
    WAIT_MS,
    'the relay to dial the agent',
  );
  const bad = await env.run(['init', env.path('bad'), '--reverse', 'no-port']);
  t.is(bad.exit?.code, 2, bad.stderr);
  t.regex(bad.stderr, /--reverse must be host:port/);
});
