/**
 * `secret-broker runs ...`: launch a pipeline run (its secrets pushed and verified), show its
 * status, report its end, cancel it, renew its lease. Secret values are never printed.
 */
import { Option, type Command } from 'commander';
import type { CliContext } from '../context';
import { exportLines, json, keyValues, table } from '../format';
import { UsageError } from '../io';
import type { ReadyResult, RunStatus } from '../../domain/run';

const END_STATUSES = ['succeeded', 'failed', 'cancelled'];

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
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
    ['cleanup', s.cleanup ? `${s.cleanup.phase} (${s.cleanup.workflowId}; delete rounds ${s.cleanup.deleteAttempts}${s.cleanup.lastError ? `; ${s.cleanup.lastError}` : ''})` : undefined],
  ]);
  const refs = s.refs.length
    ? `\n${table(['SECRET', 'STATE', 'REMOTE', 'LOCATION'], s.refs.map((t) => [t.ref.secretName, t.state, t.ref.remoteId, t.ref.location]))}`
    : '';
  return head + refs;
}

export function addRunCommands(program: Command, ctx: CliContext): void {
  const { client, asJson, out } = ctx;
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
      const a = await client(cmd).completeRun(runId, o.status);
      if (asJson(cmd)) return out(json({ runId, completed: o.status, result: a.result ?? 'accepted', ...(a.outcome ? { outcome: a.outcome } : {}) }));
      out(a.result === 'already-ended' ? `run ${runId}: already ended (${a.outcome ?? 'ending'}); nothing more to do\n` : `run ${runId}: reported ${o.status}; its secrets are being deleted\n`);
    });
  runs
    .command('cancel')
    .description("cancel the run's broker workflow: its secrets are deleted")
    .argument('<run-id>', 'run id')
    .addHelpText('after', '\nExample:\n  secret-broker runs cancel 4fa9c2')
    .action(async (runId: string, _o, cmd: Command) => {
      const a = await client(cmd).cancelRun(runId);
      if (asJson(cmd)) return out(json({ runId, cancelled: true, result: a.result ?? 'accepted', ...(a.outcome ? { outcome: a.outcome } : {}) }));
      out(a.result === 'already-ended' ? `run ${runId}: already ended (${a.outcome ?? 'ending'}); nothing more to do\n` : `run ${runId}: cancel requested; its secrets are being deleted\n`);
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
}
