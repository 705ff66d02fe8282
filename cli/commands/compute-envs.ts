/** `secret-broker compute-envs ...`: create, list, show, update and delete compute environments. */
import { Option, type Command } from 'commander';
import { workspaceOption, type CliContext } from '../context';
import { json, keyValues, table } from '../format';
import { UsageError } from '../io';
import type { ComputeEnv } from '../../store/types';

const PLATFORMS = ['local', 'hpc', 'aws', 'gcp'];

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

export function addComputeEnvCommands(program: Command, ctx: CliContext): void {
  const { client, asJson, out, readConfig } = ctx;
  const computeEnvs = program.command('compute-envs').description('create, list, show, update and delete compute environments');
  computeEnvs
    .command('create')
    .description('create a compute environment')
    .argument('<name>', 'compute environment name: letters, digits, dashes, underscores')
    .addOption(workspaceOption(ctx, 'workspace'))
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
    .addOption(workspaceOption(ctx, 'workspace'))
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
    .addOption(workspaceOption(ctx, 'workspace'))
    .addHelpText('after', '\nExample:\n  secret-broker compute-envs show local1 --workspace genomics')
    .action(async (name: string, o: { workspace: string }, cmd: Command) => {
      const ce = await client(cmd).getComputeEnv(o.workspace, name);
      out(asJson(cmd) ? json(ce) : describeComputeEnv(ce));
    });
  computeEnvs
    .command('update')
    .description("change a compute environment's settings or credential (the platform cannot change)")
    .argument('<name>', 'compute environment name')
    .addOption(workspaceOption(ctx, 'workspace'))
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
    .addOption(workspaceOption(ctx, 'workspace'))
    .addHelpText('after', '\nExample:\n  secret-broker compute-envs delete local1 --workspace genomics')
    .action(async (name: string, o: { workspace: string }, cmd: Command) => {
      await client(cmd).deleteComputeEnv(o.workspace, name);
      out(asJson(cmd) ? json({ deleted: { computeEnv: name, workspace: o.workspace } }) : `deleted compute environment ${name} of workspace ${o.workspace}\n`);
    });
}
