/**
 * secret-broker: the command line for the broker's HTTP API.
 *
 *   secret-broker [--api URL] [--json] <group> <command> [options]
 *
 * Secret values and credential fields are read from stdin or a file, never from argv. Errors are
 * one line on stderr; exit code 1 for failures, 2 for usage mistakes. See docs/cli.md.
 */
import { packageVersion } from './version';
import { Command, Option } from 'commander';
import { ApiConnectionError, ApiError, DEFAULT_API_URL, type SecretOwner } from './api-client';
import { createCliContext } from './context';
import { exportLines, json, keyValues, table } from './format';
import { type CliIo, UsageError, readJsonObject, readSecretValue } from './io';
import { addRotationCommands } from './commands/rotations';
import { addVaultCommands } from './commands/vault';
import type { ReadyResult, RunStatus } from '../domain/run';
import type { ComputeEnv } from '../store/types';
import { secretNameProblem } from '../domain/rules';

export type { CliIo } from './io';
export { UsageError } from './io';

const PLATFORMS = ['local', 'hpc', 'aws', 'gcp'];
const END_STATUSES = ['succeeded', 'failed', 'cancelled'];

const ARGV_VALUE_REFUSED =
  'secret values are never taken from the command line (argv is kept in shell history and visible in the process list): ' +
  "pipe the value on stdin, e.g. printf '%s' \"$VALUE\" | secret-broker secrets set NAME --workspace W, or use --from-file PATH; " +
  'if you typed a real value, treat it as exposed and rotate it';

