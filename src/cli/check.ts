// `xnat check PROFILE` (or `--profile F`): validates a profile without starting anything, prints it with
// secrets redacted, and its warnings (a secret-holding file other users may read) on stderr.
import type { Command } from 'commander';
import { loadProfile, redactProfile } from '../config/index.ts';
import { XnatError } from '../errors.ts';

export function addCheckCommand(program: Command): void {
  program
    .command('check')
    .description('validate a relay or agent profile without starting anything')
    .argument('[profile]', 'profile (YAML); or give it with --profile')
    .option('-p, --profile <file>', 'profile (YAML)')
    .option('--json', 'print the parsed profile as JSON (secrets redacted)')
    .action((file: string | undefined, opts: { profile?: string; json?: boolean }) => {
      if (file && opts.profile && file !== opts.profile)
        throw new XnatError('XNAT_ERR_CLI_USAGE', { detail: 'give the profile once: FILE or --profile' });
      const path = file ?? opts.profile;
      if (!path) throw new XnatError('XNAT_ERR_CLI_USAGE', { detail: 'give the profile: xnat check FILE' });
      const profile = loadProfile(path);
      for (const w of profile.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(redactProfile(profile), null, 2)}\n`);
        return;
      }
      const what =
        profile.kind === 'relay'
          ? `relay profile, ${profile.agents.length} agent(s)`
          : `agent profile "${profile.agent.name}", ${profile.relays.length} relay(s), ${profile.mappings.length} mapping(s)`;
      process.stdout.write(`ok: ${path} is a valid ${what}\n`);
    });
}
