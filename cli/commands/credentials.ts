/**
 * `secret-broker credentials ...`: create, list, verify and delete workspace credentials. Fields
 * are a JSON object read from a file or stdin, never from argv; secret fields are never shown.
 */
import { Option, type Command } from 'commander';
import { workspaceOption, type CliContext } from '../context';
import { json, table } from '../format';
import { UsageError, readJsonObject } from '../io';

const ARGV_FIELDS_REFUSED =
  'credential fields are never taken from the command line (argv is kept in shell history and visible in the process list): ' +
  'use --fields-file PATH or pipe the JSON object on stdin; if you typed real secrets, treat them as exposed and rotate them';

export function addCredentialCommands(program: Command, ctx: CliContext): void {
  const { io, client, asJson, out } = ctx;
  const credentials = program
    .command('credentials')
    .description('store, list and delete workspace credentials (secret fields are write-only)');
  credentials
    .command('create')
    .description('create a credential; its fields are a JSON object read from --fields-file or stdin')
    .argument('<name>', 'credential name: letters, digits, dashes, underscores')
    .addOption(workspaceOption(ctx, 'workspace that owns the credential'))
    .requiredOption('--kind <kind>', 'credential kind (the API lists the known kinds when this is wrong)')
    .option('--fields-file <path>', 'JSON object with the fields; without it the object is read from stdin')
    .addOption(new Option('--fields <json>').hideHelp())
    .allowExcessArguments(true)
    .addHelpText(
      'after',
      `
Fields are never taken from the command line. Secret fields (keys, passwords) are sealed in the
vault and never shown again; listings show the public fields only.

Examples:
  secret-broker credentials create hpc-key --workspace genomics --kind ssh --fields-file hpc-key.json
  jq -n --rawfile key ~/.ssh/id_ed25519 '{privateKey: $key}' \\
    | secret-broker credentials create hpc-key --workspace genomics --kind ssh`,
    )
    .action(async (name: string, o: { workspace: string; kind: string; fieldsFile?: string; fields?: string }, cmd: Command) => {
      if (o.fields !== undefined || cmd.args.length > 1) throw new UsageError(ARGV_FIELDS_REFUSED);
      const api = client(cmd);
      const fields = await readJsonObject(io, { file: o.fieldsFile, option: '--fields-file' });
      const c = await api.createCredential(o.workspace, { name, kind: o.kind, fields });
      out(asJson(cmd) ? json(c) : `created credential ${c.name} (${c.kind}) in workspace ${o.workspace} (id ${c.id})\n`);
    });
  credentials
    .command('list')
    .description('list credentials with their public fields')
    .addOption(workspaceOption(ctx, 'workspace'))
    .addHelpText('after', '\nExample:\n  secret-broker credentials list --workspace genomics')
    .action(async (o: { workspace: string }, cmd: Command) => {
      const list = await client(cmd).listCredentials(o.workspace);
      out(
        asJson(cmd)
          ? json(list)
          : table(['NAME', 'KIND', 'PUBLIC', 'UPDATED'], list.map((c) => [c.name, c.kind, JSON.stringify(c.public), c.updatedAt])),
      );
    });
  credentials
    .command('verify')
    .description('prove a stored credential works with live calls (never prints a secret); exit 1 if a check fails')
    .argument('<name>', 'credential name')
    .addOption(workspaceOption(ctx, 'workspace'))
    .option('--management-credential <name>', 'Azure: an azure-entra credential for management reads (Batch endpoint, managed identity)')
    .option('--resource-group <name>', 'Azure: resource group of the Batch account')
    .option('--storage-account <name>', 'azure-managed-identity: also check the role on this storage account (the work directory)')
    .option('--compute-env <name>', 'ssh: the hpc compute environment whose host, user and pinned host key to log in to')
    .addHelpText(
      'after',
      `
Checks per kind: aws (STS GetCallerIdentity), container-registry (registry v2 login),
azure-shared-key (Storage and Batch SharedKey calls), azure-entra (a management token),
azure-managed-identity (identity exists, attached to the pool, holds its roles; no key fallback),
ssh (a login to an hpc compute environment's host with its pinned host key).

Example:
  secret-broker credentials verify batch-keys --workspace genomics \
    --management-credential azure-mgmt --resource-group rg-batch`,
    )
    .action(async (name: string, o: { workspace: string; managementCredential?: string; resourceGroup?: string; storageAccount?: string; computeEnv?: string }, cmd: Command) => {
      const report = await client(cmd).verifyCredential(o.workspace, name, {
        ...(o.managementCredential ? { managementCredential: o.managementCredential } : {}),
        ...(o.resourceGroup ? { resourceGroup: o.resourceGroup } : {}),
        ...(o.storageAccount ? { storageAccount: o.storageAccount } : {}),
        ...(o.computeEnv ? { computeEnv: o.computeEnv } : {}),
      });
      out(asJson(cmd) ? json(report) : table(['CHECK', 'RESULT', 'DETAIL'], report.checks.map((c) => [c.check, c.status, c.detail])));
      if (!report.ok) throw new Error(`credential ${name}: ${report.checks.some((c) => c.status === 'failed') ? 'a check failed' : 'no check could run'}`);
    });
  credentials
    .command('delete')
    .description('delete a credential')
    .argument('<name>', 'credential name')
    .addOption(workspaceOption(ctx, 'workspace'))
    .addHelpText('after', '\nExample:\n  secret-broker credentials delete hpc-key --workspace genomics')
    .action(async (name: string, o: { workspace: string }, cmd: Command) => {
      await client(cmd).deleteCredential(o.workspace, name);
      out(asJson(cmd) ? json({ deleted: { credential: name, workspace: o.workspace } }) : `deleted credential ${name} of workspace ${o.workspace}\n`);
    });
}
