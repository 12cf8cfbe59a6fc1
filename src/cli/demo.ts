// `xnat demo` (and `npm start`): a relay, an agent and a small demo service on loopback, in one process,
// with fresh keys; prints the public address to try and runs until Ctrl+C.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Command } from 'commander';
import { generateKeyPair, encodeKey } from '../crypto/keys.ts';
import { parseAgentProfile, parseRelayProfile } from '../config/index.ts';
import { createRootLogger, loadPrettyLogs } from '../observe/log.ts';
import { LogRing } from '../observe/log-ring.ts';
import { randomBytes } from 'node:crypto';
import { startAgent, startRelay, untilSignal } from './serve.ts';

/** Starts the demo LAN service: answers every HTTP request with a greeting and a counter. */
export function startDemoService(): Promise<http.Server> {
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits++;
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`hello from the LAN service behind xnat (request #${hits}, ${req.method} ${req.url})\n`);
  });
  return new Promise((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, () => resolve(server)));
}

export function demoProfiles(o: {
  relayPort: number;
  servicePort: number;
  publicPort: number;
  adminToken: string;
}) {
  const relayKeys = generateKeyPair();
  const agentKeys = generateKeyPair();
  const relay = `relay:
  listen: "127.0.0.1:${o.relayPort}"
  privateKey: "${encodeKey(relayKeys.privateKey)}"
  publicHost: "127.0.0.1"
  resumeWindow: 120s
agents:
  - name: demo
    publicKey: "${encodeKey(agentKeys.publicKey)}"
    allow: ["1024-65535/tcp"]
admin:
  listen: "127.0.0.1:0"
  token: "${o.adminToken}"
`;
  const agent = (relayPort: number) => `agent:
  name: demo
  privateKey: "${encodeKey(agentKeys.privateKey)}"
relays:
  - address: "127.0.0.1:${relayPort}"
    publicKey: "${encodeKey(relayKeys.publicKey)}"
mappings:
  - name: web
    protocol: tcp
    remotePort: ${o.publicPort}
    local: "127.0.0.1:${o.servicePort}"
`;
  return { relay, agent };
}

export function addDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run a relay, an agent and a demo web service on loopback; try the printed address')
    .option('--public-port <port>', 'public port of the demo mapping (0 = any free port)', '0')
    .option('--log-level <level>', 'log level', 'warn')
    .option('--no-dashboard', 'print logs instead of showing the dashboard')
    .action(async (opts: { publicPort: string; logLevel: string; dashboard: boolean }) => {
      // The dashboard owns the terminal: logs would tear its screen, so while it runs they go to the ring
      // only, and the dashboard's log panel shows them.
      const dashboard = opts.dashboard && process.stdin.isTTY === true && process.stdout.isTTY === true;
      const ring = new LogRing();
      if (!dashboard) await loadPrettyLogs();
      const logger = dashboard
        ? createRootLogger({ level: 'info', destination: ring })
        : createRootLogger({ level: opts.logLevel, ring });
      const adminToken = randomBytes(18).toString('base64url');
      const service = await startDemoService();
      const servicePort = (service.address() as AddressInfo).port;
      const texts = demoProfiles({
        relayPort: 0,
        servicePort,
        publicPort: Number(opts.publicPort),
        adminToken,
      });
      const relay = await startRelay(
        parseRelayProfile(texts.relay, 'demo-relay'),
        logger.child({ role: 'relay' }),
        undefined,
        ring,
      );
      const relayPort = relay.relay.status().control!.port;
      const agent = await startAgent(
        parseAgentProfile(texts.agent(relayPort), 'demo-agent'),
        logger.child({ role: 'agent' }),
        undefined,
        ring,
      );
      const ready = await waitForMapping(() => agent.agent.status().mappings[0]);
      process.stdout.write(
        `\nxnat demo is running: relay on 127.0.0.1:${relayPort}, agent "demo", LAN service on 127.0.0.1:${servicePort}\n` +
          (ready
            ? `try:   curl http://127.0.0.1:${ready}/    (the visitor reaches the LAN service through the relay)\n`
            : `the mapping is not ready yet; see the log lines above\n`) +
          (dashboard ? `stop:  q in the dashboard below\n\n` : `stop:  Ctrl+C\n\n`),
      );
      if (dashboard) {
        // ink and react load only when the dashboard really runs (`--no-dashboard` and pipes skip them).
        (await import('./terminal.ts')).preferLiveTerminal();
        const [{ runDashboard }, { adminSource }] = await Promise.all([
          import('../tui/index.ts'),
          import('./dashboard.ts'),
        ]);
        await runDashboard({
          connect: adminSource({ host: '127.0.0.1', port: relay.adminPort!, token: adminToken }),
          // The port of the mapping now: after a kick the agent registers again and may get another one.
          note: (s) => {
            const port = s?.mappings.find((m) => m.name === 'web' && m.remotePort > 0)?.remotePort;
            return port ? `try: curl http://127.0.0.1:${port}/` : 'web mapping not ready';
          },
        });
      } else {
        await untilSignal(logger);
      }
      await agent.close();
      await relay.close();
      service.close();
      process.exit(0);
    });
}

/** Waits up to 10 s for the demo mapping to be ready; returns its public port. */
async function waitForMapping(
  get: () => { phase: string; remotePort: number } | undefined,
): Promise<number | undefined> {
  for (let i = 0; i < 200; i++) {
    const m = get();
    if (m?.phase === 'ready') return m.remotePort;
    await new Promise((r) => setTimeout(r, 50));
  }
  return undefined;
}
