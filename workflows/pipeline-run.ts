/**
 * One workflow per pipeline run: resolve, push, verify, ready, await completion (bounded by a
 * renewable lease), and always delete exactly what was planned or pushed. Deterministic: activities
 * are imported as types only; time comes from the workflow clock. A long lease or a long-stuck delete
 * continues as new with the run's state, so history stays bounded.
 *
 * The state is one RunStatus plus one RunEnd: how the run ended, set once; a Run holds them with the
 * lease and the completion, and its methods are the steps. A fresh run and one that continued as new
 * take the same path; the phase it resumes in says which steps are already done.
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
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { DeleteResult, createPipelineRunActivities } from '../activities/pipeline-run';
import { cleanup, cleanupBackoffMs, cloudWrite, iamVerify, localVaultRead, vaultRead } from './activity-options';
import { auditSystem } from './audit';
import { errorMessage } from './failures';
import { ComputeEnvKey, PhaseKey, PlatformKey, WorkspaceKey } from './search-attributes';
import {
  DEFAULT_LEASE_MS,
  LEASE_RULE,
  isValidLease,
  type Phase,
  type PipelineRunInput,
  launchKeyDifferences,
  statusAtStart,
  type CompleteAnswer,
  type LaunchKey,
  type PushResult,
  type ReadyResult,
  type RenewAnswer,
  type RenewLease,
  type ResolvedRun,
  type ResumeState,
  type RunCompletion,
  type RunEnd,
  type RunFailure,
  type RunStatus,
  type TrackedRef,
} from '../domain/run';
import { ErrorType } from '../domain/errors';
import { runCurrentDetails } from '../domain/operator-view';

/** The activities this workflow calls, and nothing else (a test stubs exactly these). */
export type PipelineRunActivities = ReturnType<typeof createPipelineRunActivities>;

const { resolveRun } = proxyActivities<PipelineRunActivities>(vaultRead);
// A cancelled launch waits for the push to stop before deleting, so nothing is written after the delete.
const { pushSecrets, placeSecrets } = proxyActivities<PipelineRunActivities>({ ...cloudWrite, cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED });
const { verifyAccess } = proxyActivities<PipelineRunActivities>(iamVerify);
const { deleteSecrets } = proxyActivities<PipelineRunActivities>(cleanup);
// Resolving reads the vault and plans names: short, idempotent, no side effect. As a local activity it
// runs inside the workflow task, without a trip through the task queue.
const local = proxyLocalActivities<PipelineRunActivities>(localVaultRead);

/**
 * Runs launched with `shape: 2` (services/pipeline-runs.ts launches so since December 2026) take the
 * short launch: resolve as a local activity, push and verify in one activity, the search attributes
 * and memo the launch already set not set again, one phase upsert at ready, and BrokerPhase set to
 * deleting only when a delete round fails. Runs launched before keep the shape their histories
 * recorded, to their end (replay: test/replay/). The shape is chosen by the input, which never
 * changes, rather than by patched(): a patch costs every run a marker and a search-attribute upsert.
 */
const shortLaunch = (input: PipelineRunInput) => input.shape === 2;

/**
 * The launch service's wait: returns once the secrets are in place, or fails with the launch error.
 * A retried launch waits the same way on the same run; given what it asks for, a different request
 * is refused naming the difference (older callers send nothing and are not compared).
 */
export const waitReadyUpdate = defineUpdate<ReadyResult, [LaunchKey?]>('waitReady');
/** The run ended (succeeded, failed, cancelled on the platform side): delete now. */
export const runCompletedSignal = defineSignal<[RunCompletion]>('runCompleted');
/** The same as runCompletedSignal, answered: accepted, or already ended (and how). Safe to repeat. */
export const completeRunUpdate = defineUpdate<CompleteAnswer, [RunCompletion]>('completeRun');

