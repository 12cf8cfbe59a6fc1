// docker/Dockerfile for real: a private dockerd, a node base image made from this machine's node, the
// xnat image built on it (BUNDLE_FROM=context), relay and agent containers on the host network (127.0.0.1
// only; the relay's key from a file, the agent's from XNAT_PRIVATE_KEY), curl through a mapping, and the
// HEALTHCHECK (`xnat status`) reporting healthy. Skips, saying why, only where dockerd cannot run.
import ava from 'ava';
import { randomBytes } from 'node:crypto';
import {
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { parseAgentProfile, parseRelayProfile } from '../../src/config/index.ts';
import { join } from 'node:path';
import { REPO_ROOT, waitFor } from '../helpers/procs.ts';
import { TestEnv, freePort } from '../e2e/lib/env.ts';
import { execFileAsync } from '../e2e/lib/programs.ts';
import { allowAllExcept, makeKeys } from '../e2e/lib/profiles.ts';
import { startHttpServer } from '../e2e/lib/targets.ts';
import { buildNodeBase, dockerUnavailable, startDockerd, type Dockerd } from '../e2e/lib/dockerd.ts';

const missing = dockerUnavailable();
if (missing && !process.env.CI) console.warn(`docker test skipped: ${missing}; CI would fail it`);
const test = missing && !process.env.CI ? ava.skip : ava.serial;

/** The uid:gid the image runs as (USER in docker/Dockerfile): mounted profiles must be readable by it. */
const IMAGE_UID = 1000;

/** Writes a file the container user can read (owned by it, mode 600, as a key file should be). */
function writeForContainer(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  if (process.getuid?.() === 0) chownSync(path, IMAGE_UID, IMAGE_UID);
}

/** Waits for `check` with a deadline; a timeout quotes the container's last output. */
async function waitForContainer(d: Dockerd, name: string, check: () => Promise<boolean>, what: string) {
  try {
    await waitFor(
      async () => {
        if (await check()) return true;
        const running = await d.docker(['inspect', '--format', '{{.State.Running}}', name]);
        if (running.trim() !== 'true') throw new Error(`${name} exited`);
        return false;
      },
      60_000,
      what,
    );
  } catch (err) {
    const out = await d
      .docker(['logs', '--tail', '20', name], { stderr: true })
      .catch((e: Error) => e.message);
    const state = await d.docker(['inspect', '--format', '{{json .State}}', name]).catch(() => '');
    throw new Error(`${(err as Error).message}\n${name} output:\n${out}\nstate: ${state}`);
  }
}

/** The JSON log lines a container printed so far. */
async function containerLogs(d: Dockerd, name: string): Promise<Array<Record<string, unknown>>> {
  const out = await d.docker(['logs', name]);
  return out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('the image runs relay and agent on the host network, curl reaches a mapping, healthcheck is healthy', async (t) => {
  t.timeout(300_000);
  if (missing) throw new Error(`docker test cannot run: ${missing}`);
  const env = new TestEnv(t);
  let d: Dockerd;
  try {
    d = await startDockerd();
  } catch (err) {
    console.warn(`docker test skipped: ${(err as Error).message.split('\n').slice(0, 6).join('\n')}`);
    t.log('skipped: dockerd cannot start here (see the warning above)');
    t.pass();
    return;
  }
  env.onDispose(() => d.stop());
  const id = randomBytes(4).toString('hex');

  await buildNodeBase(d, 'xnat-test-node', env.dir);
  const ctx = env.path('context');
  mkdirSync(join(ctx, 'docker'), { recursive: true });
  copyFileSync(join(REPO_ROOT, 'docker', 'Dockerfile'), join(ctx, 'docker', 'Dockerfile'));
  copyFileSync(join(REPO_ROOT, 'LICENSE'), join(ctx, 'LICENSE'));
  copyFileSync(join(REPO_ROOT, '.dockerignore'), join(ctx, '.dockerignore'));
  await execFileAsync(
    process.execPath,
    ['scripts/build.mjs', '--bundle', join(ctx, 'dist', 'xnat.mjs'), '--quiet'],
    {
      cwd: REPO_ROOT,
    },
  );
  await d.docker([
    'build',
    '--file',
    join(ctx, 'docker', 'Dockerfile'),
    '--build-arg',
    'BASE_IMAGE=xnat-test-node',
    '--build-arg',
    'BUNDLE_FROM=context',
    '--tag',
    'xnat:test',
    ctx,
  ]);
  const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    version: string;
  };
  t.is((await d.docker(['run', '--rm', 'xnat:test', '--version'])).trim(), version);

  const relayKeys = makeKeys();
  const agentKeys = makeKeys();
  const [relayAdmin, agentAdmin] = [await freePort(), await freePort()];
  const token = randomBytes(18).toString('base64url');
  const relayDir = env.path('relay');
  const agentDir = env.path('agent');
  mkdirSync(relayDir);
  mkdirSync(agentDir);
  writeForContainer(join(relayDir, 'relay.key'), `${relayKeys.privateKey}\n`);
  writeForContainer(
    join(relayDir, 'profile.yaml'),
    `relay:
  listen: "127.0.0.1:0"
  privateKeyFile: /etc/xnat/relay.key
  publicHost: "127.0.0.1"
agents:
  - name: box
    publicKey: "${agentKeys.publicKey}"
    allow: ${JSON.stringify(allowAllExcept(relayAdmin, agentAdmin))}
admin:
  listen: "127.0.0.1:${relayAdmin}"
  token: "${token}"
`,
  );
  const health = ['--health-interval', '1s', '--health-timeout', '5s', '--health-retries', '5'];
  const relayName = `xnat-relay-${id}`;
  const agentName = `xnat-agent-${id}`;
  env.onDispose(() => d.docker(['rm', '--force', relayName, agentName]).catch(() => ''));
  await d.docker([
    'run',
    '--detach',
    '--name',
    relayName,
    '--network',
    'host',
    ...health,
    '--volume',
    `${relayDir}:/etc/xnat:ro`,
    'xnat:test',
  ]);

  let relayPort = 0;
  await waitForContainer(
    d,
    relayName,
    async () => {
      const line = (await containerLogs(d, relayName)).find(
        (l) => l.msg === 'listening' && l.what === 'control',
      );
      relayPort = (line?.port as number | undefined) ?? 0;
      return relayPort !== 0;
    },
    'the relay container to listen',
  );

  const httpPort = await startHttpServer(env, 'served through the container\n');
  writeForContainer(
    join(agentDir, 'profile.yaml'),
    `agent:
  name: box
relays:
  - address: "127.0.0.1:${relayPort}"
    publicKey: "${relayKeys.publicKey}"
mappings:
  - name: web
    protocol: tcp
    remotePort: 0
    local: "127.0.0.1:${httpPort}"
admin:
  listen: "127.0.0.1:${agentAdmin}"
  token: "${token}"
`,
  );
  await d.docker([
    'run',
    '--detach',
    '--name',
    agentName,
    '--network',
    'host',
    ...health,
    '--env',
    `XNAT_PRIVATE_KEY=${agentKeys.privateKey}`,
    '--volume',
    `${agentDir}:/etc/xnat:ro`,
    'xnat:test',
    'agent',
    '--profile',
    '/etc/xnat/profile.yaml',
  ]);

  let remotePort = 0;
  await waitForContainer(
    d,
    agentName,
    async () => {
      const line = (await containerLogs(d, agentName)).find((l) => l.msg === 'mapping ready');
      remotePort = (line?.remotePort as number | undefined) ?? 0;
      return remotePort !== 0;
    },
    'the agent container to get its mapping ready',
  );
  const { stdout } = await execFileAsync('curl', [
    '-sS',
    '--max-time',
    '10',
    `http://127.0.0.1:${remotePort}/`,
  ]);
  t.is(stdout, 'served through the container\n');

  for (const name of [relayName, agentName]) {
    await waitForContainer(
      d,
      name,
      async () =>
        (await d.docker(['inspect', '--format', '{{.State.Health.Status}}', name])).trim() === 'healthy',
      `${name} to be healthy`,
    );
  }
  const user = (await d.docker(['inspect', '--format', '{{.Config.User}}', relayName])).trim();
  t.is(user, `${IMAGE_UID}:${IMAGE_UID}`, 'the image runs unprivileged');
  const logs =
    JSON.stringify(await containerLogs(d, relayName)) + JSON.stringify(await containerLogs(d, agentName));
  t.false(logs.includes(agentKeys.privateKey) || logs.includes(relayKeys.privateKey) || logs.includes(token));
});

/** Compose's `${NAME}` / `${NAME:-default}` / `${NAME:?message}` interpolation, for the values given. */
function interpolate(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{([A-Z_]+)(?::[-?][^}]*)?\}/g, (_m, name: string) => vars[name] ?? '');
}

