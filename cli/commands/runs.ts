/**
 * `secret-broker runs ...`: launch a pipeline run (its secrets pushed and verified), show its
 * status, report its end, cancel it, renew its lease. Secret values are never printed.
 */
import { Option, type Command } from 'commander';
import { workspaceOption, type CliContext } from '../context';
import type { BrokerApiClient, Links, RunStatusAnswer } from '../api-client';
import { exportLines, json, keyValues, table } from '../format';
import { UsageError, type CliIo } from '../io';
import type { ReadyResult } from '../../domain/run';

const PHASES = ['resolving', 'pushing', 'verifying', 'ready', 'deleting', 'deleted'];

const END_STATUSES = ['succeeded', 'failed', 'cancelled'];

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function describeReady(r: ReadyResult & Links, computeEnvName: string): string {
  const head = keyValues([
    ['run', r.runId],
    ['workflow', r.workflowId],
    ['compute env', `${computeEnvName} (${r.platform})`],
    ['secrets', r.secretNames.join(', ') || '(none)'],
    ['lease expires', r.leaseExpiresAt],
    ['web ui', r.links?.webUi],
  ]);
  const refs = r.refs.length ? `\n${table(['SECRET', 'REMOTE', 'LOCATION'], r.refs.map((x) => [x.secretName, x.remoteId, x.location]))}` : '';
  const env = Object.keys(r.headJobEnv).length ? `\nhead-job environment:\n${exportLines(r.headJobEnv)}` : '';
  return `${head}${refs}${env}`;
}

function describeStatus(s: RunStatusAnswer): string {
  const head = keyValues([
    ['run', s.runId],
    ['phase', s.phase],
    ['outcome', s.outcome],
    ['platform', s.platform],
    ['workspace', s.names?.workspace ?? s.workspaceId],
    ['user', s.names?.user ?? s.userId],
    ['compute env', s.names?.computeEnv ?? s.computeEnvId],
    ['secrets', s.secretNames.join(', ') || '(none)'],
    ['started', s.startedAt],
    ['ready', s.readyAt],
    ['completed', s.completedAt],
    ['deleted', s.deletedAt],
    ['lease expires', s.leaseExpiresAt],
    ['delete attempts', String(s.deleteAttempts)],
    ['last error', s.lastError],
    ['cleanup', s.cleanup ? `${s.cleanup.phase} (${s.cleanup.workflowId}; delete rounds ${s.cleanup.deleteAttempts}${s.cleanup.lastError ? `; ${s.cleanup.lastError}` : ''})` : undefined],
    ['web ui', s.links?.webUi],
  ]);
  const refs = s.refs.length
    ? `\n${table(['SECRET', 'STATE', 'REMOTE', 'LOCATION'], s.refs.map((t) => [t.ref.secretName, t.state, t.ref.remoteId, t.ref.location]))}`
    : '';
  return head + refs;
}

/**
 * While a launch waits, one line on a terminal's stderr, rewritten every second: the run's phase
 * (read from the API) and the time waited. Nothing when stderr is not a terminal.
 */
function progress(io: CliIo, api: BrokerApiClient, runId: string, everyMs = 1000): { stop(): void } {
  if (!io.stderr.isTTY) return { stop: () => undefined };
  const t0 = Date.now();
  let phase = 'starting';
  let stopped = false;
  const draw = () => {
    if (!stopped) io.stderr.write(`\r\x1b[Klaunching ${runId}: ${phase} (${Math.round((Date.now() - t0) / 1000)}s)`);
  };
  draw();
  const timer = setInterval(() => {
    api.runStatus(runId).then(
      (s) => {
        phase = s.phase;
        draw();
      },
      () => draw(),
    );
  }, everyMs);
  timer.unref?.();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
      io.stderr.write('\r\x1b[K');
    },
  };
}

