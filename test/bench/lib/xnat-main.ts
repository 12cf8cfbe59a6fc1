// Stand-in for `xnat relay|agent --profile P` while the CLI lacks those commands: builds the same Relay or
// Agent from src/ with a JSON pino root. Only used by the benchmarks when `xnat --help` lists no `relay`.
// Usage: node --import=tsx test/bench/lib/xnat-main.ts relay|agent <profile.yaml>
import { loadAgentProfile, loadRelayProfile } from '../../../src/config/index.ts';
import { createRootLogger } from '../../../src/observe/log.ts';
import { Relay } from '../../../src/relay/relay.ts';
import { Agent } from '../../../src/agent/agent.ts';

const [role, path] = process.argv.slice(2);
if ((role !== 'relay' && role !== 'agent') || !path) {
  process.stderr.write('usage: xnat-main.ts relay|agent <profile.yaml>\n');
  process.exit(2);
}
let close: () => Promise<void> | void;
if (role === 'relay') {
  const profile = loadRelayProfile(path);
  const relay = new Relay(profile, {
    logger: createRootLogger({ level: profile.log.level, pretty: false, base: { role } }),
  });
  await relay.start();
  close = () => relay.close();
} else {
  const profile = loadAgentProfile(path);
  const agent = new Agent(profile, {
    logger: createRootLogger({ level: profile.log.level, pretty: false, base: { role } }),
  });
  agent.start();
  close = () => agent.close();
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void Promise.resolve(close()).finally(() => process.exit(0));
  });
}
