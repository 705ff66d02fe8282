/**
 * The pipeline-run activities. Each takes references and returns references: a secret value exists
 * only inside pushSecrets, between the vault read and the provider call.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { PlainSecret, RunContext, SecretTarget } from '../targets/types';
import type { ComputeEnv, VaultApi } from '../store/types';
import {
  type PipelineRunInput,
  type PushResult,
  type RemoteRef,
  type ResolvedRun,
  type SecretRef,
} from '../domain/run';
import { toFailure } from './errors';
import { ErrorType, describeMissing } from '../domain/errors';
import { RUN_ID_PATTERN, RUN_ID_RULE } from '../domain/rules';
import { noopMetrics, type ActivityMetrics, type MetricTarget } from '../telemetry/metrics';

export interface ActivityDeps {
  vault: VaultApi;
  /** A secret target for a compute environment (built with credentials from the vault). */
  target(ce: ComputeEnv): Promise<SecretTarget>;
  /** Pushes, deletes and verification failures by compute environment and platform (never a name or value). */
  metrics?: ActivityMetrics;
}

export interface PushInput {
  run: PipelineRunInput;
  secrets: SecretRef[];
}

export interface RefsInput {
  run: PipelineRunInput;
  refs: RemoteRef[];
}

export type DeleteResult = { ref: RemoteRef; outcome: 'deleted' | 'not-found' | 'not-owned' }[];

export function createPipelineRunActivities(deps: ActivityDeps) {
  const { vault } = deps;
  const metrics = deps.metrics ?? noopMetrics;

  async function computeEnvFor(run: PipelineRunInput): Promise<ComputeEnv> {
    // A missing one is a ComputeEnvNotFoundError (from the vault, non-retryable); a vault that did
    // not answer is retried like any other failure.
    const ce = await vault.getComputeEnv(run.computeEnvId);
    if (ce.workspaceId !== run.workspaceId) {
      throw ApplicationFailure.create({ type: ErrorType.InvalidInput, message: `compute environment ${ce.name} does not belong to workspace ${run.workspaceId}`, nonRetryable: true });
    }
    return ce;
  }

  /** Where a metric is recorded: the platform is learned once the compute environment is read. */
  const metricTarget = (run: PipelineRunInput): MetricTarget => ({ computeEnvId: run.computeEnvId, platform: 'unknown' });

  async function withTarget<T>(run: PipelineRunInput, fn: (t: SecretTarget, ctx: RunContext) => Promise<T>, where?: MetricTarget): Promise<T> {
    const ce = await computeEnvFor(run);
    if (where) where.platform = ce.platform;
    const target = await deps.target(ce);
    try {
      return await fn(target, { runId: run.runId, workspaceId: run.workspaceId, computeEnv: ce });
    } finally {
      await target.close();
    }
  }

  return {
    /** Check the run's inputs, resolve names to vault refs (user over workspace), plan the remote refs. */
    async resolveRun(run: PipelineRunInput): Promise<ResolvedRun> {
      if (!RUN_ID_PATTERN.test(run.runId)) {
        throw ApplicationFailure.create({ type: ErrorType.InvalidInput, message: `runId: ${RUN_ID_RULE}`, nonRetryable: true });
      }
      try {
        const [workspace, user] = await Promise.all([vault.getWorkspace(run.workspaceId), vault.getUser(run.userId)]);
        const { found, missing } = await vault.resolveSecrets({ workspaceId: run.workspaceId, userId: run.userId, names: run.secretNames });
        if (missing.length) {
          throw ApplicationFailure.create({
            type: ErrorType.SecretNotFound,
            message: `secret${missing.length > 1 ? 's' : ''} not found in workspace ${workspace.name} or for user ${user.name}: ${missing.join(', ')}`,
            nonRetryable: true,
            details: [missing],
          });
        }
        return await withTarget(run, async (target, ctx) => ({
          workspaceName: workspace.name,
          userName: user.name,
          computeEnvName: ctx.computeEnv.name,
          platform: ctx.computeEnv.platform,
          secrets: found,
          plannedRefs: target.plan(ctx, found.map((s) => s.name)),
        }));
      } catch (err) {
        throw toFailure(err);
      }
    },

    /** Read each value from the vault and place them all; heartbeats the count pushed. */
    async pushSecrets({ run, secrets }: PushInput): Promise<PushResult> {
      const values: string[] = [];
      const where = metricTarget(run);
      try {
        const plain: PlainSecret[] = [];
        for (const ref of secrets) {
          const value = await vault.readSecretValue(ref);
          values.push(value);
          plain.push({ name: ref.name, value });
        }
        const result = await withTarget(run, (target, ctx) => target.push(ctx, plain, (done) => Context.current().heartbeat(done)), where);
        metrics.pushed(where, 'pushed', result.refs.length);
        return result;
      } catch (err) {
        metrics.pushed(where, 'failed', secrets.length);
        throw toFailure(err, values);
      }
    },

    /** Prove the run's identities can read what was pushed and the broker can delete it. */
    async verifyAccess({ run, refs }: RefsInput): Promise<void> {
      let result;
      const where = metricTarget(run);
      try {
        result = await withTarget(run, (target, ctx) => target.verify(ctx, refs), where);
      } catch (err) {
        const failure = toFailure(err);
        metrics.verificationFailed(where, failure.type ?? 'ProviderError');
        throw failure;
      }
      if (!result.ok) {
        metrics.verificationFailed(where, ErrorType.AccessVerification);
        throw ApplicationFailure.create({
          type: ErrorType.AccessVerification,
          message: `access check failed: ${describeMissing(result.missing)}`,
          nonRetryable: true,
          details: [result.missing],
        });
      }
    },

    /** Delete exactly these refs. Not found counts as deleted; what the broker does not own is left alone. */
    async deleteSecrets({ run, refs }: RefsInput): Promise<DeleteResult> {
      const where = metricTarget(run);
      try {
        const outcomes = await withTarget(run, (target, ctx) => target.delete(ctx, refs), where);
        for (const outcome of ['deleted', 'not-found', 'not-owned'] as const) metrics.deleted(where, outcome, outcomes.filter((o) => o === outcome).length);
        return refs.map((ref, i) => ({ ref, outcome: outcomes[i] }));
      } catch (err) {
        // Every failed attempt is tried again: by the activity's retry, then by the workflow's next round.
        metrics.deleted(where, 'failed', refs.length);
        metrics.deleteRetried(where);
        throw toFailure(err);
      }
    },
  };
}