/** Failure types of refused launch and complete requests (validators), which the services map. */
export const RUN_ALREADY_ENDED = 'RunAlreadyEnded';
export const DIFFERENT_REQUEST = 'DifferentLaunchRequest';
/** Extend the lease to now + extendByMs. */
export const renewLeaseSignal = defineSignal<[RenewLease]>('renewLease');
/**
 * The same as renewLeaseSignal, answered: the lease's new end, or refused (RunAlreadyEnded) once the
 * run's end was reported or its deletion began, when a renewal would change nothing.
 */
export const renewLeaseUpdate = defineUpdate<RenewAnswer, [RenewLease]>('renewRunLease');
/** Phase, names, refs, timestamps, last error. Never values. */
export const statusQuery = defineQuery<RunStatus>('status');

const DEFAULT_HISTORY_LIMIT = 4_000;
const RUN_END_STATUSES = ['succeeded', 'failed', 'cancelled'];

/** The root cause of an activity failure, as the launch service will hear it. */
function failureOf(err: unknown): RunFailure {
  let cause: unknown = err;
  while (cause instanceof Error && !(cause instanceof ApplicationFailure) && cause.cause) cause = cause.cause;
  if (cause instanceof ApplicationFailure) {
    return { type: cause.type ?? ErrorType.LaunchFailed, message: cause.message, ...(cause.details?.length ? { details: cause.details as unknown[] } : {}) };
  }
  return { type: ErrorType.LaunchFailed, message: errorMessage(err) };
}

function toApplicationFailure(f: RunFailure, message = f.message): ApplicationFailure {
  return ApplicationFailure.create({ type: f.type, message, details: f.details, nonRetryable: true });
}

/** A run that continued as new before RunEnd existed carried its end as outcome + endAs + launchError. */
function endOf(resume: ResumeState): RunEnd | undefined {
  if (resume.end) return resume.end;
  const outcome = resume.status.outcome;
  if (!outcome) return undefined;
  const failure = resume.launchError ? { type: resume.launchError.type, message: resume.launchError.message } : undefined;
  // endAs decided how such a run closed; the outcome says the same except for a failure after ready.
  return { outcome: resume.endAs === 'launch-failed' ? 'launch-failed' : outcome, ...(failure ? { failure } : {}) };
}

const now = () => new Date(Date.now()).toISOString();

/** The run's names for the Web UI: search attributes for the list, the memo for the detail page. */
function labelsOf(resolved: ResolvedRun, secretNames: string[]) {
  return {
    names: [
      { key: WorkspaceKey, value: resolved.workspaceName },
      { key: ComputeEnvKey, value: resolved.computeEnvName },
      { key: PlatformKey, value: resolved.platform },
    ],
    memo: { workspace: resolved.workspaceName, user: resolved.userName, computeEnv: resolved.computeEnvName, secretNames },
  };
}

/**
 * One run: its state (the status, how it ended, the ready answer, the completion, the lease) and its
 * steps. pipelineRun below calls the steps in order; the handlers read and change the same state.
 */
class Run {
  readonly status: RunStatus;
  /** The launch service's answer, once the secrets are in place. */
  private ready: ReadyResult | undefined;
  /** How the run ended; set once (endWith). */
  end: RunEnd | undefined;
  /** The completion the platform reported (runCompleted signal or completeRun update); the first one counts. */
  private completion: RunCompletion | undefined;
  /** Delete rounds done: a failed launch is answered after the first (waitReady). */
  private cleanupRounds = 0;
  private leaseDeadline: number;
  /** A renewal arrived since awaitCompletion last looked at the deadline. */
  private leaseChanged = false;
  private readonly historyLimit: number;
  private readonly short: boolean;

