// End to end: `xnat diag` against real relay and agent processes. On the relay, --agent NAME fetches the
// agent's bundle over its session (diag.fetch, then a diag.bundle stream transfer relayed to the CLI as
// admin.diagBundle); without it, the process's own bundle. No private key, psk or admin token in any.
import test from 'ava';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/procs.ts';
import { AdminClient } from '../../src/admin/admin-client.ts';
import { TestEnv, WAIT_MS, freePort } from './lib/env.ts';
import { notableLogs, startPair, type Pair } from './lib/cluster.ts';
import { makePsk } from './lib/profiles.ts';
import { Tmux, haveTmux } from './lib/tmux.ts';
import { startHttpServer } from './lib/targets.ts';

const run = promisify(execFile);

interface Bundle {
  xnatDiag: number;
  role: string;
  name?: string;
  versions: Record<string, unknown>;
  linkHistory: unknown[];
  status: { role: string };
  profile: Record<string, Record<string, unknown>>;
  logs: string[];
  truncated?: { logLinesDropped: number };
}

/** Every text a secret of the pair could be printed as: base64 as in the profiles, hex, base64url. */
function secretTexts(pair: Pair, psk: string, tokens: readonly string[]): string[] {
  const forms = (b64: string) => {
    const b = Buffer.from(b64, 'base64');
    return [b64, b.toString('hex'), b.toString('base64url')];
  };
  return [...forms(pair.agentKeys.privateKey), ...forms(pair.relayKeys.privateKey), ...forms(psk), ...tokens];
}

function assertNoSecret(
  t: { false: (v: boolean, m: string) => void },
  text: string,
  secrets: string[],
): void {
  for (const s of secrets) t.false(text.includes(s), `a secret (${s.slice(0, 4)}...) is in the bundle`);
}

async function diagPair(env: TestEnv, proxy = false) {
  const httpPort = await startHttpServer(env, 'up\n');
  const psk = makePsk();
  const relayToken = randomBytes(16).toString('hex');
  const agentToken = randomBytes(16).toString('hex');
  const relayAdmin = { port: await freePort(), token: relayToken };
  const pair = await startPair(env, {
    mappings: [{ name: 'web', localPort: httpPort }],
    proxy,
    relay: { admin: relayAdmin },
    agent: { psk, admin: { port: await freePort(), token: agentToken } },
  });
  await run('curl', ['-sS', '--max-time', '20', `http://127.0.0.1:${pair.ports.web}/`]);
  return { pair, relayAdmin, secrets: secretTexts(pair, psk, [relayToken, agentToken]) };
}