ava(
  'docker/compose.yaml: relay, agent and demo service over tcp and udp, with profiles xnat accepts',
  (t) => {
    const keys = { relay: makeKeys(), agent: makeKeys() };
    const vars = {
      RELAY_PUBLIC_KEY: keys.relay.publicKey,
      AGENT_PUBLIC_KEY: keys.agent.publicKey,
      AGENT_PRIVATE_KEY: keys.agent.privateKey,
      RELAY_ADMIN_TOKEN: randomBytes(18).toString('base64url'),
      AGENT_ADMIN_TOKEN: randomBytes(18).toString('base64url'),
    };
    const compose = parseYaml(
      interpolate(readFileSync(join(REPO_ROOT, 'docker', 'compose.yaml'), 'utf8'), vars),
    ) as {
      services: Record<
        string,
        { ports?: string[]; environment?: Record<string, string>; secrets?: string[] }
      >;
      configs: Record<string, { content: string }>;
    };
    t.deepEqual(Object.keys(compose.services).sort(), ['agent', 'demo', 'relay']);
    const ports = compose.services.relay!.ports!.join(' ');
    t.regex(ports, /\/tcp/);
    t.regex(ports, /\/udp/);
    t.deepEqual(compose.services.relay!.secrets, ['relay_key']);

    const dir = mkdtempSync(join(tmpdir(), 'xnat-compose-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const keyFile = join(dir, 'relay_key');
    writeFileSync(keyFile, `${keys.relay.privateKey}\n`, { mode: 0o600 });
    const relayText = compose.configs['relay-profile']!.content.replace('/run/secrets/relay_key', keyFile);
    const relay = parseRelayProfile(relayText, 'compose relay-profile', {
      XNAT_ADMIN_TOKEN: compose.services.relay!.environment!.XNAT_ADMIN_TOKEN,
    });
    const agent = parseAgentProfile(compose.configs['agent-profile']!.content, 'compose agent-profile', {
      ...compose.services.agent!.environment,
    });
    t.is(relay.agents[0]!.publicKey.toString('base64'), keys.agent.publicKey);
    t.deepEqual(
      agent.mappings.map((m) => `${m.remotePort}/${m.protocol}`),
      ['8080/tcp', '9999/udp'],
    );
    t.true(existsSync(join(REPO_ROOT, 'docker', 'demo-service.mjs')));
  },
);

ava(
  'docker/Dockerfile: the compile stage copies files that exist and that .dockerignore lets through',
  (t) => {
    // The test above builds with BUNDLE_FROM=context (no registry here); this keeps the default stage honest.
    const dockerfile = readFileSync(join(REPO_ROOT, 'docker', 'Dockerfile'), 'utf8');
    const build = dockerfile.slice(dockerfile.indexOf(' AS build'), dockerfile.indexOf(' AS context'));
    const sources = [...build.matchAll(/^COPY (.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    t.true(sources.length >= 4, build);
    const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#') && !l.startsWith('!'));
    for (const s of sources) {
      t.true(existsSync(join(REPO_ROOT, s)), `${s} is missing`);
      t.false(ignored.includes(s), `${s} is in .dockerignore`);
    }
    t.regex(build, /RUN node scripts\/build\.mjs --bundle \/out\/xnat\.mjs/);
    t.true(existsSync(join(REPO_ROOT, 'scripts', 'build.mjs')));
  },
);
