/**
 * secret-broker: the command line for the broker's HTTP API.
 *
 *   secret-broker [--api URL] [-o text|json] <group> <command> [options]
 *
 * Secret values and credential fields are read from stdin or a file, never from argv; tokens come
 * from the environment or a file (cli/settings.ts). Errors are one line on stderr (one JSON object
 * with -o json); exit codes 0, 1 failures, 2 usage mistakes, 3 authentication or permission. See
 * docs/cli.md.
 *
 * This module builds the root command and its global options; each group's commands are in
 * cli/commands/. cli/main.ts runs the program and maps its outcome to an exit code.
 */
import { packageVersion } from '../api/version';
import { Command, Option } from 'commander';
import { DEFAULT_API_URL } from './api-client';
import { createCliContext } from './context';
import type { CliIo } from './io';
import { addAccessCommands } from './commands/access';
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
export function buildCli(io: CliIo, argv: string[] = []): Command {
  const program = new Command('secret-broker');
  program
    .description('Store pipeline secrets, credentials and compute environments, and launch pipeline runs, through the broker API.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('--api <url>', `broker API base URL (env BROKER_API_URL, the config file's "api", default ${DEFAULT_API_URL})`)
    .addOption(new Option('-o, --output <format>', 'text (tables) or json, errors included').choices(['text', 'json']).default('text'))
    .option('--json', 'results as JSON, like -o json (errors stay "error: ..." lines, as before -o existed)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
      // Usage mistakes: one line, or one JSON object in json mode.
      outputError: (s, write) => write(jsonMode(argv) ? `${JSON.stringify({ error: s.trim().replace(/^error: /, ''), code: 'usage', exitCode: 2 })}\n` : s),
    })
    .showSuggestionAfterError(true)
    .helpCommand(false)
    .addHelpText(
      'after',
      `
Groups:
  workspaces, users, services, members, tokens, secrets, credentials, compute-envs, runs,
  rotations, vault, audit, config; whoami   (run "secret-broker <group> --help")

Settings (docs/cli.md): BROKER_API_URL, BROKER_TOKEN or BROKER_TOKEN_FILE, BROKER_WORKSPACE,
BROKER_CA_FILE, or the same in $XDG_CONFIG_HOME/secret-broker/config.json; with none, the token
'make start' writes to .data/admin.token. Exit codes: 0 ok, 1 failed or refused, 2 usage,
3 not authenticated or not allowed.

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
  addAccessCommands(program, ctx);
  return program;
}

/**
 * Are errors to be JSON: `-o json` or `--output json` on the command line (read before commander
 * parses it)? The older `--json` makes results JSON but keeps errors as `error: ...` lines, as they
 * always were, for the scripts that read them.
 */
export function jsonMode(argv: string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return false;
    if (a === '-ojson' || a === '--output=json') return true;
    if ((a === '-o' || a === '--output') && argv[i + 1] === 'json') return true;
  }
  return false;
}