const ARGV_FIELDS_REFUSED =
  'credential fields are never taken from the command line (argv is kept in shell history and visible in the process list): ' +
  'use --fields-file PATH or pipe the JSON object on stdin; if you typed real secrets, treat them as exposed and rotate them';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

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
  const { client, asJson, out, readConfig } = ctx;

  // ---------------------------------------------------------------- workspaces
  const workspaces = program.command('workspaces').description('create and list workspaces');
  workspaces
    .command('create')
    .description('create a workspace')
    .argument('<name>', 'workspace name: letters, digits, dashes, underscores')
    .addHelpText('after', '\nExample:\n  secret-broker workspaces create genomics')
    .action(async (name: string, _o, cmd: Command) => {
      const ws = await client(cmd).createWorkspace(name);
      out(asJson(cmd) ? json(ws) : `created workspace ${ws.name} (id ${ws.id})\n`);
    });
  workspaces
    .command('list')
    .description('list workspaces')
    .addHelpText('after', '\nExample:\n  secret-broker workspaces list')
    .action(async (_o, cmd: Command) => {
      const list = await client(cmd).listWorkspaces();
      out(asJson(cmd) ? json(list) : table(['NAME', 'ID', 'CREATED'], list.map((w) => [w.name, w.id, w.createdAt])));
    });

  // ---------------------------------------------------------------- users
  const users = program.command('users').description('create and list users');
  users
    .command('create')
    .description('create a user')
    .argument('<name>', 'user name: letters, digits, dashes, underscores')
    .addHelpText('after', '\nExample:\n  secret-broker users create alice')
    .action(async (name: string, _o, cmd: Command) => {
      const u = await client(cmd).createUser(name);
      out(asJson(cmd) ? json(u) : `created user ${u.name} (id ${u.id})\n`);
    });
  users
    .command('list')
    .description('list users')
    .addHelpText('after', '\nExample:\n  secret-broker users list')
    .action(async (_o, cmd: Command) => {
      const list = await client(cmd).listUsers();
      out(asJson(cmd) ? json(list) : table(['NAME', 'ID', 'CREATED'], list.map((u) => [u.name, u.id, u.createdAt])));
    });

  // ---------------------------------------------------------------- secrets
  const secrets = program
    .command('secrets')
    .description('store, list and delete workspace or user secrets (values are write-only)')
    .addHelpText('after', '\nUser secrets override workspace secrets of the same name when a run resolves them.');

  const ownerOf = (o: { workspace?: string; user?: string }): SecretOwner => {
    if (o.workspace !== undefined && o.user !== undefined) throw new UsageError('give either --workspace or --user, not both');
    if (o.workspace !== undefined) return { scope: 'workspace', workspace: o.workspace };
    if (o.user !== undefined) return { scope: 'user', user: o.user };
    throw new UsageError('give --workspace NAME for a workspace secret or --user NAME for a user secret');
  };
  const ownerLabel = (o: SecretOwner) => (o.scope === 'workspace' ? `workspace ${o.workspace}` : `user ${o.user}`);
  const ownerOptions = (cmd: Command) =>
    cmd.option('--workspace <name>', 'the secret belongs to this workspace').option('--user <name>', 'the secret belongs to this user');

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
      const owner = ownerOf(o);
      const api = client(cmd);
      const value = await readSecretValue(io, { fromFile: o.fromFile, name });
      const meta = await api.setSecret(owner, name, value);
      out(asJson(cmd) ? json(meta) : `stored secret ${meta.name} for ${ownerLabel(owner)} (version ${meta.version})\n`);
    });

  ownerOptions(secrets.command('list').description('list secret names and versions (never values)'))
    .addHelpText('after', '\nExamples:\n  secret-broker secrets list --workspace genomics\n  secret-broker --json secrets list --user alice')
    .action(async (o: { workspace?: string; user?: string }, cmd: Command) => {
      const owner = ownerOf(o);
      const list = await client(cmd).listSecrets(owner);
      out(asJson(cmd) ? json(list) : table(['NAME', 'SCOPE', 'VERSION', 'UPDATED'], list.map((s) => [s.name, s.scope, s.version, s.updatedAt])));
    });

  ownerOptions(secrets.command('delete').description('delete a secret').argument('<name>', 'secret name'))
    .addHelpText('after', '\nExample:\n  secret-broker secrets delete NCBI_API_KEY --workspace genomics')
    .action(async (name: string, o: { workspace?: string; user?: string }, cmd: Command) => {
      const owner = ownerOf(o);
      await client(cmd).deleteSecret(owner, name);
      out(asJson(cmd) ? json({ deleted: { secret: name, ...owner } }) : `deleted secret ${name} of ${ownerLabel(owner)}\n`);
    });

  // ---------------------------------------------------------------- credentials
  const credentials = program
    .command('credentials')
    .description('store, list and delete workspace credentials (secret fields are write-only)');
  credentials
    .command('create')
    .description('create a credential; its fields are a JSON object read from --fields-file or stdin')
    .argument('<name>', 'credential name: letters, digits, dashes, underscores')
    .requiredOption('--workspace <name>', 'workspace that owns the credential')
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
    .requiredOption('--workspace <name>', 'workspace')
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
    .requiredOption('--workspace <name>', 'workspace')
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
    .requiredOption('--workspace <name>', 'workspace')
    .addHelpText('after', '\nExample:\n  secret-broker credentials delete hpc-key --workspace genomics')
    .action(async (name: string, o: { workspace: string }, cmd: Command) => {
      await client(cmd).deleteCredential(o.workspace, name);
      out(asJson(cmd) ? json({ deleted: { credential: name, workspace: o.workspace } }) : `deleted credential ${name} of workspace ${o.workspace}\n`);
    });

  // ---------------------------------------------------------------- compute environments
  const computeEnvs = program.command('compute-envs').description('create, list, show, update and delete compute environments');
  computeEnvs
    .command('create')
    .description('create a compute environment')
    .argument('<name>', 'compute environment name: letters, digits, dashes, underscores')
    .requiredOption('--workspace <name>', 'workspace')
    .addOption(new Option('--platform <platform>', 'where runs execute').choices(PLATFORMS).makeOptionMandatory())
    .option('--config <json>', 'non-secret settings as a JSON object, e.g. \'{"workDir":"/scratch/nf"}\'')
    .option('--config-file <path>', 'read the settings JSON object from this file')
    .option('--credential <name>', 'credential (in the same workspace) the environment uses')
    .addHelpText(
      'after',
      `
Settings are not secret (paths, regions, role ARNs); put keys and passwords in a credential.

Examples:
  secret-broker compute-envs create local1 --workspace genomics --platform local --config '{"workDir":"/srv/nf"}'
  secret-broker compute-envs create cluster --workspace genomics --platform hpc --config-file hpc.json --credential hpc-key`,
    )
    .action(
      async (
        name: string,
        o: { workspace: string; platform: string; config?: string; configFile?: string; credential?: string },
        cmd: Command,
      ) => {
        const config = (await readConfig(o)) ?? {};
        const ce = await client(cmd).createComputeEnv(o.workspace, {
          name,
          platform: o.platform as 'local',
          config,
          ...(o.credential === undefined ? {} : { credential: o.credential }),
        });
        out(asJson(cmd) ? json(ce) : `created compute environment ${ce.name} (${ce.platform}) in workspace ${o.workspace} (id ${ce.id})\n`);
      },
    );
  computeEnvs
    .command('list')
    .description('list compute environments')
    .requiredOption('--workspace <name>', 'workspace')
    .addHelpText('after', '\nExample:\n  secret-broker compute-envs list --workspace genomics')
    .action(async (o: { workspace: string }, cmd: Command) => {
      const list = await client(cmd).listComputeEnvs(o.workspace);
      out(
        asJson(cmd)
          ? json(list)
          : table(['NAME', 'PLATFORM', 'CREDENTIAL', 'ID', 'UPDATED'], list.map((c) => [c.name, c.platform, c.credentialId, c.id, c.updatedAt])),
      );
    });
  computeEnvs
    .command('show')
    .description('show one compute environment and its settings')
    .argument('<name>', 'compute environment name')
    .requiredOption('--workspace <name>', 'workspace')
    .addHelpText('after', '\nExample:\n  secret-broker compute-envs show local1 --workspace genomics')
    .action(async (name: string, o: { workspace: string }, cmd: Command) => {
      const ce = await client(cmd).getComputeEnv(o.workspace, name);
      out(asJson(cmd) ? json(ce) : describeComputeEnv(ce));
    });
  computeEnvs
    .command('update')
    .description("change a compute environment's settings or credential (the platform cannot change)")
    .argument('<name>', 'compute environment name')
    .requiredOption('--workspace <name>', 'workspace')
    .option('--config <json>', 'the new settings as a JSON object: replaces all of them, so give every setting to keep')
    .option('--config-file <path>', 'read the new settings JSON object from this file')
    .option('--credential <name>', 'the credential (in the same workspace) to use from now on')
    .addHelpText(
      'after',
      `
--config and --config-file replace the whole settings object; start from the current one
("compute-envs show NAME --workspace W --json"). Runs read the compute environment on every
attempt, so a run stuck deleting (for example on a host key mismatch) uses the change on its
next retry.

When an hpc cluster's host key changes, confirm the new fingerprint on the login node itself (or
with its administrators) before changing the pin:
  ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub     # on the login node: 256 SHA256:... (ED25519)
  ssh-keyscan -t ed25519 login.hpc.example.org | ssh-keygen -lf -   # must print the same SHA256:...

Examples:
  secret-broker --json compute-envs show cluster --workspace genomics \\
    | jq '.config | .hostKeyFingerprint = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"' > hpc.json
  secret-broker compute-envs update cluster --workspace genomics --config-file hpc.json
  secret-broker compute-envs update cluster --workspace genomics --credential hpc-key-2026
  secret-broker compute-envs update local1 --workspace genomics --config '{"workDir":"/scratch/nf"}'`,
    )
    .action(async (name: string, o: { workspace: string; config?: string; configFile?: string; credential?: string }, cmd: Command) => {
      const config = await readConfig(o);
      if (config === undefined && o.credential === undefined) {
        throw new UsageError('nothing to change: give --config JSON, --config-file PATH or --credential NAME');
      }
      const ce = await client(cmd).updateComputeEnv(o.workspace, name, {
        ...(config === undefined ? {} : { config }),
        ...(o.credential === undefined ? {} : { credential: o.credential }),
      });
      out(asJson(cmd) ? json(ce) : `updated compute environment ${ce.name} (${ce.platform}) in workspace ${o.workspace}\n${describeComputeEnv(ce)}`);
    });
  computeEnvs
    .command('delete')
    .description('delete a compute environment')
    .argument('<name>', 'compute environment name')
    .requiredOption('--workspace <name>', 'workspace')
    .addHelpText('after', '\nExample:\n  secret-broker compute-envs delete local1 --workspace genomics')
    .action(async (name: string, o: { workspace: string }, cmd: Command) => {
      await client(cmd).deleteComputeEnv(o.workspace, name);
      out(asJson(cmd) ? json({ deleted: { computeEnv: name, workspace: o.workspace } }) : `deleted compute environment ${name} of workspace ${o.workspace}\n`);
    });

  // ---------------------------------------------------------------- runs
  const runs = program.command('runs').description("place a pipeline run's secrets, and report its end");
  runs
    .command('launch')
    .description("push a run's secrets to its compute environment and wait until they are in place")
    .requiredOption('--run-id <id>', "the platform's run id (TOWER_WORKFLOW_ID)")
    .requiredOption('--workspace <name>', 'workspace of the run')
    .requiredOption('--user <name>', 'user who launches (their secrets override workspace secrets)')
    .requiredOption('--compute-env <name>', 'compute environment of the workspace')
    .option('--secret <name>', 'a secret the run needs; repeat for each', collect, [] as string[])
    .option('--lease <duration>', 'delete the secrets after this long if the end is never reported (90s, 15m, 12h, 30d; default 30d)')
    .option('--env', 'print only the head-job environment, as export NAME=value lines')
    .addHelpText(
      'after',
      `
Prints a summary and the environment the Nextflow head job needs; --env prints only
"export NAME=value" lines (for eval), --json the whole answer. Values of secrets are never printed.

Examples:
  secret-broker runs launch --workspace genomics --user alice --compute-env local1 \\
    --secret NCBI_API_KEY --secret DB_PASSWORD --run-id 4fa9c2 --lease 2h
  eval "$(secret-broker runs launch --workspace genomics --user alice --compute-env local1 \\
    --secret NCBI_API_KEY --run-id 4fa9c2 --env)"`,
    )
    .action(
      async (
        o: { runId: string; workspace: string; user: string; computeEnv: string; secret: string[]; lease?: string; env?: boolean },
        cmd: Command,
      ) => {
        if (o.env && asJson(cmd)) throw new UsageError('give either --env or --json, not both');
        const ready = await client(cmd).launchRun({
          runId: o.runId,
          workspace: o.workspace,
          user: o.user,
          computeEnv: o.computeEnv,
          secrets: o.secret,
          ...(o.lease === undefined ? {} : { lease: o.lease }),
        });
        if (asJson(cmd)) out(json(ready));
        else if (o.env) out(exportLines(ready.headJobEnv));
        else out(describeReady(ready, o.computeEnv));
      },
    );
  runs
    .command('status')
    .description("show a run's phase, secret names, remote references and lease (never values)")
    .argument('<run-id>', 'run id')
    .addHelpText('after', '\nExample:\n  secret-broker runs status 4fa9c2')
    .action(async (runId: string, _o, cmd: Command) => {
      const st = await client(cmd).runStatus(runId);
      out(asJson(cmd) ? json(st) : describeStatus(st));
    });
  runs
    .command('complete')
    .description('report that the run ended: its secrets are deleted')
    .argument('<run-id>', 'run id')
    .addOption(new Option('--status <status>', 'how the run ended').choices(END_STATUSES).makeOptionMandatory())
    .addHelpText('after', '\nExample:\n  secret-broker runs complete 4fa9c2 --status succeeded')
    .action(async (runId: string, o: { status: 'succeeded' | 'failed' | 'cancelled' }, cmd: Command) => {
      await client(cmd).completeRun(runId, o.status);
      out(asJson(cmd) ? json({ runId, completed: o.status }) : `run ${runId}: reported ${o.status}; its secrets are being deleted\n`);
    });
  runs
    .command('cancel')
    .description("cancel the run's broker workflow: its secrets are deleted")
    .argument('<run-id>', 'run id')
    .addHelpText('after', '\nExample:\n  secret-broker runs cancel 4fa9c2')
    .action(async (runId: string, _o, cmd: Command) => {
      await client(cmd).cancelRun(runId);
      out(asJson(cmd) ? json({ runId, cancelled: true }) : `run ${runId}: cancel requested; its secrets are being deleted\n`);
    });
  runs
    .command('renew')
    .description("extend the run's lease: its secrets stay until now + the given duration")
    .argument('<run-id>', 'run id')
    .requiredOption('--extend-by <duration>', 'new lease measured from now: 90s, 15m, 12h, 30d')
    .addHelpText('after', '\nExample:\n  secret-broker runs renew 4fa9c2 --extend-by 7d')
    .action(async (runId: string, o: { extendBy: string }, cmd: Command) => {
      await client(cmd).renewRun(runId, o.extendBy);
      out(asJson(cmd) ? json({ runId, extendBy: o.extendBy }) : `run ${runId}: lease renewed for ${o.extendBy} from now\n`);
    });

  addRotationCommands(program, ctx);

  addVaultCommands(program, ctx);

  return program;
}

