// `xnat check --profile F`: validates a profile without starting anything and prints it with secrets redacted.
import type { Command } from 'commander';
import { loadProfile, redactProfile } from '../config/index.ts';

export function addCheckCommand(program: Command): void {
  program
    .command('check')
    .description('validate a relay or agent profile without starting anything')
    .requiredOption('-p, --profile <file>', 'profile (YAML)')
    .option('--json', 'print the parsed profile as JSON (secrets redacted)')
    .action((opts: { profile: string; json?: boolean }) => {
      const profile = loadProfile(opts.profile);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(redactProfile(profile), null, 2)}\n`);
        return;
      }
      const what =
        profile.kind === 'relay'
          ? `relay profile, ${profile.agents.length} agent(s)`
          : `agent profile "${profile.agent.name}", ${profile.relays.length} relay(s), ${profile.mappings.length} mapping(s)`;
      process.stdout.write(`ok: ${opts.profile} is a valid ${what}\n`);
    });
}
