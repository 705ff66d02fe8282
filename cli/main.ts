/**
 * secret-broker: the command line for the broker's HTTP API.
 *
 *   secret-broker [--api URL] [--json] <group> <command> [options]
 *
 * Secret values and credential fields are read from stdin or a file, never from argv. Errors are
 * one line on stderr; exit code 1 for failures, 2 for usage mistakes. See docs/cli.md.
 */
import { packageVersion } from './version';
import { Command } from 'commander';
import { ApiConnectionError, ApiError, DEFAULT_API_URL } from './api-client';
import { createCliContext } from './context';
import { type CliIo, UsageError } from './io';
import { addComputeEnvCommands } from './commands/compute-envs';
import { addCredentialCommands } from './commands/credentials';
import { addRotationCommands } from './commands/rotations';
import { addRunCommands } from './commands/runs';
import { addSecretCommands } from './commands/secrets';
import { addUserCommands } from './commands/users';
import { addVaultCommands } from './commands/vault';
import { addWorkspaceCommands } from './commands/workspaces';

export type { CliIo } from './io';
export { UsageError } from './io';

/**
 * The whole program, writing to io and reading secrets from io.stdin. Commander never exits the
 * process: it throws, and runCli turns that into an exit code.
 */
export function buildCli(io: CliIo): Command {
  const program = new Command('secret-broker');
  program
    .description('Store pipeline secrets, credentials and compute environments, and launch pipeline runs, through the broker API.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('--api <url>', `broker API base URL (env BROKER_API_URL, default ${DEFAULT_API_URL})`)
    .option('--json', 'print machine-readable JSON instead of tables')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
      outputError: (s, write) => write(s),
    })
    .showSuggestionAfterError(true)
    .helpCommand(false)
    .addHelpText(
      'after',
      `
Groups:
  workspaces, users, secrets, credentials, compute-envs, runs, rotations, vault
  (run "secret-broker <group> --help")

Examples:
  secret-broker workspaces create genomics
  printf '%s' "$TOKEN" | secret-broker secrets set NCBI_API_KEY --workspace genomics
  secret-broker --json secrets list --workspace genomics
  eval "$(secret-broker runs launch --workspace genomics --user alice --compute-env local1 \\
           --secret NCBI_API_KEY --run-id 4fa9c2 --env)"`,
    );

  const ctx = createCliContext(io);
  addWorkspaceCommands(program, ctx);
  addUserCommands(program, ctx);
  addSecretCommands(program, ctx);
  addCredentialCommands(program, ctx);
  addComputeEnvCommands(program, ctx);
  addRunCommands(program, ctx);
  addRotationCommands(program, ctx);
  addVaultCommands(program, ctx);
  return program;
}

/** Commander's error codes for a mistake on the command line (exit 2); help and version exit 0. */
function commanderExitCode(code: string, exitCode: number): number {
  if (code === 'commander.helpDisplayed' || code === 'commander.version') return 0;
  if (code === 'commander.executeSubCommandAsync') return exitCode;
  return 2;
}

/** Run the CLI on `argv` (without the node and script paths); resolves to the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const program = buildCli(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    const e = err as { code?: unknown; exitCode?: unknown };
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      // Commander already printed its message (or the help) through configureOutput.
      return commanderExitCode(e.code, typeof e.exitCode === 'number' ? e.exitCode : 1);
    }
    if (err instanceof UsageError) {
      io.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    if (err instanceof ApiError || err instanceof ApiConnectionError) {
      io.stderr.write(`error: ${err.message}\n`);
      for (const m of (err instanceof ApiError && err.missing) || []) {
        io.stderr.write(`\n  ${m.principal} needs ${m.permission} on ${m.resource}; grant it with:\n${m.grant.replace(/^/gm, '    ')}\n`);
      }
      return 1;
    }
    io.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

/** Entry point for bin/secret-broker. */
export function main(): void {
  const io: CliIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };
  runCli(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