function describeComputeEnv(ce: ComputeEnv): string {
  return keyValues([
    ['name', ce.name],
    ['id', ce.id],
    ['platform', ce.platform],
    ['workspace', ce.workspaceId],
    ['credential', ce.credentialId ?? '-'],
    ['config', ce.config],
    ['created', ce.createdAt],
    ['updated', ce.updatedAt],
  ]);
}

function describeReady(r: ReadyResult, computeEnvName: string): string {
  const head = keyValues([
    ['run', r.runId],
    ['workflow', r.workflowId],
    ['compute env', `${computeEnvName} (${r.platform})`],
    ['secrets', r.secretNames.join(', ') || '(none)'],
    ['lease expires', r.leaseExpiresAt],
  ]);
  const refs = r.refs.length ? `\n${table(['SECRET', 'REMOTE', 'LOCATION'], r.refs.map((x) => [x.secretName, x.remoteId, x.location]))}` : '';
  const env = Object.keys(r.headJobEnv).length ? `\nhead-job environment:\n${exportLines(r.headJobEnv)}` : '';
  return `${head}${refs}${env}`;
}

function describeStatus(s: RunStatus): string {
  const head = keyValues([
    ['run', s.runId],
    ['phase', s.phase],
    ['outcome', s.outcome],
    ['platform', s.platform],
    ['workspace', s.workspaceId],
    ['user', s.userId],
    ['compute env', s.computeEnvId],
    ['secrets', s.secretNames.join(', ') || '(none)'],
    ['started', s.startedAt],
    ['ready', s.readyAt],
    ['completed', s.completedAt],
    ['deleted', s.deletedAt],
    ['lease expires', s.leaseExpiresAt],
    ['delete attempts', String(s.deleteAttempts)],
    ['last error', s.lastError],
  ]);
  const refs = s.refs.length
    ? `\n${table(['SECRET', 'STATE', 'REMOTE', 'LOCATION'], s.refs.map((t) => [t.ref.secretName, t.state, t.ref.remoteId, t.ref.location]))}`
    : '';
  return head + refs;
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
