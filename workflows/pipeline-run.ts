/**
 * One workflow per pipeline run: resolve, push, verify, ready, await completion (bounded by a
 * renewable lease), and always delete exactly what was planned or pushed. Deterministic: activities
 * are imported as types only; time comes from the workflow clock. A long lease or a long-stuck delete
 * continues as new with the run's state, so history stays bounded.
 */
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  ContinueAsNew,
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  sleep,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { cleanup, cleanupBackoffMs, cloudWrite, iamVerify, vaultRead } from './activity-options';
import { ComputeEnvKey, PhaseKey, PlatformKey, WorkspaceKey } from './search-attributes';
import {
  DEFAULT_LEASE_MS,
  type Outcome,
  type Phase,
  type PipelineRunInput,
  type ReadyResult,
  type RenewLease,
  type ResumeState,
  type RunCompletion,
  type RunStatus,
} from '../domain/run';
import { ErrorType } from '../domain/errors';

type Activities = ReturnType<typeof createActivities>;

const { resolveRun } = proxyActivities<Activities>(vaultRead);
// A cancelled launch waits for the push to stop before deleting, so nothing is written after the delete.
const { pushSecrets } = proxyActivities<Activities>({ ...cloudWrite, cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED });
const { verifyAccess } = proxyActivities<Activities>(iamVerify);
const { deleteSecrets } = proxyActivities<Activities>(cleanup);

/** The launch service's wait: returns once the secrets are in place, or fails with the launch error. */
export const waitReadyUpdate = defineUpdate<ReadyResult>('waitReady');
/** The run ended (succeeded, failed, cancelled on the platform side): delete now. */
export const runCompletedSignal = defineSignal<[RunCompletion]>('runCompleted');
/** Extend the lease to now + extendByMs. */
export const renewLeaseSignal = defineSignal<[RenewLease]>('renewLease');
/** Phase, names, refs, timestamps, last error. Never values. */
export const statusQuery = defineQuery<RunStatus>('status');

export const MAX_LEASE_MS = 366 * 24 * 60 * 60 * 1000;
const DEFAULT_HISTORY_LIMIT = 4_000;
const RUN_END_STATUSES = ['succeeded', 'failed', 'cancelled'];

function errorMessage(err: unknown): string {
  if (err instanceof ApplicationFailure) return err.message;
  if (err instanceof Error) return (err.cause instanceof Error ? err.cause.message : undefined) ?? err.message;
  return String(err);
}

/** The root cause of an activity failure, as an ApplicationFailure to hand the launch service. */
function launchFailure(err: unknown): ApplicationFailure {
  let cause: unknown = err;
  while (cause instanceof Error && !(cause instanceof ApplicationFailure) && cause.cause) cause = cause.cause;
  if (cause instanceof ApplicationFailure) {
    return ApplicationFailure.create({ type: cause.type ?? ErrorType.LaunchFailed, message: cause.message, details: cause.details as unknown[], nonRetryable: true });
  }
  return ApplicationFailure.create({ type: ErrorType.LaunchFailed, message: errorMessage(err), nonRetryable: true });
}

const validLease = (ms: unknown): ms is number => typeof ms === 'number' && Number.isFinite(ms) && ms > 0 && ms <= MAX_LEASE_MS;