  constructor(private readonly input: PipelineRunInput) {
    const resumed = input.resume;
    this.historyLimit = input.historyLimit ?? DEFAULT_HISTORY_LIMIT;
    this.short = shortLaunch(input);
    this.status = statusAtStart(input, now());
    this.ready = resumed?.ready;
    this.end = resumed ? endOf(resumed) : undefined;
    this.leaseDeadline = resumed?.leaseDeadlineMs ?? Date.now() + (isValidLease(input.leaseMs) ? input.leaseMs : DEFAULT_LEASE_MS);
  }

  /** The run ends this way (the first end wins); the status shows it. */
  private endWith(e: RunEnd): void {
    this.end ??= e;
    this.status.outcome = this.end.outcome;
  }

  /** The phase, on the status and as BrokerPhase (with any other search attributes given, in one upsert). */
  private setPhase(phase: Phase, alongWith: SearchAttributeUpdatePair[] = []): void {
    this.status.phase = phase;
    upsertSearchAttributes([...alongWith, { key: PhaseKey, value: phase }]);
    this.show();
  }

  /** The phase on the status only: no upsert, so no event. */
  private showPhase(phase: Phase): void {
    this.status.phase = phase;
    this.show();
  }

  private over(): boolean {
    return this.status.phase === 'deleting' || this.status.phase === 'deleted';
  }

  /**
   * The Web UI's current details: phase, last error, what is left to delete. Not a command (answered
   * by the built-in metadata query), so it costs no history and changes no run's replay.
   */
  private show(): void {
    setCurrentDetails(runCurrentDetails(this.status));
  }

  /**
   * The query, updates and signals, in the order every run has set them: an update or signal that
   * came with the start (the launch's waitReady) reaches its handler as that handler is set.
   */
  installHandlers(): void {
    setHandler(statusQuery, () => this.status);
    this.show();
    setHandler(waitReadyUpdate, () => this.waitReady(), { validator: (asked?: LaunchKey) => this.checkLaunch(asked) });
    setHandler(runCompletedSignal, (c) => this.runCompleted(c));
    setHandler(completeRunUpdate, (c) => this.completeRun(c), {
      validator: (c) => {
        if (!RUN_END_STATUSES.includes(c?.status)) throw new Error(`status: must be one of ${RUN_END_STATUSES.join(', ')}`);
      },
    });
    setHandler(renewLeaseSignal, (r) => this.renewLease(r));
    setHandler(renewLeaseUpdate, (r) => this.renewLeaseAnswered(r), { validator: (r) => this.checkRenewal(r) });
  }

  /** waitReadyUpdate's handler. */
  private async waitReady(): Promise<ReadyResult> {
    // Not cancellable: a cancelled launch still answers only after the first cleanup round, so the
    // launch service hears "failed" when nothing is left, or is told that cleanup goes on.
    await CancellationScope.nonCancellable(() => condition(() => this.ready !== undefined || (this.end?.failure !== undefined && this.cleanupRounds > 0)));
    if (this.ready) return this.ready;
    const failure = this.end!.failure!;
    if (!this.pending().length) throw toApplicationFailure(failure);
    throw toApplicationFailure(failure, `${failure.message} (deleting what was pushed is still being retried: ${this.status.lastError ?? 'in progress'})`);
  }

  /** waitReadyUpdate's validator. */
  private checkLaunch(asked?: LaunchKey): void {
    const { end, input, status } = this;
    // A launch that failed is answered with its error (after its first cleanup round); a run that
    // got past its launch and ended is not launched again under the same id.
    if (this.over() && end?.outcome !== 'launch-failed' && !(end?.outcome === 'cancelled' && !this.ready)) {
      throw ApplicationFailure.create({ type: RUN_ALREADY_ENDED, message: `run ${input.runId} already ended (${status.outcome ?? 'ending'})`, details: [status.outcome], nonRetryable: true });
    }
    const diff = asked ? launchKeyDifferences(asked, input) : [];
    if (diff.length) {
      throw ApplicationFailure.create({ type: DIFFERENT_REQUEST, message: `run ${input.runId} was launched with a different request: ${diff.join('; ')}`, nonRetryable: true });
    }
  }

