// The commander program behind bin/xnat.js: parses argv, runs one command, maps XnatError to exit codes.
import { Command, CommanderError } from 'commander';
import { XnatError, toXnatError, EXIT } from '../errors.ts';
import { VERSION } from '../util/version.ts';
import { addKeygenCommand } from './keygen.ts';
import { addPubkeyCommand } from './pubkey.ts';
import { addInitCommand } from './init.ts';
import { addCheckCommand } from './check.ts';
import { addServeCommands } from './serve.ts';
import { addReloadCommand, addStatusCommand } from './status.ts';
import { addDemoCommand } from './demo.ts';
import { addDashboardCommand } from './dashboard.ts';

/** Prints `error CODE: message` and the hint to stderr and returns the exit code. */
export function reportError(err: unknown): number {
  const e = err instanceof XnatError ? err : toXnatError(err);
  process.stderr.write(`error ${e.code}: ${e.message}\nhint: ${e.hint}\n`);
  if (e.code === 'XNAT_ERR_INTERNAL' && e.cause instanceof Error && process.env.XNAT_DEBUG) {
    process.stderr.write(`${e.cause.stack ?? e.cause.message}\n`);
  }
  return e.exitCode;
}

export function buildProgram(): Command {
  const program = new Command('xnat')
    .description('Self-hosted reverse-tunnel gateway: relay on a VPS, agent behind NAT.')
    .version(VERSION)
    .exitOverride()
    .showHelpAfterError();
  addServeCommands(program);
  addDemoCommand(program);
  addInitCommand(program);
  addKeygenCommand(program);
  addPubkeyCommand(program);
  addCheckCommand(program);
  addStatusCommand(program);
  addReloadCommand(program);
  addDashboardCommand(program);
  // Subcommands inherit exitOverride so usage errors come back as CommanderError, not process.exit.
  for (const c of program.commands) c.exitOverride();
  return program;
}

/** Runs the CLI with `argv` (without node and script); sets process.exitCode. */
export async function run(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
      return;
    }
    process.exitCode = reportError(err);
  }
}
