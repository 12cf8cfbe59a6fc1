// `xnat init DIR`: writes a matching relay and agent profile with fresh keys, ready to edit and run.
import { mkdirSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { generateKeyPair, encodeKey } from '../crypto/keys.ts';
import { XnatError } from '../errors.ts';
import { applyPreset, presetFromFlag } from './init-preset.ts';

export interface InitOptions {
  readonly relayAddress: string;
  readonly listenPort: number;
  readonly force: boolean;
}

/** Renders the two profiles; exported for tests and the demo. */
export function renderInitProfiles(o: { relayAddress: string; listenPort: number }): {
  relay: string;
  agent: string;
} {
  const relayKeys = generateKeyPair();
  const agentKeys = generateKeyPair();
  const psk = encodeKey(randomBytes(32));
  const relay = `# xnat relay profile written by \`xnat init\`. Keep it private: it holds the relay's private key.
relay:
  listen: "0.0.0.0:${o.listenPort}"
  privateKey: "${encodeKey(relayKeys.privateKey)}"
  resumeWindow: 120s
agents:
  - name: home
    publicKey: "${encodeKey(agentKeys.publicKey)}"
    psk: "${psk}"
    allow: ["2222/tcp", "25565/tcp", "20000-20100/tcp"]
`;
  const agent = `# xnat agent profile written by \`xnat init\`. Keep it private: it holds the agent's private key.
agent:
  name: home
  privateKey: "${encodeKey(agentKeys.privateKey)}"
relays:
  - address: "${o.relayAddress}"
    publicKey: "${encodeKey(relayKeys.publicKey)}"
    psk: "${psk}"
mappings:
  - name: ssh
    protocol: tcp
    remotePort: 2222
    local: "127.0.0.1:22"
`;
  return { relay, agent };
}

export function addInitCommand(program: Command): void {
  program
    .command('init')
    .description('write relay.yaml and agent.yaml with fresh matching keys into DIR')
    .argument('[dir]', 'folder to write into', '.')
    .option('--relay-address <host:port>', 'address agents dial to reach the relay', '127.0.0.1:7000')
    .option('--force', 'overwrite existing files', false)
    .option('--preset <name>', 'map a game server instead of ssh (valheim, palworld, minecraft, ...)')
    .action((dir: string, opts: { relayAddress: string; force: boolean; preset?: string }) => {
      const preset = opts.preset === undefined ? undefined : presetFromFlag(opts.preset);
      const port = Number(opts.relayAddress.split(':').pop());
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw new XnatError('XNAT_ERR_CLI_USAGE', { detail: '--relay-address must be host:port' });
      }
      mkdirSync(dir, { recursive: true });
      const files = { relay: join(dir, 'relay.yaml'), agent: join(dir, 'agent.yaml') };
      for (const f of Object.values(files)) {
        if (existsSync(f) && !opts.force)
          throw new XnatError('XNAT_ERR_CLI_USAGE', { detail: `${f} exists; use --force` });
      }
      const plain = renderInitProfiles({ relayAddress: opts.relayAddress, listenPort: port });
      const text = preset === undefined ? plain : applyPreset(plain, preset);
      writeFileSync(files.relay, text.relay, { mode: 0o600 });
      writeFileSync(files.agent, text.agent, { mode: 0o600 });
      process.stdout.write(
        `wrote ${files.relay} (copy to the relay machine) and ${files.agent} (keep on the agent machine)\n` +
          `run: xnat relay --profile ${files.relay}\n     xnat agent --profile ${files.agent}\n`,
      );
    });
}