  private runCompleted(c: RunCompletion): void {
    const said = c?.status;
    if (!RUN_END_STATUSES.includes(said)) {
      log.warn('ignored a completion signal without a valid status', { runId: this.input.runId });
      return;
    }
    this.completion ??= { status: said };
  }

  private completeRun(c: RunCompletion): CompleteAnswer {
    const { runId } = this.input;
    if (this.completion || this.over()) {
      return { runId, status: c.status, result: 'already-ended', ...(this.status.outcome || this.completion ? { outcome: this.status.outcome ?? this.completion!.status } : {}) };
    }
    this.completion = { status: c.status };
    return { runId, status: c.status, result: 'accepted' };
  }

  private renewLease(r: RenewLease): void {
    const extendByMs = r?.extendByMs;
    if (!isValidLease(extendByMs)) {
      log.warn(`ignored a lease renewal: extendByMs ${LEASE_RULE}`, { runId: this.input.runId });
      return;
    }
    if (this.over()) return;
    this.extendLease(extendByMs);
  }

  /** renewLeaseUpdate's validator: a renewal that would change nothing is refused, saying why. */
  private checkRenewal(r: RenewLease): void {
    if (!isValidLease(r?.extendByMs)) throw new Error(`extendByMs: ${LEASE_RULE}`);
    if (this.completion || this.over()) {
      const how = this.status.outcome ?? this.completion?.status;
      throw ApplicationFailure.create({ type: RUN_ALREADY_ENDED, message: `run ${this.input.runId} already ended (${how ?? 'ending'}); its lease cannot be renewed`, details: [how], nonRetryable: true });
    }
  }

  private renewLeaseAnswered(r: RenewLease): RenewAnswer {
    this.extendLease(r.extendByMs);
    return { runId: this.input.runId, leaseExpiresAt: this.status.leaseExpiresAt! };
  }

  private extendLease(extendByMs: number): void {
    this.leaseDeadline = Date.now() + extendByMs;
    this.status.leaseExpiresAt = new Date(this.leaseDeadline).toISOString();
    this.leaseChanged = true;
    this.show();
  }

  private historyFull(): boolean {
    return workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= this.historyLimit;
  }

  /** Continue as new with the state so far: history stays bounded however long the run lives. */
  async carryOn(): Promise<never> {
    await condition(allHandlersFinished);
    log.info('continuing as new to keep history bounded', { runId: this.input.runId, phase: this.status.phase });
    const { status, leaseDeadline, ready, end } = this;
    const resume: ResumeState = { status, leaseDeadlineMs: leaseDeadline, ...(ready ? { ready } : {}), ...(end ? { end } : {}) };
    return continueAsNew<typeof pipelineRun>({ ...this.input, resume });
  }

  /**
   * Resolve, push and verify; ready when they all succeed. The awaits stay here and the helpers are
   * synchronous, so each command is issued as soon after its activity's result as it always was: an
   * update answered in the same workflow task keeps its place before or after it in the history.
   */
  async launch(): Promise<void> {
    const { input } = this;
    if (!isValidLease(input.leaseMs ?? DEFAULT_LEASE_MS)) {
      // Checked here, not before the try: the run goes through deletion (of nothing) like any failed launch.
      throw ApplicationFailure.create({ type: ErrorType.InvalidInput, message: `leaseMs: ${LEASE_RULE}`, nonRetryable: true });
    }
    const resolved = this.short ? await local.resolveRun(input) : await resolveRun(input);
    this.status.platform = resolved.platform;
    this.status.refs = resolved.plannedRefs.map((ref) => ({ ref, state: 'planned' }));
    const namesLeft = this.short ? this.labelShortLaunch(resolved) : this.labelOldShape(resolved);
    const push = { run: input, secrets: resolved.secrets };
    const pushed = this.short ? await placeSecrets(push) : await pushSecrets(push);
    this.markPushed(pushed);
    if (!this.short) {
      this.setPhase('verifying');
      await verifyAccess({ run: input, refs: pushed.refs });
    } else if (CancellationScope.current().consideredCancelled) {
      // placeSecrets verifies too. Cancelled while it ran to its end (past the point of stopping): not ready.
      throw new CancelledFailure(`run ${input.runId} was cancelled during launch`);
    }
    this.markReady(resolved, pushed, namesLeft);
  }

