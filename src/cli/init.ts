// `xnat init DIR`: writes a matching relay and agent profile with fresh keys, admin and metrics blocks,
// ready to run (and `xnat status` to work) at once, and prints the commands for each machine.
import { mkdirSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { generateKeyPair, encodeKey } from '../crypto/keys.ts';
import { XnatError } from '../errors.ts';
import { applyPreset, presetAllow, presetFromFlag } from './init-preset.ts';

/** Default admin and metrics ports of each side (as the profile schema defaults them). */
const RELAY_ADMIN_PORT = 7001;
const AGENT_ADMIN_PORT = 7002;
const RELAY_METRICS_PORT = 9100;
const AGENT_METRICS_PORT = 9101;
/** Public ports the written relay profile allows the agent. */
const ALLOW = ['2222/tcp', '25565/tcp', '20000-20100/tcp'] as const;

/** A fresh admin token: 24 random bytes, base64url (32 characters, above the 16 the profile needs). */
function adminToken(): string {
  return randomBytes(24).toString('base64url');
}

/** The port of a `host:port` (checked by the caller). */
function portOf(hostPort: string): number {
  return Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));
}

/** A usable `host:port`, or a usage error naming the flag. */
function checkHostPort(flag: string, value: string): number {
  const port = portOf(value);
  if (!value.includes(':') || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new XnatError('XNAT_ERR_CLI_USAGE', { detail: `${flag} must be host:port` });
  }
  return port;
}

/** Renders the two profiles; exported for tests and the demo. */
export function renderInitProfiles(o: {
  relayAddress: string;
  listenPort: number;
  /** Reverse mode: where the relay dials the agent (`host:port`); the agent listens on its port. */
  reverse?: string;
}): {
  relay: string;
  agent: string;
} {
  const relayKeys = generateKeyPair();
  const agentKeys = generateKeyPair();
  const psk = encodeKey(randomBytes(32));
  const relay = `# xnat relay profile written by \`xnat init\`. Keep it private (mode 0600): it holds the relay's
# private key, the agent's psk and the admin token.
relay:
  listen: "0.0.0.0:${o.listenPort}"
  privateKey: "${encodeKey(relayKeys.privateKey)}"
  resumeWindow: 120s
agents:
  - name: home
    publicKey: "${encodeKey(agentKeys.publicKey)}"
    psk: "${psk}"${o.reverse ? `\n    # Reverse mode: this relay dials the agent here.\n    dial: "${o.reverse}"` : ''}
    allow: [${ALLOW.map((a) => `"${a}"`).join(', ')}]
# Loopback only: \`xnat status --profile\` and \`xnat dashboard --profile\` on this machine use it.
admin:
  listen: "127.0.0.1:${RELAY_ADMIN_PORT}"
  token: "${adminToken()}"
# Prometheus text at http://127.0.0.1:${RELAY_METRICS_PORT}/metrics (loopback; scrape it locally or tunnel it).
metrics:
  listen: "127.0.0.1:${RELAY_METRICS_PORT}"
`;
  const agent = `# xnat agent profile written by \`xnat init\`. Keep it private (mode 0600): it holds the agent's
# private key, the psk and the admin token.
agent:
  name: home
  privateKey: "${encodeKey(agentKeys.privateKey)}"
relays:
  - address: "${o.relayAddress}"
    publicKey: "${encodeKey(relayKeys.publicKey)}"
    psk: "${psk}"${o.reverse ? `\n    # Reverse mode: the relay dials in here; the address above serves the UDP path and status.\n    mode: reverse\n    listen: "0.0.0.0:${portOf(o.reverse)}"` : ''}
# One entry per LAN service: local is the service, remotePort the public port on the relay (0 = any allowed).
mappings:
  - name: ssh
    protocol: tcp
    remotePort: 2222
    local: "127.0.0.1:22"
admin:
  listen: "127.0.0.1:${AGENT_ADMIN_PORT}"
  token: "${adminToken()}"
metrics:
  listen: "127.0.0.1:${AGENT_METRICS_PORT}"
`;
  return { relay, agent };
}

/**
 * What to run on each machine, with the paths as written; `allow` is the relay's allow list as written
 * (the firewall must let those through), default that of plain `xnat init`.
 */
export function initInstructions(
  files: { relay: string; agent: string },
  relayAddress: string,
  port: number,
  allow: readonly string[] = ALLOW,
  reverse?: string,
): string {
  const host = relayAddress.slice(0, relayAddress.lastIndexOf(':'));
  const inbound = reverse ? '' : `${port}/tcp (agents) and `;
  return [
    `wrote ${files.relay} and ${files.agent} (mode 0600: they hold private keys, the psk and admin tokens)`,
    '',
    `On the relay machine (${host}): copy ${files.relay} there; let ${inbound}the allowed`,
    `public ports (${allow.join(', ')}) through its firewall; then run`,
    `  xnat check ${files.relay}`,
    `  xnat relay --profile ${files.relay}`,
    `  xnat status --profile ${files.relay}     # from another shell: sessions and mappings`,
    '',
    reverse
      ? `On the agent machine (reachable at ${reverse}): copy ${files.agent} there; let ${portOf(reverse)}/tcp in from the relay; edit its mappings, then run`
      : `On the agent machine (next to the LAN services): copy ${files.agent} there, edit its mappings, then run`,
    `  xnat check ${files.agent}`,
    `  xnat agent --profile ${files.agent}`,
    `  xnat status --profile ${files.agent}     # mappings, with their public ports on ${host}`,
    '',
  ].join('\n');
}

export function addInitCommand(program: Command): void {
  program
    .command('init')
    .description('write relay.yaml and agent.yaml with fresh matching keys into DIR')
    .argument('[dir]', 'folder to write into', '.')
    .option('--relay-address <host:port>', 'address agents dial to reach the relay', '127.0.0.1:7000')
    .option('--force', 'overwrite existing files', false)
    .option('--preset <name>', 'map a game server instead of ssh (valheim, palworld, minecraft, ...)')
    .option('--reverse <host:port>', 'reverse mode: the relay dials the agent at this address')
    .action(
      (dir: string, opts: { relayAddress: string; force: boolean; preset?: string; reverse?: string }) => {
        const preset = opts.preset === undefined ? undefined : presetFromFlag(opts.preset);
        const port = checkHostPort('--relay-address', opts.relayAddress);
        if (opts.reverse !== undefined) checkHostPort('--reverse', opts.reverse);
        mkdirSync(dir, { recursive: true });
        const files = { relay: join(dir, 'relay.yaml'), agent: join(dir, 'agent.yaml') };
        for (const f of Object.values(files)) {
          if (existsSync(f) && !opts.force)
            throw new XnatError('XNAT_ERR_CLI_USAGE', { detail: `${f} exists; use --force` });
        }
        const plain = renderInitProfiles({
          relayAddress: opts.relayAddress,
          listenPort: port,
          ...(opts.reverse ? { reverse: opts.reverse } : {}),
        });
        const text = preset === undefined ? plain : applyPreset(plain, preset);
        writeFileSync(files.relay, text.relay, { mode: 0o600 });
        writeFileSync(files.agent, text.agent, { mode: 0o600 });
        const allow = preset === undefined ? ALLOW : presetAllow(preset);
        process.stdout.write(initInstructions(files, opts.relayAddress, port, allow, opts.reverse));
      },
    );
}
