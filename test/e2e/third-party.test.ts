// End to end with real third-party clients and servers as visitor and LAN target: OpenSSH (ssh through a
// mapping to a throwaway sshd) and redis (redis-benchmark and redis-cli through a mapping).
import ava from 'ava';
import { programsAvailable, requirePrograms } from './lib/env.ts';
import { TestEnv } from './lib/env.ts';
import { startPair } from './lib/cluster.ts';
import { SSHD, execFileAsync, parseBenchmark, sshRun, startRedis, startSshd } from './lib/programs.ts';

// Serial: each test starts several node processes; running them all at once on 2 cores only makes every
// wait slower and flakier.
const test = ava.serial;

const SSH_PROGRAMS = [SSHD, 'ssh', 'ssh-keygen'];
const REDIS_PROGRAMS = ['redis-server', 'redis-cli', 'redis-benchmark'];
/** Requests per redis-benchmark test (set, get). */
const REDIS_REQUESTS = 20_000;

(programsAvailable(...SSH_PROGRAMS) ? test : test.skip)(
  'ssh through a mapping runs a command on a LAN sshd',
  async (t) => {
    requirePrograms(...SSH_PROGRAMS);
    const env = new TestEnv(t);
    const sshd = await startSshd(env);
    const { ports } = await startPair(env, { mappings: [{ name: 'ssh', localPort: sshd.port }] });
    const out = await sshRun(sshd, ports.ssh!, 'echo hello-through-xnat');
    t.is(out.trim(), 'hello-through-xnat');
  },
);

(programsAvailable(...REDIS_PROGRAMS) ? test : test.skip)(
  'redis-benchmark and redis-cli through a mapping',
  async (t) => {
    requirePrograms(...REDIS_PROGRAMS);
    const env = new TestEnv(t);
    const redisPort = await startRedis(env);
    const { ports } = await startPair(env, { mappings: [{ name: 'redis', localPort: redisPort }] });
    const port = String(ports.redis);
    const cli = (...args: string[]) => execFileAsync('redis-cli', ['-h', '127.0.0.1', '-p', port, ...args]);
    t.is((await cli('set', 'xnat-key', 'through-the-tunnel')).stdout.trim(), 'OK');
    t.is((await cli('get', 'xnat-key')).stdout.trim(), 'through-the-tunnel');
    const bench = await execFileAsync(
      'redis-benchmark',
      ['-h', '127.0.0.1', '-p', port, '-n', String(REDIS_REQUESTS), '-q', '-t', 'set,get'],
      { timeout: 120_000 },
    );
    const rps = parseBenchmark(bench.stdout);
    t.log(`redis-benchmark through xnat: SET ${rps.SET} req/s, GET ${rps.GET} req/s`);
    t.true((rps.SET ?? 0) > 0, bench.stdout);
    t.true((rps.GET ?? 0) > 0, bench.stdout);
  },
);