  /** Runs launched before `shape: 2`: the names, the memo and the phase, each its own upsert. Nothing is left to set at ready. */
  private labelOldShape(resolved: ResolvedRun): SearchAttributeUpdatePair[] {
    const { names, memo } = labelsOf(resolved, this.status.secretNames);
    upsertSearchAttributes(names);
    upsertMemo(memo);
    this.setPhase('pushing');
    return [];
  }

  /**
   * The short launch: the launch gave the names and the memo at start, so only what it did not give
   * is set; the memo now, the names (returned) with the ready phase, in its one upsert.
   */
  private labelShortLaunch(resolved: ResolvedRun): SearchAttributeUpdatePair[] {
    const { names, memo } = labelsOf(resolved, this.status.secretNames);
    const namesLeft = names.filter((n) => workflowInfo().typedSearchAttributes.get(n.key) !== n.value);
    const given = workflowInfo().memo ?? {};
    if (Object.entries(memo).some(([k, v]) => JSON.stringify(given[k]) !== JSON.stringify(v))) upsertMemo(memo);
    this.showPhase('pushing');
    return namesLeft;
  }

  private markPushed(pushed: PushResult): void {
    for (const tracked of this.status.refs) tracked.state = 'pushed';
    this.status.headJobEnv = pushed.headJobEnv;
  }

  /** The answer the launch service waits for; the ready phase goes with the names not set yet. */
  private markReady(resolved: ResolvedRun, pushed: PushResult, namesLeft: SearchAttributeUpdatePair[]): void {
    const { input, status } = this;
    status.readyAt = now();
    status.leaseExpiresAt = new Date(this.leaseDeadline).toISOString();
    this.ready = {
      runId: input.runId,
      workflowId: workflowInfo().workflowId,
      platform: resolved.platform,
      computeEnvId: input.computeEnvId,
      secretNames: status.secretNames,
      refs: pushed.refs,
      headJobEnv: pushed.headJobEnv,
      leaseExpiresAt: status.leaseExpiresAt,
    };
    this.setPhase('ready', namesLeft);
    log.info('run secrets ready', { runId: input.runId, platform: resolved.platform, secrets: status.secretNames.length });
  }

  /** Wait for the end of the run or of its lease: the only place the lease is enforced. */
  async awaitCompletion(): Promise<void> {
    for (;;) {
      if (this.completion) return this.completedAs({ outcome: this.completion.status });
      const remaining = this.leaseDeadline - Date.now();
      if (remaining <= 0) {
        log.warn('lease expired without a completion signal; deleting run secrets', { runId: this.input.runId });
        return this.completedAs({ outcome: 'lease-expired' });
      }
      if (this.historyFull()) await this.carryOn();
      this.leaseChanged = false;
      await condition(() => this.completion !== undefined || this.leaseChanged, remaining);
    }
  }

  private completedAs(e: RunEnd): void {
    this.endWith(e);
    this.status.completedAt = now();
  }

  /** The launch or the wait threw: the run ends cancelled or failed (continuing as new is no end). */
  stoppedBy(err: unknown): void {
    if (err instanceof ContinueAsNew) throw err; // carrying on in the next run, not a failure
    if (isCancellation(err)) {
      this.endWith({ outcome: 'cancelled', ...(this.ready ? {} : { failure: { type: ErrorType.LaunchFailed, message: `run ${this.input.runId} was cancelled during launch` } }) });
    } else {
      const failure = failureOf(err);
      this.endWith({ outcome: this.ready ? 'failed' : 'launch-failed', failure });
      this.status.lastError = failure.message;
    }
  }