/** Starts `xnat diag --agent home -o file` on the relay; resolves once the transfer has begun (or diag ended). */
async function diagReceiving(env: TestEnv, pair: Pair, file: string) {
  const diag = env.start(['diag', '--profile', pair.relay.profilePath, '--agent', 'home', '-o', file], {
    name: 'diag',
  });
  diag.stdin.end();
  const deadline = Date.now() + WAIT_MS;
  while (!/diag: receiving/.test(diag.stderr) && diag.exit === undefined && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  return diag;
}

test('xnat diag --agent fetches the agent bundle through the relay; own bundles of relay and agent; no secret in any', async (t) => {
  const env = new TestEnv(t);
  const { pair, secrets } = await diagPair(env);

  const file = env.path('agent-bundle.json');
  const got = await env.run(['diag', '--profile', pair.relay.profilePath, '--agent', 'home', '-o', file]);
  t.is(got.exit?.code, 0, `${got.stderr}\n${notableLogs(pair.relay.proc, pair.agent.proc)}`);
  // Not a terminal: plain lines instead of a bar.
  t.regex(got.stderr, /diag: receiving .* from agent home/);
  t.regex(got.stderr, /diag: wrote .*agent-bundle\.json/);
  t.false(existsSync(`${file}.part`));
  const text = readFileSync(file, 'utf8');
  const b = JSON.parse(text) as Bundle;
  t.is(b.xnatDiag, 1);
  t.is(b.role, 'agent');
  t.is(b.name, 'home');
  t.is(b.status.role, 'agent');
  t.truthy(b.versions.xnat);
  t.true(b.linkHistory.length >= 1);
  t.is(b.profile.agent?.privateKey, '[redacted]');
  t.true(
    b.logs.some((l) => l.includes('session established')),
    b.logs.join('\n'),
  );
  assertNoSecret(t, text, secrets);

  // The agent's own bundle from its admin endpoint, to stdout.
  const own = await run(
    process.execPath,
    ['bin/xnat.js', 'diag', '--profile', pair.agent.profilePath, '-o', '-'],
    {
      cwd: REPO_ROOT,
      maxBuffer: 8 * 1024 * 1024,
    },
  );
  const ob = JSON.parse(own.stdout) as Bundle;
  t.is(ob.role, 'agent');
  assertNoSecret(t, own.stdout, secrets);

  // The relay's own bundle, at the default timestamped name in the working directory.
  const rel = await env.run(['diag', '--profile', pair.relay.profilePath], { cwd: env.dir });
  t.is(rel.exit?.code, 0, rel.stderr);
  const name = readdirSync(env.dir).find((f) => /^xnat-diag-local-\d{8}T\d{6}Z\.json$/.test(f));
  t.truthy(name, readdirSync(env.dir).join(' '));
  const rtext = readFileSync(env.path(name!), 'utf8');
  const rb = JSON.parse(rtext) as Bundle;
  t.is(rb.role, 'relay');
  t.is(rb.profile.relay?.privateKey, '[redacted]');
  assertNoSecret(t, rtext, secrets);

  // A small cap: the bundle drops log lines to fit, and stays valid JSON.
  const small = env.path('small.json');
  const capped = await env.run([
    'diag',
    '--profile',
    pair.relay.profilePath,
    '--agent',
    'home',
    '-o',
    small,
    '--max-bytes',
    '16KiB',
  ]);
  t.is(capped.exit?.code, 0, capped.stderr);
  const stext = readFileSync(small);
  t.true(stext.length <= 16 * 1024);
  t.is((JSON.parse(stext.toString()) as Bundle).role, 'agent');

  // Typed errors: an agent the relay does not know, and one without a session.
  const unknown = await env.run([
    'diag',
    '--profile',
    pair.relay.profilePath,
    '--agent',
    'nobody',
    '-o',
    env.path('x.json'),
  ]);
  t.is(unknown.exit?.code, 2);
  t.regex(unknown.stderr, /XNAT_ERR_DIAG_UNKNOWN_AGENT/);
  // Killed, not stopped: its session stays on the relay, detached, within the resume window.
  await pair.agent.proc.stop('SIGKILL');
  await pair.relay.proc.waitForLog({ msg: 'session detached' }, WAIT_MS);
  const gone = await env.run([
    'diag',
    '--profile',
    pair.relay.profilePath,
    '--agent',
    'home',
    '-o',
    env.path('y.json'),
  ]);
  t.not(gone.exit?.code, 0);
  t.regex(gone.stderr, /XNAT_ERR_DIAG_AGENT_DETACHED/);
  t.false(existsSync(env.path('y.json')));
});

test('xnat diag --agent completes across a link reset during the transfer (the session carries it)', async (t) => {
  const env = new TestEnv(t);
  const { pair, secrets } = await diagPair(env, true);
  const proxy = pair.proxy!;
  // Slow enough that the bundle is still on the wire when the link is cut (if it is not, the test
  // still holds: the bundle must arrive whole either way).
  proxy.throttle(4 * 1024);
  const file = env.path('bundle.json');
  const diag = await diagReceiving(env, pair, file);
  t.log(existsSync(file) ? 'link cut after the bundle was written' : 'link cut during the transfer');
  proxy.reset();
  proxy.heal();
  await pair.agent.proc.waitForLog({ msg: 'session resumed' }, WAIT_MS);
  await diag.exited;
  t.is(diag.exit?.code, 0, `${diag.stderr}\n${notableLogs(pair.relay.proc, pair.agent.proc)}`);
  const text = readFileSync(file, 'utf8');
  t.is((JSON.parse(text) as Bundle).role, 'agent');
  assertNoSecret(t, text, secrets);
});

test('on a terminal xnat diag draws a progress bar', async (t) => {
  if (!(await haveTmux())) return t.fail('tmux is missing (.ci/run installs it)');
  const env = new TestEnv(t);
  const { pair } = await diagPair(env);
  const file = env.path('tty.json');
  const pane = await new Tmux(env).start(
    'diag',
    ['diag', '--profile', pair.relay.profilePath, '--agent', 'home', '-o', file],
    { columns: 100, rows: 10 },
  );
  const screen = await pane.until((s) => s.includes('[exited'), 'diag ends');
  t.regex(screen, /diag \[#{24}\] 100% {2}\d+(\.\d)? KiB \/ \d+(\.\d)? KiB/);
  t.regex(screen, /diag: wrote .*tty\.json/);
  t.regex(screen, /\[exited 0\]/);
  t.is((JSON.parse(readFileSync(file, 'utf8')) as Bundle).role, 'agent');
});

test('a session that ends during the transfer fails the diag with a code and leaves no file', async (t) => {
  const env = new TestEnv(t);
  const { pair, relayAdmin } = await diagPair(env, true);
  // Slow: the bundle (several KiB) takes many seconds, so the kick below falls inside the transfer.
  pair.proxy!.throttle(512);
  const file = env.path('cut.json');
  const diag = await diagReceiving(env, pair, file);
  // A kick closes the session on the relay: the transfer in ends at once, and so does the diag.
  const admin = await AdminClient.connect('127.0.0.1', relayAdmin.port, relayAdmin.token);
  t.true(await admin.kick('home'));
  admin.close();
  await diag.exited;
  t.log(diag.stderr.trim().split('\n').at(-2));
  t.not(diag.exit?.code, 0);
  t.regex(diag.stderr, /error XNAT_ERR_DIAG_AGENT_DETACHED:/);
  t.false(existsSync(file));
  t.false(existsSync(`${file}.part`));
});
