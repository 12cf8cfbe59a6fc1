// The commander program behind bin/xnat.js: parses argv, loads only the command module it names, runs it,
// and maps XnatError to exit codes. It knows command names, not what the commands import.
import type { Command } from 'commander';
import { XnatError, toXnatError, EXIT } from '../errors.ts';
import { VERSION } from '../util/version.ts';

/** Adds one module's subcommands to the program. */
type AddCommands = (program: Command) => void;

/** A module of subcommands: the names it registers, and how to import it (only when one is run). */
export interface CommandModule {
  readonly names: readonly string[];
  readonly load: () => Promise<AddCommands>;
}

/**
 * Every subcommand, in help order. Loading is lazy so that `xnat --version` or `xnat check` never pays for
 * ink, react or the relay (issue 10: start-up); a new command is one more line here.
 */
export const COMMANDS: readonly CommandModule[] = [
  { names: ['relay', 'agent'], load: async () => (await import('./serve.ts')).addServeCommands },
  { names: ['demo'], load: async () => (await import('./demo.ts')).addDemoCommand },
  { names: ['init'], load: async () => (await import('./init.ts')).addInitCommand },
  { names: ['keygen'], load: async () => (await import('./keygen.ts')).addKeygenCommand },
  { names: ['pubkey'], load: async () => (await import('./pubkey.ts')).addPubkeyCommand },
  { names: ['check'], load: async () => (await import('./check.ts')).addCheckCommand },
  { names: ['status'], load: async () => (await import('./status.ts')).addStatusCommand },
  { names: ['reload'], load: async () => (await import('./status.ts')).addReloadCommand },
  { names: ['diag'], load: async () => (await import('./diag.ts')).addDiagCommand },
  {
    names: ['dashboard'],
    load: async () => {
      (await import('./terminal.ts')).preferLiveTerminal();
      (await import('../tui/v8-flags.ts')).favourSmallFootprint();
      return (await import('./dashboard.ts')).addDashboardCommand;
    },
  },
];

/**
 * The modules `argv` needs: the one owning its subcommand; none for a bare --version; all of them
 * otherwise (help, an unknown name: commander lists or suggests every command).
 */
export function modulesFor(argv: readonly string[]): readonly CommandModule[] {
  const name = argv.find((a) => !a.startsWith('-'));
  if (name === undefined) {
    return argv.includes('-V') || argv.includes('--version') ? [] : COMMANDS;
  }
  const owner = COMMANDS.find((m) => m.names.includes(name));
  return owner ? [owner] : COMMANDS;
}

/** Prints `error CODE: message` and the hint to stderr and returns the exit code. */
export function reportError(err: unknown): number {
  const e = err instanceof XnatError ? err : toXnatError(err);
  process.stderr.write(`error ${e.code}: ${e.message}\nhint: ${e.hint}\n`);
  if (e.code === 'XNAT_ERR_INTERNAL' && e.cause instanceof Error && process.env.XNAT_DEBUG) {
    process.stderr.write(`${e.cause.stack ?? e.cause.message}\n`);
  }
  return e.exitCode;
}

/** The program with the subcommands `argv` needs (all of them when argv is omitted). */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  const { Command } = await import('commander');
  const program = new Command('xnat')
    .description('Self-hosted reverse-tunnel gateway: relay on a VPS, agent behind NAT.')
    .version(VERSION)
    .exitOverride()
    .showHelpAfterError();
  const modules = argv ? modulesFor(argv) : COMMANDS;
  const adders = await Promise.all(modules.map((m) => m.load()));
  for (const add of adders) add(program);
  // Subcommands inherit exitOverride so usage errors come back as CommanderError, not process.exit.
  for (const c of program.commands) c.exitOverride();
  return program;
}

/** Runs the CLI with `argv` (without node and script); sets process.exitCode. */
export async function run(argv: string[]): Promise<void> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    // What commander would print, without parsing commander (a tenth of `xnat --version`'s start-up).
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  // relay/agent: V8 flags held while modules load, released once the role runs (src/cli/startup-flags.ts).
  if (argv[0] === 'relay' || argv[0] === 'agent') (await import('./startup-flags.ts')).holdStartupFlags();
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    const { CommanderError } = await import('commander');
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
      return;
    }
    process.exitCode = reportError(err);
  }
}