  private pending(): TrackedRef[] {
    return this.status.refs.filter((r) => r.state === 'planned' || r.state === 'pushed');
  }

  /**
   * Delete every planned or pushed ref, round after round, until none is left. BrokerPhase says
   * `deleting` while rounds fail (a run stuck in delete shows in the Web UI); a delete that succeeds
   * at once goes straight to `deleted` in runs that took the short launch. As in launch, the awaits
   * stay here and what runs between them is synchronous.
   */
  async deleteEverything(): Promise<void> {
    let phaseShown = !this.short;
    if (phaseShown) this.setPhase('deleting');
    else this.showPhase('deleting');
    while (this.pending().length) {
      this.status.deleteAttempts++;
      try {
        this.markDeleted(await deleteSecrets({ run: this.input, refs: this.pending().map((r) => r.ref) }));
        this.cleanupRounds++;
      } catch (err) {
        this.roundFailed(err, phaseShown);
        phaseShown = true;
        this.cleanupRounds++;
        if (this.historyFull()) await this.carryOn();
        await sleep(cleanupBackoffMs(this.status.deleteAttempts));
      }
    }
    this.cleanupRounds++;
    this.status.deletedAt = now();
    this.setPhase('deleted');
  }

  /** A round's results, in the order of the refs it was given (those pending when it started). */
  private markDeleted(results: DeleteResult): void {
    const left = this.pending();
    results.forEach((r, i) => {
      left[i].state = r.outcome;
    });
    this.show();
    const notOwned = results.filter((r) => r.outcome === 'not-owned');
    if (notOwned.length) {
      log.warn('left objects the broker does not own', { runId: this.input.runId, names: notOwned.map((r) => r.ref.secretName) });
    }
  }

  /** A failed round, on the status; BrokerPhase says deleting from the first failure on. */
  private roundFailed(err: unknown, phaseShown: boolean): void {
    const { status } = this;
    status.lastError = `delete round ${status.deleteAttempts} failed: ${errorMessage(err)}`;
    log.warn('delete round failed; retrying', { runId: this.input.runId, round: status.deleteAttempts });
    if (!phaseShown) this.setPhase('deleting');
    this.show();
  }

  /**
   * No API call ended a run whose lease expired: the audit trail hears it from here (patched: runs
   * that expired before replay without the record).
   */
  async auditLeaseExpiry(): Promise<void> {
    if (this.end?.outcome === 'lease-expired' && patched('audit-lease-expiry')) {
      const deleted = this.status.refs.filter((r) => r.state === 'deleted').length;
      await CancellationScope.nonCancellable(() =>
        auditSystem({ action: 'runLeaseExpired', workspaceId: this.input.workspaceId, target: { runId: this.input.runId }, outcome: 'ok', detail: { deleted } }),
      );
    }
  }

  /** Every handler answered; then close the way the run ended. */
  async close(): Promise<RunStatus> {
    await condition(allHandlersFinished);
    const { end, input } = this;
    if (end?.outcome === 'cancelled') throw new CancelledFailure(`run ${input.runId} was cancelled; its secrets are deleted`);
    if (end?.outcome === 'launch-failed' && end.failure) throw toApplicationFailure(end.failure);
    return this.status;
  }
}

export async function pipelineRun(input: PipelineRunInput): Promise<RunStatus> {
  const run = new Run(input);
  run.installHandlers();
  // One path for a fresh run and a resumed one: the phase says what is already done.
  try {
    if (run.status.phase === 'resolving') await run.launch();
    if (run.status.phase === 'ready' && !run.end) await run.awaitCompletion();
  } catch (err) {
    run.stoppedBy(err);
  }
  await CancellationScope.nonCancellable(() => run.deleteEverything());
  await run.auditLeaseExpiry();
  return run.close();
}
