// iperf3 -u at a fixed rate through the relay, real processes: the server behind the agent, the client on
// the relay's public port. iperf3 runs its control connection over TCP on the same port number as its UDP
// test, so the agent maps one public port twice (a tcp and a udp mapping) to one LAN port. The run must
// complete and report its loss; the figure itself is not judged (best effort, a loaded machine).
import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { TestEnv, programsAvailable, requirePrograms } from '../e2e/lib/env.ts';
import { makeKeys } from '../e2e/lib/profiles.ts';
import { killAll } from '../helpers/procs.ts';
import { admin, freeBothPort, relayStatus, spawnDaemon, startAgent, startRelay } from './udp-stack.ts';

const execFileAsync = promisify(execFile);
const run = programsAvailable('iperf3') ? test : test.skip;

test.after.always(() => killAll());

interface IperfUdpResult {
  readonly end?: {
    readonly sum?: {
      readonly packets?: number;
      readonly lost_packets?: number;
      readonly lost_percent?: number;
      readonly bytes?: number;
    };
  };
  readonly error?: string;
}

run(
  'iperf3 -u at 20 Mbit/s runs through a tcp+udp pair of mappings on one port and reports its loss',
  async (t) => {
    t.timeout(120_000);
    requirePrograms('iperf3');
    const env = new TestEnv(t);
    const lanPort = await freeBothPort();
    const server = spawnDaemon(env, 'iperf3', [
      '-s',
      '-1',
      '--forceflush',
      '-B',
      '127.0.0.1',
      '-p',
      String(lanPort),
    ]);
    await server.waitFor('Server listening');

    const relayKeys = makeKeys();
    const agentKeys = makeKeys();
    const relay = await startRelay(env, relayKeys, [{ name: 'bench', keys: agentKeys }]);
    const publicPort = await freeBothPort();
    const agent = await startAgent(env, {
      name: 'bench',
      keys: agentKeys,
      relayPort: relay.controlPort,
      relayKeys,
      mappings: [
        { name: 'iperf-ctl', protocol: 'tcp', remotePort: publicPort, localPort: lanPort },
        { name: 'iperf-data', protocol: 'udp', remotePort: publicPort, localPort: lanPort },
      ],
    });
    t.is(agent.ports['iperf-ctl'], publicPort);
    t.is(agent.ports['iperf-data'], publicPort, 'a tcp and a udp mapping share the port number');

    const { stdout } = await execFileAsync(
      'iperf3',
      ['-c', '127.0.0.1', '-p', String(publicPort), '-u', '-b', '20M', '-t', '3', '-l', '1200', '--json'],
      { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
    ).catch((err: { stdout?: string; message: string }) => ({ stdout: err.stdout ?? err.message }));
    let result: IperfUdpResult;
    try {
      result = JSON.parse(stdout) as IperfUdpResult;
    } catch {
      return t.fail(`iperf3 printed no JSON:\n${stdout.slice(0, 2000)}\n${server.output().slice(-2000)}`);
    }
    t.is(result.error, undefined, `iperf3 error: ${result.error}`);
    const sum = result.end?.sum;
    t.truthy(sum, 'iperf3 reports a UDP summary');
    t.true((sum?.packets ?? 0) > 1000, `packets ${sum?.packets}`);
    t.is(typeof sum?.lost_percent, 'number');
    t.true(sum!.lost_percent! >= 0 && sum!.lost_percent! <= 100);
    t.log(`iperf3 -u 20M through xnat: ${sum?.packets} packets, ${sum?.lost_percent?.toFixed(2)} % lost`);

    const st = await relayStatus(await admin(env, relay));
    const data = st.mappings.find((m) => m.name === 'iperf-data')!;
    t.true((data.totalFlows ?? 0) >= 1, 'the udp test ran as a flow of the udp mapping');
  },
);
