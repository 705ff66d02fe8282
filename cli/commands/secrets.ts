/**
 * `secret-broker secrets ...`: store, list and delete workspace or user secrets. A value is read
 * from stdin, a file or a no-echo prompt, never from argv, and is never printed back.
 */
import { Option, type Command } from 'commander';
import type { SecretOwner } from '../api-client';
import type { CliContext } from '../context';
import { json, table } from '../format';
import { UsageError, readSecretValue } from '../io';
import { secretNameProblem } from '../../domain/rules';

const ARGV_VALUE_REFUSED =
  'secret values are never taken from the command line (argv is kept in shell history and visible in the process list): ' +
  "pipe the value on stdin, e.g. printf '%s' \"$VALUE\" | secret-broker secrets set NAME --workspace W, or use --from-file PATH; " +
  'if you typed a real value, treat it as exposed and rotate it';

/** The secret's owner: --workspace or --user; neither: the default workspace, if one is set. */
function ownerOf(o: { workspace?: string; user?: string }, defaultWorkspace?: string): SecretOwner {
  if (o.workspace !== undefined && o.user !== undefined) throw new UsageError('give either --workspace or --user, not both');
  if (o.workspace !== undefined) return { scope: 'workspace', workspace: o.workspace };
  if (o.user !== undefined) return { scope: 'user', user: o.user };
  if (defaultWorkspace !== undefined) return { scope: 'workspace', workspace: defaultWorkspace };
  throw new UsageError('give --workspace NAME for a workspace secret or --user NAME for a user secret');
}

function ownerLabel(o: SecretOwner): string {
  return o.scope === 'workspace' ? `workspace ${o.workspace}` : `user ${o.user}`;
}

function ownerOptions(cmd: Command): Command {
  return cmd
    .option('--workspace <name>', 'the secret belongs to this workspace (default: BROKER_WORKSPACE or the config file\'s "workspace")')
    .option('--user <name>', 'the secret belongs to this user (yourself: a user secret is its user\'s alone)');
}

export function addSecretCommands(program: Command, ctx: CliContext): void {
  const { io, client, asJson, out } = ctx;
  const secrets = program
    .command('secrets')
    .description('store, list and delete workspace or user secrets (values are write-only)')
    .addHelpText('after', '\nUser secrets override workspace secrets of the same name when a run resolves them.');

  ownerOptions(
    secrets
      .command('set')
      .description('create or replace a secret; the value is read from stdin or --from-file, never from the command line')
      .argument('<name>', 'Nextflow secret name: letters, digits, single underscores (no hyphens)'),
  )
    .option('--from-file <path>', 'read the value from this file (one trailing newline is removed)')
    .addOption(new Option('--value <value>').hideHelp())
    .allowExcessArguments(true)
    .addHelpText(
      'after',
      `
The value is read from, in order: --from-file PATH; stdin when piped (exactly one trailing newline
is removed, so "echo value |" works); or a prompt that does not echo when stdin is a terminal.
Values are single-line: base64-encode multi-line secrets. Values are never printed back.

Examples:
  printf '%s' "$NCBI_KEY" | secret-broker secrets set NCBI_API_KEY --workspace genomics
  secret-broker secrets set GITHUB_TOKEN --user alice --from-file ~/.config/token
  secret-broker secrets set DB_PASSWORD --workspace genomics          # prompts, input hidden`,
    )
    .action(async (name: string, o: { workspace?: string; user?: string; fromFile?: string; value?: string }, cmd: Command) => {
      if (o.value !== undefined || cmd.args.length > 1) throw new UsageError(ARGV_VALUE_REFUSED);
      // Check the name before asking for a value: the same rule the API and the vault apply.
      const problem = secretNameProblem(name);
      if (problem) throw new UsageError(`name: ${problem}`);
      const owner = ownerOf(o, ctx.defaultWorkspace);
      const api = client(cmd);
      const value = await readSecretValue(io, { fromFile: o.fromFile, name });
      const meta = await api.setSecret(owner, name, value);
      out(asJson(cmd) ? json(meta) : `stored secret ${meta.name} for ${ownerLabel(owner)} (version ${meta.version})\n`);
    });

  ownerOptions(secrets.command('list').description('list secret names and versions (never values)'))
    .addHelpText('after', '\nExamples:\n  secret-broker secrets list --workspace genomics\n  secret-broker --json secrets list --user alice')
    .action(async (o: { workspace?: string; user?: string }, cmd: Command) => {
      const owner = ownerOf(o, ctx.defaultWorkspace);
      const list = await client(cmd).listSecrets(owner);
      out(asJson(cmd) ? json(list) : table(['NAME', 'SCOPE', 'VERSION', 'UPDATED'], list.map((s) => [s.name, s.scope, s.version, s.updatedAt])));
    });

  ownerOptions(secrets.command('delete').description('delete a secret').argument('<name>', 'secret name'))
    .addHelpText('after', '\nExample:\n  secret-broker secrets delete NCBI_API_KEY --workspace genomics')
    .action(async (name: string, o: { workspace?: string; user?: string }, cmd: Command) => {
      const owner = ownerOf(o, ctx.defaultWorkspace);
      await client(cmd).deleteSecret(owner, name);
      out(asJson(cmd) ? json({ deleted: { secret: name, ...owner } }) : `deleted secret ${name} of ${ownerLabel(owner)}\n`);
    });
}
