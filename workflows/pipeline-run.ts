/**
 * One workflow per pipeline run: resolve, push, verify, ready, await completion (bounded by a
 * renewable lease), and always delete exactly what was planned or pushed. Deterministic: activities
 * are imported as types only; time comes from the workflow clock.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
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
  ErrorType,
  type Outcome,
  type Phase,
  type PipelineRunInput,
  type ReadyResult,
  type RenewLease,
  type RunCompletion,
  type RunStatus,
} from './shared';

type Activities = ReturnType<typeof createActivities>;

const { resolveRun } = proxyActivities<Activities>(vaultRead);
const { pushSecrets } = proxyActivities<Activities>(cloudWrite);
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

const MAX_LEASE_MS = 366 * 24 * 60 * 60 * 1000;

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

export async function pipelineRun(input: PipelineRunInput): Promise<RunStatus> {
  const now = () => new Date(Date.now()).toISOString();
  const leaseMs = Math.min(input.leaseMs ?? DEFAULT_LEASE_MS, MAX_LEASE_MS);
  const status: RunStatus = {
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
  let ready: ReadyResult | undefined;
  let launchError: ApplicationFailure | undefined;
  let cleanupTried = false;
  let completion: RunCompletion | undefined;
  let leaseDeadline = Date.now() + leaseMs;
  let leaseChanged = false;

  const setPhase = (phase: Phase) => {
    status.phase = phase;
    upsertSearchAttributes([{ key: PhaseKey, value: phase }]);
  };

  setHandler(statusQuery, () => status);
  setHandler(
    waitReadyUpdate,
    async () => {
      // A failed launch answers after the first cleanup round, so "launch failed" means "and nothing is left".
      await condition(() => ready !== undefined || (launchError !== undefined && cleanupTried));
      if (ready) return ready;
      throw launchError!;
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
    completion ??= c;
  });
  setHandler(renewLeaseSignal, ({ extendByMs }) => {
    if (status.phase === 'deleting' || status.phase === 'deleted') return;
    leaseDeadline = Date.now() + Math.min(Math.max(extendByMs, 0), MAX_LEASE_MS);
    status.leaseExpiresAt = new Date(leaseDeadline).toISOString();
    leaseChanged = true;
  });

  let outcome: Outcome = 'launch-failed';
  let failure: unknown;
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

    for (;;) {
      if (completion) {
        outcome = completion.status;
        break;
      }
      const remaining = leaseDeadline - Date.now();
      if (remaining <= 0) {
        outcome = 'lease-expired';
        log.warn('lease expired without a completion signal; deleting run secrets', { runId: input.runId });
        break;
      }
      leaseChanged = false;
      await condition(() => completion !== undefined || leaseChanged, remaining);
    }
    status.completedAt = now();
  } catch (err) {
    failure = err;
    if (isCancellation(err)) {
      outcome = 'cancelled';
    } else {
      outcome = ready ? 'failed' : 'launch-failed';
      launchError = launchFailure(err);
      status.lastError = launchError.message;
    }
    if (!ready && isCancellation(err)) {
      launchError = ApplicationFailure.create({ type: ErrorType.LaunchFailed, message: `run ${input.runId} was cancelled during launch`, nonRetryable: true });
    }
  } finally {
    status.outcome = outcome;
    await CancellationScope.nonCancellable(() => deleteEverything());
  }
  if (failure && isCancellation(failure)) throw failure;
  if (outcome === 'launch-failed' && launchError) throw launchError;
  return status;

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
        cleanupTried = true;
        await sleep(cleanupBackoffMs(status.deleteAttempts));
      }
    }
    cleanupTried = true;
    status.deletedAt = now();
    setPhase('deleted');
  }
}
