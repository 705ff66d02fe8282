/**
 * The launch service's library: start a run and wait until its secrets are in place in one call
 * (Update-with-Start), then report the end, renew the lease, cancel, or read the state.
 *
 * Every call is safe to retry, because a launch service retries whatever it did not hear back from:
 * - launch: the same request attaches to the run already going and gets its ready answer (or its
 *   launch error); a different request under a used run id is refused, naming what differs; a run
 *   whose launch failed (closed without anything left behind) may be launched again; a run that got
 *   past its launch and ended is answered "already ended" with its outcome;
 * - complete and cancel: a run that already ended is answered "already ended" with its outcome.
 * Temporal being unreachable is TemporalUnavailableError within seconds (services/temporal.ts).
 */
import {
  Client,
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import {
  DIFFERENT_REQUEST,
  RUN_ALREADY_ENDED,
  completeRunUpdate,
  pipelineRun,
  renewLeaseSignal,
  renewLeaseUpdate,
  runCompletedSignal,
  statusQuery,
  waitReadyUpdate,
} from '../workflows/pipeline-run';
import { ComputeEnvKey, PhaseKey, PlatformKey, RunIdKey, WorkspaceKey } from '../workflows/search-attributes';
import { cleanupWorkflowId, runCleanupStatusQuery } from '../workflows/cleanup';
import { isClosedBeforeFirstTask, startInput } from '../codec/start-input';
import {
  LEASE_RULE,
  TASK_QUEUE,
  isValidLease,
  pipelineRunWorkflowId,
  statusAtStart,
  type CompleteAnswer,
  type LaunchKey,
  type MissingPermission,
  type PipelineRunInput,
  type ReadyResult,
  type RenewAnswer,
  type RunStatus,
} from '../domain/run';
import { runDetails, runSummary, type RunLabels } from '../domain/operator-view';
import { ErrorType, LaunchError, TemporalUnavailableError, ValidationError } from '../domain/errors';
import { RUN_ID_PATTERN, RUN_ID_RULE } from '../domain/rules';
import { noopMetrics, type LaunchMetrics, type LaunchOutcome } from '../telemetry/metrics';
import { TEMPORAL_CALL_DEADLINE_MS, isWorkflowTaskFailing, withTemporal } from './temporal';
import type { CancelAnswer, LaunchRequest, PipelineRunsApi } from './types';

/** How long a launch may wait for its run to be ready before the caller is told to retry. */
const LAUNCH_DEADLINE_MS = 10 * 60_000;
/** How long a completion waits for the workflow's own answer before it is left as a signal. */
const COMPLETE_ANSWER_MS = 5_000;

/** How a closed run's workflow closed, in the run's own words. */
const CLOSED_AS: Record<string, string> = { COMPLETED: 'completed', FAILED: 'launch-failed', CANCELLED: 'cancelled', TERMINATED: 'terminated', TIMED_OUT: 'timed-out' };

export interface PipelineRunsOptions {
  /** How long a launch may wait for its run to be ready (default 10 minutes). */
  launchDeadlineMs?: number;
  /** How long any other call may wait for Temporal's answer (default TEMPORAL_CALL_DEADLINE_MS). */
  callDeadlineMs?: number;
  /** Launches by outcome and their latency (the broker's /metrics); nothing recorded by default. */
  metrics?: LaunchMetrics;
}

export class PipelineRuns implements PipelineRunsApi {
  private readonly launchDeadlineMs: number;
  private readonly callDeadlineMs: number;
  private readonly metrics: LaunchMetrics;

  constructor(
    private readonly client: Client,
    private readonly taskQueue: string = TASK_QUEUE,
    options: PipelineRunsOptions = {},
  ) {
    this.launchDeadlineMs = options.launchDeadlineMs ?? LAUNCH_DEADLINE_MS;
    this.callDeadlineMs = options.callDeadlineMs ?? TEMPORAL_CALL_DEADLINE_MS;
    this.metrics = options.metrics ?? noopMetrics;
  }

  async launch(req: LaunchRequest): Promise<ReadyResult> {
    if (!RUN_ID_PATTERN.test(req.runId)) throw new ValidationError('runId', RUN_ID_RULE);
    if (req.leaseMs !== undefined) checkLease(req.leaseMs, 'leaseMs');
    const t0 = process.hrtime.bigint();
    const record = (outcome: LaunchOutcome) =>
      this.metrics.launched({ outcome, seconds: Number(process.hrtime.bigint() - t0) / 1e9, computeEnvId: req.computeEnvId, ...(req.labels?.platform ? { platform: req.labels.platform } : {}) });
    try {
      const ready = await this.launchOrJoin(req);
      record('ready');
      return ready;
    } catch (err) {
      record(err instanceof LaunchError ? (err.code === 'duplicate-run' || err.code === 'already-ended' ? 'duplicate' : 'failed') : 'error');
      throw err;
    }
  }

  /** Start the run, or join the one going with the same request; a run id past its launch is refused. */
  private async launchOrJoin(req: LaunchRequest): Promise<ReadyResult> {
    const key: LaunchKey = { workspaceId: req.workspaceId, userId: req.userId, computeEnvId: req.computeEnvId, secretNames: req.secretNames };
    // A run whose workflow task is failing (its worker was lost mid-task) refuses the update until a
    // worker runs the task again: asked again (it attaches to the same run) until the launch deadline.
    const deadline = Date.now() + this.launchDeadlineMs;
    let pauseMs = 250;
    // Twice at most: a run that closes between the look and the start is looked at again.
    for (let attempt = 1; ; attempt++) {
      const prior = await this.describe(req.runId);
      const closed = prior && prior.status.name !== 'RUNNING';
      if (closed && prior.status.name !== 'FAILED') {
        // Got past its launch (or was stopped): the run id is spent; say how it ended.
        const outcome = await this.outcomeOf(req.runId, prior);
        throw new LaunchError(`run ${req.runId} already ended (${outcome}); a run id that got past its launch is not launched again`, 'already-ended', undefined, undefined, outcome);
      }
      try {
        return await this.start(req, key, closed ? 'ALLOW_DUPLICATE' : 'REJECT_DUPLICATE');
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError && attempt < 2) continue;
        if (isWorkflowTaskFailing(err)) {
          if (Date.now() + pauseMs >= deadline) throw new TemporalUnavailableError(`the launch of run ${req.runId} was not answered: its workflow task keeps failing (no worker runs it); retry: the call is safe to repeat`);
          await new Promise((resolve) => setTimeout(resolve, pauseMs));
          pauseMs = Math.min(pauseMs * 2, 5_000);
          attempt = 0;
          continue;
        }
        throw toLaunchError(err, req.runId);
      }
    }
  }

  /** Update-with-Start: start the run (or attach to the one going) and wait until it is ready. */
  private start(req: LaunchRequest, key: LaunchKey, reuse: 'ALLOW_DUPLICATE' | 'REJECT_DUPLICATE'): Promise<ReadyResult> {
    const input: PipelineRunInput = {
      runId: req.runId,
      workspaceId: req.workspaceId,
      userId: req.userId,
      computeEnvId: req.computeEnvId,
      secretNames: req.secretNames,
      ...(req.leaseMs !== undefined ? { leaseMs: req.leaseMs } : {}),
      ...(req.historyLimit !== undefined ? { historyLimit: req.historyLimit } : {}),
      shape: 2,
    };
    const labels = req.labels ?? {};
    // The Web UI's list and detail pages: what this run is, before anyone opens a payload.
    const shown: RunLabels = {
      runId: req.runId,
      workspace: labels.workspace ?? req.workspaceId,
      user: labels.user ?? req.userId,
      computeEnv: labels.computeEnv ?? req.computeEnvId,
      ...(labels.platform ? { platform: labels.platform } : {}),
      secretCount: req.secretNames.length,
    };
    const startWorkflowOperation = new WithStartWorkflowOperation(pipelineRun, {
      workflowId: pipelineRunWorkflowId(req.runId),
      taskQueue: this.taskQueue,
      args: [input],
      // A run going on is joined; a closed one is started again only after a failed launch.
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: reuse,
      staticSummary: runSummary(shown),
      staticDetails: runDetails(shown),
      typedSearchAttributes: [
        { key: RunIdKey, value: req.runId },
        { key: WorkspaceKey, value: labels.workspace ?? req.workspaceId },
        { key: ComputeEnvKey, value: labels.computeEnv ?? req.computeEnvId },
        ...(labels.platform ? [{ key: PlatformKey, value: labels.platform }] : []),
        { key: PhaseKey, value: 'resolving' },
      ],
      // The names the workflow would set once it resolves them: given here, it does not.
      memo: {
        ...(labels.workspace ? { workspace: labels.workspace } : {}),
        user: labels.user ?? req.userId,
        ...(labels.computeEnv ? { computeEnv: labels.computeEnv } : {}),
        secretNames: req.secretNames,
      },
    });
    return withTemporal(this.client.connection, `launch of run ${req.runId}`, () => this.client.workflow.executeUpdateWithStart(waitReadyUpdate, { args: [key], startWorkflowOperation }), this.launchDeadlineMs);
  }

  /**
   * Report the run's end. Answered by the workflow itself when a worker is there to answer (so two
   * concurrent reports get "accepted" once and "already ended" once); when none answers within
   * COMPLETE_ANSWER_MS the report is left as a signal, which Temporal keeps until a worker comes back.
   */
  async complete(runId: string, status: 'succeeded' | 'failed' | 'cancelled'): Promise<CompleteAnswer> {
    const signal = async (): Promise<CompleteAnswer> => {
      await this.call(runId, 'complete', () => this.handle(runId).signal(runCompletedSignal, { status }));
      return { runId, status, result: 'accepted' };
    };
    try {
      return await this.updateOrSignal(runId, 'complete', () => this.handle(runId).executeUpdate(completeRunUpdate, { args: [{ status }] }), signal);
    } catch (err) {
      const ended = await this.endedAnswer(runId, err instanceof WorkflowNotFoundError ? new LaunchError(`run ${runId} not found`, 'not-found') : err);
      if (ended) return { runId, status, result: 'already-ended', outcome: ended as CompleteAnswer['outcome'] };
      if (err instanceof WorkflowNotFoundError) throw new LaunchError(`run ${runId} not found`, 'not-found');
      throw err;
    }
  }

  async cancel(runId: string): Promise<CancelAnswer> {
    // Temporal accepts a cancel request for a closed workflow as a no-op: look first, to answer truly.
    const d = await this.describe(runId);
    if (!d) throw new LaunchError(`run ${runId} not found`, 'not-found');
    if (d.status.name !== 'RUNNING') return { runId, result: 'already-ended', outcome: await this.outcomeOf(runId, d) };
    await this.call(runId, 'cancel', () => this.handle(runId).cancel());
    return { runId, result: 'accepted' };
  }

  /**
   * Extend the lease, answered by the workflow with the lease's new end; refused as already-ended
   * once the run's end was reported or its deletion began (a renewal would change nothing). Without a
   * worker to answer in time it goes as a signal, which the workflow applies unless the run is over.
   */
  async renew(runId: string, extendByMs: number): Promise<RenewAnswer> {
    checkLease(extendByMs, 'extendByMs');
    const signal = async (): Promise<RenewAnswer> => {
      await this.call(runId, 'renew', () => this.handle(runId).signal(renewLeaseSignal, { extendByMs }));
      return { runId };
    };
    try {
      return await this.updateOrSignal(runId, 'renew', () => this.handle(runId).executeUpdate(renewLeaseUpdate, { args: [{ extendByMs }] }), signal);
    } catch (err) {
      // Refused by the running workflow (its end reported, or deleting): the workflow says how.
      const refused = toLaunchError(err, runId);
      if (refused instanceof LaunchError && refused.code === 'already-ended') throw refused;
      const ended = await this.endedAnswer(runId, err instanceof WorkflowNotFoundError ? new LaunchError(`run ${runId} not found`, 'not-found') : err);
      if (ended) throw new LaunchError(`run ${runId} already ended (${ended}); its lease cannot be renewed`, 'already-ended', undefined, undefined, ended);
      if (err instanceof WorkflowNotFoundError) throw new LaunchError(`run ${runId} not found`, 'not-found');
      throw err;
    }
  }

  /**
   * A call the workflow answers (an update), left as the durable signal of the same meaning when no
   * worker answers within COMPLETE_ANSWER_MS (all down, or busy), when the run's workflow task is
   * failing (its worker lost mid-task), or when the run started before the update existed.
   */
  private async updateOrSignal<T>(runId: string, what: string, update: () => Promise<T>, signal: () => Promise<T>): Promise<T> {
    try {
      return await withTemporal(this.client.connection, `${what} of run ${runId}`, update, COMPLETE_ANSWER_MS);
    } catch (err) {
      if (err instanceof TemporalUnavailableError || err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isWorkflowTaskFailing(err)) return signal();
      if (err instanceof WorkflowUpdateFailedError && /handler|update type|not registered/i.test(`${err.cause?.message ?? err.message}`)) return signal();
      throw err;
    }
  }

  /**
   * The run's status. A run whose workflow was terminated shows how it ended and what the cleanup of
   * terminated runs did with what it left (workflows/cleanup.ts), not the phase it was stopped in.
   */
  async state(runId: string): Promise<RunStatus> {
    const st = await this.call(runId, 'status', () => this.handle(runId).query(statusQuery)).catch((err: unknown) => {
      // Closed before its first workflow task (terminated while no worker ran): nothing to replay,
      // and nothing ran; its status is what it started with.
      if (!isClosedBeforeFirstTask(err)) throw err;
      return this.call(runId, 'status', () => startInput<PipelineRunInput>(this.client, pipelineRunWorkflowId(runId))).then((s) => {
        if (!s) throw err;
        return statusAtStart(s.input, s.startedAt);
      });
    });
    if (st.phase === 'deleted') return st;
    const d = await this.describe(runId);
    if (!d || (d.status.name !== 'TERMINATED' && d.status.name !== 'TIMED_OUT')) return st;
    const workflowId = cleanupWorkflowId(runId);
    const c = await withTemporal(this.client.connection, `cleanup of run ${runId}`, () => this.client.workflow.getHandle(workflowId).query(runCleanupStatusQuery), this.callDeadlineMs).catch(
      (err: unknown) => (err instanceof WorkflowNotFoundError ? undefined : Promise.reject(err)),
    );
    const merged: RunStatus = { ...st, outcome: 'terminated' };
    if (!c) return { ...merged, cleanup: { workflowId, phase: 'awaiting', deleteAttempts: 0 } };
    const stateOf = new Map(c.refs.map((r) => [`${r.ref.computeEnvId} ${r.ref.remoteId} ${r.ref.secretName}`, r.state]));
    return {
      ...merged,
      phase: c.phase === 'deleted' || c.phase === 'unreadable' ? 'deleted' : 'deleting',
      refs: st.refs.map((r) => ({ ...r, state: stateOf.get(`${r.ref.computeEnvId} ${r.ref.remoteId} ${r.ref.secretName}`) ?? r.state })),
      ...(c.deletedAt ? { deletedAt: c.deletedAt } : {}),
      cleanup: { workflowId, phase: c.phase, deleteAttempts: c.deleteAttempts, ...(c.lastError ? { lastError: c.lastError } : {}), ...(c.deletedAt ? { deletedAt: c.deletedAt } : {}) },
    };
  }

  /** Wait until the workflow closes (secrets deleted) and return its final state. */
  async waitClosed(runId: string): Promise<RunStatus> {
    try {
      // A run that completed returns its final state; no query needed.
      return await this.handle(runId).result();
    } catch (err) {
      // Cancelled and failed launches end in a failed workflow; the state still says what happened.
      if (!(err instanceof WorkflowFailedError)) throw err;
    }
    return this.state(runId);
  }

  private handle(runId: string) {
    return this.client.workflow.getHandle<typeof pipelineRun>(pipelineRunWorkflowId(runId));
  }

  /** A Temporal call about one run: unknown run → LaunchError not-found; no answer → TemporalUnavailableError. */
  private async call<T>(runId: string, what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await withTemporal(this.client.connection, `${what} of run ${runId}`, fn, this.callDeadlineMs);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new LaunchError(`run ${runId} not found`, 'not-found');
      throw err;
    }
  }

  private async describe(runId: string): Promise<WorkflowExecutionDescription | undefined> {
    try {
      return await withTemporal(this.client.connection, `look-up of run ${runId}`, () => this.handle(runId).describe(), this.callDeadlineMs);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  /** For a call refused because the run is over: how it ended; otherwise undefined. */
  private async endedAnswer(runId: string, err: unknown): Promise<string | undefined> {
    const refusedAsEnded = err instanceof LaunchError && err.code === 'not-found';
    if (!refusedAsEnded && !(err instanceof WorkflowUpdateFailedError && (err.cause as ApplicationFailure | undefined)?.type === RUN_ALREADY_ENDED)) return undefined;
    const d = await this.describe(runId);
    if (!d || d.status.name === 'RUNNING') return undefined;
    return this.outcomeOf(runId, d);
  }

  /** How a closed run ended: its status's outcome when its final state can be read, else how its workflow closed. */
  private async outcomeOf(runId: string, d: WorkflowExecutionDescription): Promise<string> {
    if (d.status.name === 'COMPLETED') {
      const final = await withTemporal(this.client.connection, `result of run ${runId}`, () => this.handle(runId).result(), this.callDeadlineMs).catch(() => undefined);
      if (final?.outcome) return final.outcome;
    }
    return CLOSED_AS[d.status.name] ?? d.status.name.toLowerCase();
  }
}

function checkLease(ms: number, field: string): void {
  if (!isValidLease(ms)) throw new ValidationError(field, LEASE_RULE);
}

function toLaunchError(err: unknown, runId: string): unknown {
  if (err instanceof WorkflowExecutionAlreadyStartedError) {
    return new LaunchError(`run ${runId} was launched again while it closed; retry the launch`, 'duplicate-run');
  }
  if (err instanceof WorkflowUpdateFailedError) {
    const cause = err.cause;
    if (cause instanceof ApplicationFailure) {
      if (cause.type === DIFFERENT_REQUEST) return new LaunchError(cause.message, 'duplicate-run', cause.type);
      if (cause.type === RUN_ALREADY_ENDED) {
        const outcome = typeof cause.details?.[0] === 'string' ? (cause.details[0] as string) : undefined;
        return new LaunchError(cause.message, 'already-ended', cause.type, undefined, outcome);
      }
      const [first] = (cause.details ?? []) as unknown[];
      const missing = cause.type === ErrorType.AccessVerification && Array.isArray(first) ? (first as MissingPermission[]) : undefined;
      return new LaunchError(cause.message, 'launch-failed', cause.type ?? undefined, missing);
    }
    return new LaunchError(cause?.message ?? err.message, 'launch-failed');
  }
  return err;
}
