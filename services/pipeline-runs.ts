/**
 * The launch service's library: start a run and wait until its secrets are in place in one call
 * (Update-with-Start), then report the end, renew the lease, cancel, or read the state.
 */
import {
  Client,
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { pipelineRun, renewLeaseSignal, runCompletedSignal, statusQuery, waitReadyUpdate } from '../workflows/pipeline-run';
import { ComputeEnvKey, PhaseKey, PlatformKey, RunIdKey, WorkspaceKey } from '../workflows/search-attributes';
import { LEASE_RULE, TASK_QUEUE, isValidLease, pipelineRunWorkflowId, type MissingPermission, type PipelineRunInput, type ReadyResult, type RunStatus } from '../domain/run';
import { ValidationError, ErrorType, LaunchError } from '../domain/errors';
import { type LaunchRequest, type PipelineRunsApi } from './types';
import { RUN_ID_PATTERN, RUN_ID_RULE } from '../domain/rules';
import { noopMetrics, type LaunchMetrics, type LaunchOutcome } from '../telemetry/metrics';

export class PipelineRuns implements PipelineRunsApi {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string = TASK_QUEUE,
    /** Launches by outcome and their latency (the broker's /metrics); nothing recorded by default. */
    private readonly metrics: LaunchMetrics = noopMetrics,
  ) {}

  async launch(req: LaunchRequest): Promise<ReadyResult> {
    if (!RUN_ID_PATTERN.test(req.runId)) throw new ValidationError('runId', RUN_ID_RULE);
    if (req.leaseMs !== undefined) checkLease(req.leaseMs, 'leaseMs');
    const workflowId = pipelineRunWorkflowId(req.runId);
    const input: PipelineRunInput = {
      runId: req.runId,
      workspaceId: req.workspaceId,
      userId: req.userId,
      computeEnvId: req.computeEnvId,
      secretNames: req.secretNames,
      ...(req.leaseMs !== undefined ? { leaseMs: req.leaseMs } : {}),
      ...(req.historyLimit !== undefined ? { historyLimit: req.historyLimit } : {}),
    };
    const labels = req.labels ?? {};
    const startWorkflowOperation = new WithStartWorkflowOperation(pipelineRun, {
      workflowId,
      taskQueue: this.taskQueue,
      args: [input],
      // A run id is launched once: a live run refuses a second launch, and so does a closed one.
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: [
        { key: RunIdKey, value: req.runId },
        { key: WorkspaceKey, value: labels.workspace ?? req.workspaceId },
        { key: ComputeEnvKey, value: labels.computeEnv ?? req.computeEnvId },
        ...(labels.platform ? [{ key: PlatformKey, value: labels.platform }] : []),
        { key: PhaseKey, value: 'resolving' },
      ],
      memo: { user: labels.user ?? req.userId, secretNames: req.secretNames },
    });
    const t0 = process.hrtime.bigint();
    const record = (outcome: LaunchOutcome) =>
      this.metrics.launched({ outcome, seconds: Number(process.hrtime.bigint() - t0) / 1e9, computeEnvId: req.computeEnvId, ...(labels.platform ? { platform: labels.platform } : {}) });
    try {
      const ready = await this.client.workflow.executeUpdateWithStart(waitReadyUpdate, { startWorkflowOperation });
      record('ready');
      return ready;
    } catch (err) {
      const e = toLaunchError(err, req.runId);
      record(e instanceof LaunchError ? (e.code === 'duplicate-run' ? 'duplicate' : 'failed') : 'error');
      throw e;
    }
  }

  async complete(runId: string, status: 'succeeded' | 'failed' | 'cancelled'): Promise<void> {
    await this.wrap(runId, () => this.handle(runId).signal(runCompletedSignal, { status }));
  }

  async cancel(runId: string): Promise<void> {
    await this.wrap(runId, () => this.handle(runId).cancel());
  }

  async renew(runId: string, extendByMs: number): Promise<void> {
    checkLease(extendByMs, 'extendByMs');
    await this.wrap(runId, () => this.handle(runId).signal(renewLeaseSignal, { extendByMs }));
  }

  async state(runId: string): Promise<RunStatus> {
    return this.wrap(runId, () => this.handle(runId).query(statusQuery));
  }

  async waitClosed(runId: string): Promise<RunStatus> {
    try {
      await this.handle(runId).result();
    } catch (err) {
      // Cancelled and failed launches end in a failed workflow; the state still says what happened.
      if (!(err instanceof WorkflowFailedError)) throw err;
    }
    return this.state(runId);
  }

  private handle(runId: string) {
    return this.client.workflow.getHandle<typeof pipelineRun>(pipelineRunWorkflowId(runId));
  }

  private async wrap<T>(runId: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new LaunchError(`run ${runId} not found`, 'not-found');
      throw err;
    }
  }
}

function checkLease(ms: number, field: string): void {
  if (!isValidLease(ms)) throw new ValidationError(field, LEASE_RULE);
}

function toLaunchError(err: unknown, runId: string): unknown {
  if (err instanceof WorkflowExecutionAlreadyStartedError) {
    return new LaunchError(`run ${runId} was already launched; a run id is used once`, 'duplicate-run');
  }
  if (err instanceof WorkflowUpdateFailedError) {
    const cause = err.cause;
    if (cause instanceof ApplicationFailure) {
      const [first] = (cause.details ?? []) as unknown[];
      const missing = cause.type === ErrorType.AccessVerification && Array.isArray(first) ? (first as MissingPermission[]) : undefined;
      return new LaunchError(cause.message, 'launch-failed', cause.type ?? undefined, missing);
    }
    return new LaunchError(cause?.message ?? err.message, 'launch-failed');
  }
  return err;
}
