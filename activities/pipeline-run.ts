/**
 * The pipeline-run activities. Each takes references and returns references: a secret value exists
 * only inside pushSecrets, between the vault read and the provider call.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { PlainSecret, RunContext, SecretTarget } from '../targets/types';
import type { ComputeEnv, VaultApi } from '../store/types';
import {
  type MissingPermission,
  type PipelineRunInput,
  type PushResult,
  type RemoteRef,
  type ResolvedRun,
  type SecretRef,
} from '../domain/run';
import { toFailure } from './errors';
import { heartbeating } from './heartbeat';
import { ErrorType, describeMissing } from '../domain/errors';
import { RUN_ID_PATTERN, RUN_ID_RULE } from '../domain/rules';

export interface ActivityDeps {
  vault: VaultApi;
  /** A secret target for a compute environment (built with credentials from the vault). */
  target(ce: ComputeEnv): Promise<SecretTarget>;
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

/** A failed access check: names every missing permission; retrying cannot help. */
function accessCheckFailed(missing: MissingPermission[]): ApplicationFailure {
  return ApplicationFailure.create({ type: ErrorType.AccessVerification, message: `access check failed: ${describeMissing(missing)}`, nonRetryable: true, details: [missing] });
}

export function createPipelineRunActivities(deps: ActivityDeps) {
  const { vault } = deps;

  async function computeEnvFor(run: PipelineRunInput): Promise<ComputeEnv> {
    // A missing one is a ComputeEnvNotFoundError (from the vault, non-retryable); a vault that did
    // not answer is retried like any other failure.
    const ce = await vault.getComputeEnv(run.computeEnvId);
    if (ce.workspaceId !== run.workspaceId) {
      throw ApplicationFailure.create({ type: ErrorType.InvalidInput, message: `compute environment ${ce.name} does not belong to workspace ${run.workspaceId}`, nonRetryable: true });
    }
    return ce;
  }

  /**
   * The run's target, closed afterwards; and closed at once if the activity is cancelled or given up,
   * which cuts its connections, so nothing this attempt started can still write.
   */
  async function withTarget<T>(run: PipelineRunInput, signal: AbortSignal, fn: (t: SecretTarget, ctx: RunContext) => Promise<T>): Promise<T> {
    const ce = await computeEnvFor(run);
    const target = await deps.target(ce);
    const cut = () => void target.close().catch(() => undefined);
    signal.addEventListener('abort', cut, { once: true });
    try {
      signal.throwIfAborted();
      return await fn(target, { runId: run.runId, workspaceId: run.workspaceId, computeEnv: ce, signal });
    } finally {
      signal.removeEventListener('abort', cut);
      await target.close();
    }
  }

  return {
    /** Check the run's inputs, resolve names to vault refs (user over workspace), plan the remote refs. */
    resolveRun: (run: PipelineRunInput): Promise<ResolvedRun> =>
      heartbeating(async ({ signal }) => {
        if (!RUN_ID_PATTERN.test(run.runId)) {
          throw ApplicationFailure.create({ type: ErrorType.InvalidInput, message: `runId: ${RUN_ID_RULE}`, nonRetryable: true });
        }
        try {
          // One transaction: the workspace, the user and every name (user over workspace).
          const { found, missing, workspaceName, userName } = await vault.resolveSecrets({ workspaceId: run.workspaceId, userId: run.userId, names: run.secretNames });
          if (missing.length) {
            throw ApplicationFailure.create({
              type: ErrorType.SecretNotFound,
              message: `secret${missing.length > 1 ? 's' : ''} not found in workspace ${workspaceName} or for user ${userName}: ${missing.join(', ')}`,
              nonRetryable: true,
              details: [missing],
            });
          }
          return await withTarget(run, signal, async (target, ctx) => ({
            workspaceName,
            userName,
            computeEnvName: ctx.computeEnv.name,
            platform: ctx.computeEnv.platform,
            secrets: found,
            plannedRefs: target.plan(ctx, found.map((s) => s.name)),
          }));
        } catch (err) {
          throw toFailure(err);
        }
      }),

    /**
     * Read each value from the vault and place them all; heartbeats the count pushed. A run with no
     * secrets places nothing (no run directory, no empty store): nothing to delete, nothing left.
     */
    pushSecrets: ({ run, secrets }: PushInput): Promise<PushResult> =>
      heartbeating(async ({ signal, progress }) => {
        if (!secrets.length) return { refs: [], headJobEnv: {} };
        const values: string[] = [];
        try {
          const plain: PlainSecret[] = [];
          for (const [i, value] of (await vault.readSecretValues(secrets)).entries()) {
            values.push(value);
            plain.push({ name: secrets[i].name, value });
          }
          return await withTarget(run, signal, (target, ctx) => target.push(ctx, plain, progress));
        } catch (err) {
          throw toFailure(err, values);
        }
      }),

    /**
     * Push and verify in one activity (one connection, one task-queue hop): what a run launched by
     * the current workflow code calls. A failed check fails it as AccessVerificationError, not
     * retried; the workflow then deletes what was planned, pushed or not.
     */
    placeSecrets: ({ run, secrets }: PushInput): Promise<PushResult> =>
      heartbeating(async ({ signal, progress }) => {
        if (!secrets.length) return { refs: [], headJobEnv: {} };
        const values: string[] = [];
        try {
          const plain: PlainSecret[] = [];
          for (const [i, value] of (await vault.readSecretValues(secrets)).entries()) {
            values.push(value);
            plain.push({ name: secrets[i].name, value });
          }
          return await withTarget(run, signal, async (target, ctx) => {
            const pushed = await target.push(ctx, plain, progress);
            const verified = await target.verify(ctx, pushed.refs);
            if (!verified.ok) throw accessCheckFailed(verified.missing);
            return pushed;
          });
        } catch (err) {
          throw toFailure(err, values);
        }
      }),

    /** Prove the run's identities can read what was pushed and the broker can delete it. */
    verifyAccess: ({ run, refs }: RefsInput): Promise<void> =>
      heartbeating(async ({ signal }) => {
        if (!refs.length) return;
        let result;
        try {
          result = await withTarget(run, signal, (target, ctx) => target.verify(ctx, refs));
        } catch (err) {
          throw toFailure(err);
        }
        if (!result.ok) throw accessCheckFailed(result.missing);
      }),

    /** Delete exactly these refs. Not found counts as deleted; what the broker does not own is left alone. */
    deleteSecrets: ({ run, refs }: RefsInput): Promise<DeleteResult> =>
      heartbeating(async ({ signal }) => {
        try {
          const outcomes = await withTarget(run, signal, (target, ctx) => target.delete(ctx, refs));
          return refs.map((ref, i) => ({ ref, outcome: outcomes[i] }));
        } catch (err) {
          throw toFailure(err);
        }
      }),
  };
}