export function addRunCommands(program: Command, ctx: CliContext): void {
  const { client, asJson, out } = ctx;
  const runs = program.command('runs').description("place a pipeline run's secrets, and report its end");
  runs
    .command('launch')
    .description("push a run's secrets to its compute environment and wait until they are in place")
    .requiredOption('--run-id <id>', "the platform's run id (TOWER_WORKFLOW_ID)")
    .addOption(workspaceOption(ctx, 'workspace of the run'))
    .option('--user <name>', "whose user secrets the run gets (they override workspace secrets): yourself by default; the launch service names the user")
    .requiredOption('--compute-env <name>', 'compute environment of the workspace')
    .option('--secret <name>', 'a secret the run needs; repeat for each', collect, [] as string[])
    .option('--lease <duration>', 'delete the secrets after this long if the end is never reported (90s, 15m, 12h, 30d; default 30d)')
    .option('--env', 'print only the head-job environment, as export NAME=value lines')
    .addHelpText(
      'after',
      `
Prints a summary, the link to the run in the Temporal Web UI and the environment the Nextflow
head job needs; --env prints only "export NAME=value" lines (for eval), --json the whole answer.
While it waits, a terminal shows the run's phase on stderr. Values of secrets are never printed.

Examples:
  secret-broker runs launch --workspace genomics --user alice --compute-env local1 \\
    --secret NCBI_API_KEY --secret DB_PASSWORD --run-id 4fa9c2 --lease 2h
  eval "$(secret-broker runs launch --workspace genomics --user alice --compute-env local1 \\
    --secret NCBI_API_KEY --run-id 4fa9c2 --env)"`,
    )
    .action(
      async (
        o: { runId: string; workspace: string; user?: string; computeEnv: string; secret: string[]; lease?: string; env?: boolean },
        cmd: Command,
      ) => {
        if (o.env && asJson(cmd)) throw new UsageError('give either --env or --json, not both');
        const api = client(cmd);
        const shown = asJson(cmd) || o.env ? { stop: () => undefined } : progress(ctx.io, api, o.runId, ctx.pollMs);
        let ready;
        try {
          ready = await api.launchRun({
            runId: o.runId,
            workspace: o.workspace,
            ...(o.user === undefined ? {} : { user: o.user }),
            computeEnv: o.computeEnv,
            secrets: o.secret,
            ...(o.lease === undefined ? {} : { lease: o.lease }),
          });
        } finally {
          shown.stop();
        }
        if (asJson(cmd)) out(json(ready));
        else if (o.env) out(exportLines(ready.headJobEnv));
        else out(describeReady(ready, o.computeEnv));
      },
    );
  runs
    .command('list')
    .description("list a workspace's runs, newest first, with their phase (from Temporal's visibility)")
    .addOption(workspaceOption(ctx, 'workspace of the runs'))
    .addOption(new Option('--phase <phase>', 'only runs in this phase').choices(PHASES))
    .option('--compute-env <name>', 'only runs on this compute environment')
    .addOption(new Option('--status <status>', 'only running or only closed runs').choices(['running', 'closed']))
    .option('--limit <n>', 'at most this many runs (default 50)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 1000) throw new UsageError('--limit: must be a whole number from 1 to 1000');
      return n;
    })
    .addHelpText(
      'after',
      `
Examples:
  secret-broker runs list --workspace genomics
  secret-broker runs list --workspace genomics --phase deleting          # stuck deleting?
  secret-broker -o json runs list --workspace genomics --status running --limit 200`,
    )
    .action(async (o: { workspace: string; phase?: string; computeEnv?: string; status?: string; limit?: number }, cmd: Command) => {
      const api = client(cmd);
      const limit = o.limit ?? 50;
      const rows: Awaited<ReturnType<BrokerApiClient['listRuns']>>['runs'] = [];
      let cursor: string | undefined;
      do {
        const page = await api.listRuns(o.workspace, {
          limit: Math.min(1000, limit - rows.length),
          ...(o.phase ? { phase: o.phase } : {}),
          ...(o.computeEnv ? { computeEnv: o.computeEnv } : {}),
          ...(o.status ? { status: o.status } : {}),
          ...(cursor ? { cursor } : {}),
        });
        rows.push(...page.runs);
        cursor = page.nextCursor;
      } while (cursor && rows.length < limit);
      out(
        asJson(cmd)
          ? json(rows)
          : table(
              ['RUN', 'PHASE', 'EXECUTION', 'COMPUTE ENV', 'USER', 'STARTED', 'CLOSED'],
              rows.map((r) => [r.runId, r.phase, r.execution, r.computeEnv, r.user, r.startedAt, r.closedAt]),
            ),
      );
    });
  runs
    .command('status')
    .description("show a run's phase, names, remote references, lease and Web UI link (never values)")
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
      const a = await client(cmd).renewRun(runId, o.extendBy);
      if (asJson(cmd)) return out(json({ runId, extendBy: o.extendBy, ...(a.leaseExpiresAt ? { leaseExpiresAt: a.leaseExpiresAt } : {}) }));
      out(`run ${runId}: lease renewed for ${o.extendBy} from now${a.leaseExpiresAt ? ` (until ${a.leaseExpiresAt})` : ''}\n`);
    });
}
