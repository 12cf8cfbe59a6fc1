// End to end, the common path: real relay and agent processes, a visitor through a mapping to a LAN
// service (curl against node http), and a 1 GiB transfer (with 256 MiB back) whose SHA-256 must match.
import ava from 'ava';
import { isDeepStrictEqual } from 'node:util';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { TestEnv, programsAvailable, requirePrograms } from './lib/env.ts';
import { notableLogs, startPair } from './lib/cluster.ts';
import {
  connectVisitor,
  hashIncoming,
  startHashServer,
  startHttpServer,
  writeSeeded,
} from './lib/targets.ts';

// Serial: each test starts several node processes; running them all at once on 2 cores only makes every
// wait slower and flakier.
const test = ava.serial;

const execFileAsync = promisify(execFile);
/** Bytes sent visitor -> LAN by the big transfer test. */
const BIG_TRANSFER_BYTES = 1024 * 1024 * 1024;
/**
 * Bytes sent LAN -> visitor at the same time: smaller, since a second full GiB doubles the run time
 * (about 40 s instead of 20 s here) for little more coverage.
 */
const BIG_REPLY_BYTES = 256 * 1024 * 1024;
/** Deadline of the big transfer; it takes seconds, but a loaded CI machine may be slow. */
const BIG_TRANSFER_TIMEOUT_MS = 300_000;

const withCurl = programsAvailable('curl') ? test : test.skip;

withCurl('curl reaches a node http server through a mapping', async (t) => {
  requirePrograms('curl');
  const env = new TestEnv(t);
  const body = `hello from the LAN ${Math.random()}\n`;
  const httpPort = await startHttpServer(env, body);
  const { ports } = await startPair(env, { mappings: [{ name: 'web', localPort: httpPort }] });
  const { stdout } = await execFileAsync('curl', [
    '-sS',
    '--max-time',
    '30',
    `http://127.0.0.1:${ports.web}/x`,
  ]);
  t.is(stdout, body);
  // A second request, on a new visitor connection, works as well.
  const again = await execFileAsync('curl', ['-sS', '--max-time', '30', `http://127.0.0.1:${ports.web}/y`]);
  t.is(again.stdout, body);
});

test('1 GiB visitor -> LAN (and 256 MiB back) through one visitor connection, SHA-256 intact', async (t) => {
  t.timeout(BIG_TRANSFER_TIMEOUT_MS);
  const env = new TestEnv(t);
  const lan = await startHashServer(env, { replySeed: 'lan-to-visitor', replyBytes: BIG_REPLY_BYTES });
  const pair = await startPair(env, { mappings: [{ name: 'bulk', localPort: lan.port }] });
  const { ports } = pair;
  const started = performance.now();
  const visitor = await connectVisitor(env, ports.bulk!);
  const visitorGot = hashIncoming(visitor);
  const sent = await writeSeeded(visitor, 'visitor-to-lan', BIG_TRANSFER_BYTES);
  const side = await lan.connection();
  const [lanGot, lanSent, back] = await Promise.all([side.received, side.sent, visitorGot]);
  const seconds = (performance.now() - started) / 1000;
  t.log(
    `1 GiB up + 256 MiB down in ${seconds.toFixed(1)} s (${(1024 / seconds).toFixed(0)} MiB/s visitor -> LAN)`,
  );
  const actual = { lan: lanGot, visitor: back };
  const expected = {
    lan: { bytes: BIG_TRANSFER_BYTES, sha256: sent, ending: 'end' },
    visitor: { bytes: BIG_REPLY_BYTES, sha256: lanSent, ending: 'end' },
  };
  // Logs first: a failed assertion ends the test.
  if (!isDeepStrictEqual(actual, expected)) t.log(notableLogs(pair.relay.proc, pair.agent.proc));
  t.deepEqual(actual, expected);
});
