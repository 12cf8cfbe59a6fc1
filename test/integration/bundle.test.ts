// The single-file build: `node scripts/build.mjs --bundle` writes xnat.mjs into an empty folder (no
// node_modules above it), which then runs as relay and as agent, and curl reaches a LAN service through it.
import ava from 'ava';
import { readdirSync } from 'node:fs';
import { REPO_ROOT, type StartOptions } from '../helpers/procs.ts';
import { TestEnv, programsAvailable, requirePrograms } from '../e2e/lib/env.ts';
import { mappingReady, startAgent, startRelay } from '../e2e/lib/cluster.ts';
import { makeKeys } from '../e2e/lib/profiles.ts';
import { startHttpServer } from '../e2e/lib/targets.ts';
import { execFileAsync } from '../e2e/lib/programs.ts';

const test = programsAvailable('curl') ? ava.serial : ava.skip;

/**
 * Runs relay and agent as `run` says (the bundle, or the single executable), maps a LAN HTTP server that
 * answers `body`, and returns what curl gets through the mapping.
 */
async function curlThrough(env: TestEnv, run: StartOptions, body: string): Promise<string> {
  const httpPort = await startHttpServer(env, body);
  const relayKeys = makeKeys();
  const agentKeys = makeKeys();
  const relay = await startRelay(
    env,
    { keys: relayKeys, agents: [{ name: 'pi', publicKey: agentKeys.publicKey }] },
    'relay.yaml',
    run,
  );
  const agent = startAgent(
    env,
    {
      name: 'pi',
      keys: agentKeys,
      relayPort: relay.port,
      relayPublicKey: relayKeys.publicKey,
      mappings: [{ name: 'web', localPort: httpPort }],
    },
    'agent.yaml',
    run,
  );
  const port = await mappingReady(agent.proc, 'web');
  const { stdout } = await execFileAsync('curl', ['-sS', '--max-time', '10', `http://127.0.0.1:${port}/`]);
  return stdout;
}

test('dist/xnat.mjs alone in a folder runs as relay and agent; curl reaches the LAN service', async (t) => {
  requirePrograms('curl');
  t.timeout(120_000);
  const env = new TestEnv(t);
  const bundle = env.path('xnat.mjs');
  await execFileAsync(process.execPath, ['scripts/build.mjs', '--bundle', bundle, '--quiet'], {
    cwd: REPO_ROOT,
  });
  t.deepEqual(readdirSync(env.dir).sort(), ['THIRD-PARTY-NOTICES.md', 'xnat.mjs']);

  const { stdout: version } = await execFileAsync(process.execPath, [bundle, '--version'], { cwd: env.dir });
  t.regex(version, /^\d+\.\d+\.\d+\n$/);

  const run = { script: bundle, cwd: env.dir };
  t.is(await curlThrough(env, run, 'served through the bundle\n'), 'served through the bundle\n');
});

test('npm run sea: the single executable runs as relay and agent; curl reaches the LAN service', async (t) => {
  requirePrograms('curl');
  t.timeout(180_000);
  const env = new TestEnv(t);
  const exe = env.path('xnat');
  await execFileAsync(process.execPath, ['scripts/sea.mjs', exe], { cwd: REPO_ROOT, maxBuffer: 16 << 20 });
  const runEnv = { XNAT_SEA_CACHE: env.path('cache') };
  const { stdout: version } = await execFileAsync(exe, ['--version'], { env: { ...process.env, ...runEnv } });
  t.regex(version, /^\d+\.\d+\.\d+\n$/);
  const run = { program: exe, cwd: env.dir, env: runEnv };
  t.is(await curlThrough(env, run, 'served by the single executable\n'), 'served by the single executable\n');
});