export async function pipelineRun(input: PipelineRunInput): Promise<RunStatus> {
  const now = () => new Date(Date.now()).toISOString();
  const resumed = input.resume;
  const historyLimit = input.historyLimit ?? DEFAULT_HISTORY_LIMIT;
  const status: RunStatus = resumed
    ? { ...resumed.status }
    : {
        runId: input.runId,
        workspaceId: input.workspaceId,
        userId: input.userId,
        computeEnvId: input.computeEnvId,
        phase: 'resolving',
        secretNames: [...input.secretNames],
        refs: [],
        startedAt: now(),
        deleteAttempts: 0,
      };
  let ready: ReadyResult | undefined = resumed?.ready;
  let launchError: ApplicationFailure | undefined = resumed?.launchError
    ? ApplicationFailure.create({ type: resumed.launchError.type, message: resumed.launchError.message, nonRetryable: true })
    : undefined;
  let cleanupRounds = 0;
  let completion: RunCompletion | undefined;
  let leaseDeadline = resumed?.leaseDeadlineMs ?? Date.now() + (validLease(input.leaseMs) ? input.leaseMs : DEFAULT_LEASE_MS);
  let leaseChanged = false;
  let endAs: ResumeState['endAs'] = resumed?.endAs ?? 'return';

  const setPhase = (phase: Phase) => {
    status.phase = phase;
    upsertSearchAttributes([{ key: PhaseKey, value: phase }]);
  };

  setHandler(statusQuery, () => status);
  setHandler(
    waitReadyUpdate,
    async () => {
      // Not cancellable: a cancelled launch still answers only after the first cleanup round, so the
      // launch service hears "failed" when nothing is left, or is told that cleanup goes on.
      await CancellationScope.nonCancellable(() => condition(() => ready !== undefined || (launchError !== undefined && cleanupRounds > 0)));
      if (ready) return ready;
      const pending = status.refs.some((r) => r.state === 'planned' || r.state === 'pushed');
      if (!pending) throw launchError!;
      throw ApplicationFailure.create({
        type: launchError!.type ?? ErrorType.LaunchFailed,
        message: `${launchError!.message} (deleting what was pushed is still being retried: ${status.lastError ?? 'in progress'})`,
        details: launchError!.details as unknown[],
        nonRetryable: true,
      });
    },
    {
      validator: () => {
        if (status.phase === 'deleting' || status.phase === 'deleted') {
          throw new Error(`run ${input.runId} is already ${status.phase === 'deleted' ? 'over' : 'ending'} (${status.outcome ?? 'in progress'})`);
        }
      },
    },
  );
  setHandler(runCompletedSignal, (c) => {
    const end = c?.status;
    if (!RUN_END_STATUSES.includes(end)) {
      log.warn('ignored a completion signal without a valid status', { runId: input.runId });
      return;
    }
    completion ??= { status: end };
  });
  setHandler(renewLeaseSignal, (r) => {
    const extendByMs = r?.extendByMs;
    if (!validLease(extendByMs)) {
      log.warn('ignored a lease renewal that is not a positive number of milliseconds up to 366 days', { runId: input.runId });
      return;
    }
    if (status.phase === 'deleting' || status.phase === 'deleted') return;
    leaseDeadline = Date.now() + extendByMs;
    status.leaseExpiresAt = new Date(leaseDeadline).toISOString();
    leaseChanged = true;
  });

  /** Continue as new with the state so far: history stays bounded however long the run lives. */
  const historyFull = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= historyLimit;
  async function carryOn(): Promise<never> {
    await condition(allHandlersFinished);
    log.info('continuing as new to keep history bounded', { runId: input.runId, phase: status.phase });
    const resume: ResumeState = {
      status,
      leaseDeadlineMs: leaseDeadline,
      endAs,
      ...(ready ? { ready } : {}),
      ...(launchError ? { launchError: { type: launchError.type ?? ErrorType.LaunchFailed, message: launchError.message } } : {}),
    };
    return continueAsNew<typeof pipelineRun>({ ...input, resume });
  }

  /** Wait for the end of the run or of its lease. */
  async function awaitCompletion(): Promise<Outcome> {
    for (;;) {
      if (completion) return completion.status;
      const remaining = leaseDeadline - Date.now();
      if (remaining <= 0) {
        log.warn('lease expired without a completion signal; deleting run secrets', { runId: input.runId });
        return 'lease-expired';
      }
      if (historyFull()) await carryOn();
      leaseChanged = false;
      await condition(() => completion !== undefined || leaseChanged, remaining);
    }
  }

  /** Delete every planned or pushed ref, round after round, until none is left. */
  async function deleteEverything(): Promise<void> {
    setPhase('deleting');
    const pending = () => status.refs.filter((r) => r.state === 'planned' || r.state === 'pushed');
    while (pending().length) {
      status.deleteAttempts++;
      try {
        const results = await deleteSecrets({ run: input, refs: pending().map((r) => r.ref) });
        const left = pending();
        results.forEach((r, i) => {
          left[i].state = r.outcome;
        });
        const notOwned = results.filter((r) => r.outcome === 'not-owned');
        if (notOwned.length) {
          log.warn('left objects the broker does not own', { runId: input.runId, names: notOwned.map((r) => r.ref.secretName) });
        }
      } catch (err) {
        status.lastError = `delete round ${status.deleteAttempts} failed: ${errorMessage(err)}`;
        log.warn('delete round failed; retrying', { runId: input.runId, round: status.deleteAttempts });
        cleanupRounds++;
        if (historyFull()) await carryOn();
        await sleep(cleanupBackoffMs(status.deleteAttempts));
        continue;
      }
      cleanupRounds++;
    }
    cleanupRounds++;
    status.deletedAt = now();
    setPhase('deleted');
  }

  /** The end: every handler answered, then return or fail the way the run ended. */
  async function finish(): Promise<RunStatus> {
    await condition(allHandlersFinished);
    if (endAs === 'cancelled') throw new CancelledFailure(`run ${input.runId} was cancelled; its secrets are deleted`);
    if (endAs === 'launch-failed' && launchError) throw launchError;
    return status;
  }

  if (resumed) {
    if (status.phase === 'ready') {
      try {
        status.outcome = await awaitCompletion();
        status.completedAt = now();
      } catch (err) {
        if (!isCancellation(err)) throw err;
        status.outcome = 'cancelled';
        endAs = 'cancelled';
      }
    }
    await CancellationScope.nonCancellable(() => deleteEverything());
    return finish();
  }

  if (!validLease(input.leaseMs ?? DEFAULT_LEASE_MS)) {
    launchError = ApplicationFailure.create({ type: ErrorType.InvalidInput, message: 'leaseMs: must be a positive number of milliseconds, at most 366 days', nonRetryable: true });
    status.outcome = 'launch-failed';
    endAs = 'launch-failed';
    status.lastError = launchError.message;
    await deleteEverything();
    return finish();
  }

  try {
    const resolved = await resolveRun(input);
    status.platform = resolved.platform;
    status.refs = resolved.plannedRefs.map((ref) => ({ ref, state: 'planned' }));
    upsertSearchAttributes([
      { key: WorkspaceKey, value: resolved.workspaceName },
      { key: ComputeEnvKey, value: resolved.computeEnvName },
      { key: PlatformKey, value: resolved.platform },
    ]);
    upsertMemo({ workspace: resolved.workspaceName, user: resolved.userName, computeEnv: resolved.computeEnvName, secretNames: status.secretNames });

    setPhase('pushing');
    const pushed = await pushSecrets({ run: input, secrets: resolved.secrets });
    for (const tracked of status.refs) tracked.state = 'pushed';
    status.headJobEnv = pushed.headJobEnv;

    setPhase('verifying');
    await verifyAccess({ run: input, refs: pushed.refs });

    status.readyAt = now();
    status.leaseExpiresAt = new Date(leaseDeadline).toISOString();
    ready = {
      runId: input.runId,
      workflowId: workflowInfo().workflowId,
      platform: resolved.platform,
      computeEnvId: input.computeEnvId,
      secretNames: status.secretNames,
      refs: pushed.refs,
      headJobEnv: pushed.headJobEnv,
      leaseExpiresAt: status.leaseExpiresAt,
    };
    setPhase('ready');
    log.info('run secrets ready', { runId: input.runId, platform: resolved.platform, secrets: status.secretNames.length });

    status.outcome = await awaitCompletion();
    status.completedAt = now();
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err; // carrying on in the next run, not a failure
    if (isCancellation(err)) {
      status.outcome = 'cancelled';
      endAs = 'cancelled';
      if (!ready) launchError = ApplicationFailure.create({ type: ErrorType.LaunchFailed, message: `run ${input.runId} was cancelled during launch`, nonRetryable: true });
    } else {
      status.outcome = ready ? 'failed' : 'launch-failed';
      launchError = launchFailure(err);
      status.lastError = launchError.message;
      if (!ready) endAs = 'launch-failed';
    }
  }
  await CancellationScope.nonCancellable(() => deleteEverything());
  return finish();
}
