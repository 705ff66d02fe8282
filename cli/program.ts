/**
 * secret-broker: the command line for the broker's HTTP API.
 *
 *   secret-broker [--api URL] [--json] <group> <command> [options]
 *
 * Secret values and credential fields are read from stdin or a file, never from argv. Errors are
 * one line on stderr; exit code 1 for failures, 2 for usage mistakes. See docs/cli.md.
 *
 * This module builds the root command and its global options; each group's commands are in
 * cli/commands/. cli/main.ts runs the program and maps its outcome to an exit code.
 */
import { packageVersion } from './version';
import { Command } from 'commander';
import { DEFAULT_API_URL } from './api-client';
import { createCliContext } from './context';
import type { CliIo } from './io';
import { addComputeEnvCommands } from './commands/compute-envs';
import { addCredentialCommands } from './commands/credentials';
import { addRotationCommands } from './commands/rotations';
import { addRunCommands } from './commands/runs';
import { addSecretCommands } from './commands/secrets';
import { addUserCommands } from './commands/users';
import { addVaultCommands } from './commands/vault';
import { addWorkspaceCommands } from './commands/workspaces';

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
