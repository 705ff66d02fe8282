/**
 * Records the replay fixtures in test/replay/histories/: one JSON history per scenario, produced by
 * the CURRENT workflow code on a real Temporal dev server (test/harness/temporal.ts) with stub
 * activities. test/replay/replay.test.ts replays every file there on each `make test`, so a change
 * to the workflows that would break a run already in flight fails CI.
 *
 * Not a test suite (the name does not match jest's testMatch), so `make test` never runs it. To
 * record, on the workflow code whose histories you want (under a minute; it starts its own dev server):
 *
 *   NODE_OPTIONS="--experimental-vm-modules --no-warnings=ExperimentalWarning" \
 *     npx jest --testMatch '<rootDir>/test/replay/record.ts' --testTimeout 600000 --forceExit
 *
 *   REPLAY_RECORD_ONLY=<regex>   record only the fixtures whose file name matches (e.g. '-s2$')
 *   REPLAY_RECORD_SUFFIX=<tag>   write <workflow>-<scenario><tag>.json instead (e.g. '-v2')
 *   REPLAY_RECORD_OVERWRITE=1    write over fixtures that exist (never needed to add fixtures)
 *
 * A fixture file that exists is never written over unless REPLAY_RECORD_OVERWRITE=1: a scenario whose
 * fixtures all exist does not even run, so a run without a filter records only what is missing.
 *
 * Do NOT re-record existing fixtures to make a failing replay test pass: a failure means runs started
 * by the old code would break. After a workflow change, keep the old fixtures (they are the runs in
 * flight) and add new ones recorded from the new code under new names (REPLAY_RECORD_SUFFIX); drop an
 * old fixture only once no run of that code can still be open (longest lease, 366 days, plus cleanup).
 *
 * pipelineRun scenarios are recorded in both launch shapes of workflows/pipeline-run.ts (see Shape):
 * pipelineRun-<scenario>-s2.json is the short launch every run launched today takes (`shape: 2`),
 * pipelineRun-<scenario>.json the shape of runs launched before it. replay.test.ts requires a number
 * of shape-2 fixtures, so the short launch cannot lose its coverage unnoticed.
 *
 * The recording uses the SDK's default payload converter and NO encryption codec (fixtures need no
 * key), and the production failure converter (codec/failure-converter), as the replay does. Stub
 * activities return realistic references (the types of domain/run.ts, rotation-types.ts,
 * vault-key.ts) and never anything secret-looking. Each file is the history in canonical proto JSON
 * (as historyToJSON writes it; see history-json.ts for why not that very function), plus a top-level
 * "workflowId" (histories do not carry it; the replay passes it on).
 *
 * A scenario names the patches (patched() ids) its fixture must take; replay.test.ts requires a
 * fixture taking every patch of workflows/, so a new patch needs a scenario here that takes it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { Client, Connection, WithStartWorkflowOperation, WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { History } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { createActivities } from '../../activities';
import type { SystemEvent } from '../../activities/audit';
import { PipelineRuns } from '../../services/pipeline-runs';
import { LaunchError } from '../../domain/errors';
import { VaultKeyRotations } from '../../services/vault-key';
import { FAILURE_CONVERTER_PATH } from '../../codec/data-converter';
import { DIFFERENT_REQUEST, RUN_ALREADY_ENDED, pipelineRun, renewLeaseSignal, renewLeaseUpdate, runCompletedSignal, statusQuery, waitReadyUpdate } from '../../workflows/pipeline-run';
import { rotateCredential, rotationStatusQuery, scheduledRotation } from '../../workflows/rotation';
import { rotationWorkflowId, type RotationInput, type RotationSnapshot, type RotationTarget } from '../../domain/rotation';
import { ComputeEnvKey, PhaseKey, PlatformKey, RunIdKey, WorkspaceKey } from '../../workflows/search-attributes';
import { ErrorType } from '../../domain/errors';
import {
  pipelineRunWorkflowId,
  type LaunchKey,
  type MissingPermission,
  type PipelineRunInput,
  type Platform,
  type PushResult,
  type ReadyResult,
  type RemoteRef,
  type ResolvedRun,
  type RunStatus,
  type SecretRef,
} from '../../domain/run';
import { sweepOrphans } from '../../workflows/sweep';
import { cleanupWorkflowId, reapTerminatedRuns } from '../../workflows/cleanup';
import { rotateVaultMasterKey, scheduledVaultKeyRotation } from '../../workflows/vault-key';
import { VAULT_KEY_ROTATION_WORKFLOW_ID, type VaultKeyRotationResult } from '../../domain/vault-key';

/** The failure type of a rotation the vault refuses (was VAULT_KEY_ERROR_TYPE when recorded). */
const VAULT_KEY_ERROR_TYPE = ErrorType.VaultKey;
import { eventually } from '../harness/broker';
import { startTemporal, type TemporalServer } from '../harness/temporal';
import { historyToJSONObject } from './history-json';
import { patchesTaken } from './patches';
import { testWorkflowBundle } from '../harness/global-setup';

type Activities = ReturnType<typeof createActivities>;
type ActivityName = keyof Activities;

const HISTORIES_DIR = path.join(__dirname, 'histories');
const ONLY = process.env.REPLAY_RECORD_ONLY ? new RegExp(process.env.REPLAY_RECORD_ONLY) : undefined;
const SUFFIX = process.env.REPLAY_RECORD_SUFFIX ?? '';
const OVERWRITE = process.env.REPLAY_RECORD_OVERWRITE === '1';
const TASK_QUEUE = 'replay-recording';
const IDENTITY = 'replay-recorder';

// -- stub activities, chosen per workflow id ------------------------------------------------------

/** What each workflow id's activities do; an activity a scenario does not expect fails the recording. */
const behaviours = new Map<string, Partial<Activities>>();

/** Every activity the worker registers (the type check fails when one is added or removed). */
const ACTIVITY_NAMES = Object.keys({
  resolveRun: 0,
  pushSecrets: 0,
  placeSecrets: 0,
  verifyAccess: 0,
  deleteSecrets: 0,
  listComputeEnvIds: 0,
  sweepComputeEnv: 0,
  listAbandonedRuns: 0,
  abandonedRefs: 0,
  rotationInspect: 0,
  rotationRegenerate: 0,
  rotationStore: 0,
  rotationVerify: 0,
  rotationRetire: 0,
  vaultRewrap: 0,
  auditSystemEvent: 0,
} satisfies Record<ActivityName, 0>) as ActivityName[];

function dispatchingActivities(): Activities {
  const entries = ACTIVITY_NAMES.map((name) => [
    name,
    async (...args: unknown[]) => {
      const workflowId = Context.current().info.workflowExecution?.workflowId ?? '(none)';
      const impl = behaviours.get(workflowId)?.[name] as ((...a: unknown[]) => Promise<unknown>) | undefined;
      if (!impl) throw ApplicationFailure.nonRetryable(`recording: ${workflowId} did not expect activity ${name}`, 'UnexpectedActivity');
      return impl(...args);
    },
  ]);
  return Object.fromEntries(entries) as unknown as Activities;
}

/** A failure the way activities/errors.ts toFailure hands it to Temporal (typed, retryable or not). */
function failure(type: string, message: string, opts: { nonRetryable?: boolean; details?: unknown[] } = {}): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: opts.nonRetryable ?? false, ...(opts.details ? { details: opts.details } : {}) });
}

// -- pipeline-run stubs ---------------------------------------------------------------------------

interface ComputeEnvFixture {
  id: string;
  name: string;
  platform: Platform;
  /** remoteId and location of one secret of a run. */
  remote(runId: string, secretName: string): { remoteId: string; location?: string };
  headJobEnv(runId: string): Record<string, string>;
}

const AWS_CE: ComputeEnvFixture = {
  id: 'ce-aws-batch-eu',
  name: 'aws-batch-eu-west-1',
  platform: 'aws',
  remote: (runId, name) => ({ remoteId: `tower-${runId}/${name}`, location: 'eu-west-1' }),
  headJobEnv: (runId) => ({ AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'eu-west-1', TOWER_WORKFLOW_ID: runId, NXF_ENABLE_SECRETS: 'true' }),
};
const HPC_CE: ComputeEnvFixture = {
  id: 'ce-hpc-slurm',
  name: 'slurm-cluster',
  platform: 'hpc',
  remote: (runId) => ({ remoteId: `/scratch/nextflow/tower-${runId}`, location: 'nextflow@login.hpc.example.org' }),
  headJobEnv: (runId) => ({ NXF_SECRETS_FILE: `/scratch/nextflow/tower-${runId}/store.json`, NXF_ENABLE_SECRETS: 'true' }),
};
const LOCAL_CE: ComputeEnvFixture = {
  id: 'ce-local',
  name: 'workstation',
  platform: 'local',
  remote: (runId) => ({ remoteId: `/var/lib/secret-broker/runs/tower-${runId}` }),
  headJobEnv: (runId) => ({ NXF_SECRETS_FILE: `/var/lib/secret-broker/runs/tower-${runId}/store.json`, NXF_ENABLE_SECRETS: 'true' }),
};

const SECRET_NAMES = ['LIMS_API_TOKEN', 'REFERENCE_DB_PASSWORD'];

function remoteRef(ce: ComputeEnvFixture, runId: string, secretName: string): RemoteRef {
  return { platform: ce.platform, computeEnvId: ce.id, secretName, ...ce.remote(runId, secretName) };
}

function resolvedRun(ce: ComputeEnvFixture, run: PipelineRunInput): ResolvedRun {
  const secrets: SecretRef[] = run.secretNames.map((name, i) => ({
    name,
    scope: i % 2 === 0 ? 'workspace' : 'user',
    secretId: `sec-${(i + 1).toString().padStart(4, '0')}`,
    version: i + 1,
  }));
  return {
    workspaceName: 'genomics',
    userName: 'alice',
    computeEnvName: ce.name,
    platform: ce.platform,
    secrets,
    plannedRefs: run.secretNames.map((n) => remoteRef(ce, run.runId, n)),
  };
}

/**
 * The two launch shapes of workflows/pipeline-run.ts. Shape 2, the short launch, is what
 * services/pipeline-runs.ts launches since December 2026, so every live run takes it: resolveRun as a
 * local activity, placeSecrets (push and verify in one activity), BrokerPhase upserted at ready and
 * deleted only (deleting while delete rounds fail). Shape 1 is a run launched before (no `shape` in its
 * input), which keeps its shape to its end: recordable for the record (runs of it may still be open).
 *
 * The shape is in the fixture's name: pipelineRun-<scenario>.json for shape 1 (the names of the first
 * fixtures), pipelineRun-<scenario>-s2.json for shape 2. Every scenario is recorded in both shapes
 * unless it says otherwise (those only the short launch has are shape 2 only).
 */
type Shape = 1 | 2;
const BOTH_SHAPES: Shape[] = [1, 2];
const SHAPE_2_ONLY: Shape[] = [2];

/** The fixture name of a pipelineRun scenario in one shape. */
const runFile = (scenario: string, shape: Shape): string => `pipelineRun-${scenario}${shape === 2 ? '-s2' : ''}`;

/** What BrokerPhase a short-launch run ever upserts (never resolving, pushing or verifying). */
const SHORT_LAUNCH_PHASES = ['ready', 'deleting', 'deleted'];

/** The activities a scenario describes a run with, named as shape 1 calls them. */
type RunActivities = Pick<Activities, 'resolveRun' | 'pushSecrets' | 'verifyAccess' | 'deleteSecrets' | 'auditSystemEvent'>;

/** What the push places: a ref per secret, or nothing at all for a run without secrets (as the activity). */
function placed(ce: ComputeEnvFixture, { run, secrets }: Parameters<Activities['pushSecrets']>[0]): PushResult {
  if (!secrets.length) return { refs: [], headJobEnv: {} };
  return { refs: secrets.map((s) => remoteRef(ce, run.runId, s.name)), headJobEnv: ce.headJobEnv(run.runId) };
}

/**
 * A run whose every step works; scenarios override single activities (as shape 1 names them). Only
 * what the shape calls is registered, so a run calling another shape's activity fails the recording:
 * shape 1 gets resolveRun, pushSecrets, verifyAccess; shape 2 gets resolveRun (run as a local activity
 * by the workflow) and placeSecrets, which is the push then the verification, like the real activity
 * (activities/pipeline-run.ts): a refused verification fails placeSecrets after the push.
 */
function pipelineStubs(ce: ComputeEnvFixture, shape: Shape, overrides: Partial<RunActivities> = {}): Partial<Activities> {
  const push: Activities['pushSecrets'] =
    overrides.pushSecrets ??
    (async (input) => {
      Context.current().heartbeat(input.secrets.length);
      return placed(ce, input);
    });
  const verify: Activities['verifyAccess'] = overrides.verifyAccess ?? (async () => undefined);
  const common: Partial<Activities> = {
    resolveRun: overrides.resolveRun ?? (async (run) => resolvedRun(ce, run)),
    deleteSecrets: overrides.deleteSecrets ?? (async ({ refs }) => refs.map((ref) => ({ ref, outcome: 'deleted' as const }))),
    ...(overrides.auditSystemEvent ? { auditSystemEvent: overrides.auditSystemEvent } : {}),
  };
  if (shape === 1) return { ...common, pushSecrets: push, verifyAccess: verify };
  return {
    ...common,
    placeSecrets: async (input) => {
      const pushed = await push(input);
      await verify({ run: input.run, refs: pushed.refs });
      return pushed;
    },
  };
}

/** In a stub activity: wait for `until`, heartbeating meanwhile so the heartbeat timeout does not end the attempt. */
async function heartbeatUntil(until: Promise<void>): Promise<void> {
  const actx = Context.current();
  actx.heartbeat(0);
  const beat = setInterval(() => actx.heartbeat(0), 200);
  try {
    await until;
  } finally {
    clearInterval(beat);
  }
}

/** auditSystemEvent keeping each system record it is given, for the scenario to check. */
function auditInto(records: SystemEvent[]): Activities['auditSystemEvent'] {
  return async (e) => void records.push(e);
}

// -- recording ------------------------------------------------------------------------------------

interface Recorded {
  file: string;
  workflowId: string;
  runId: string;
  /** Event types the history must contain, so the fixture covers what its name says. */
  expect: string[];
  /** Patch ids the history must take (a core_patch marker each), so the patched branch is recorded. */
  patches?: string[];
  /** A pipelineRun's launch shape: its start input must say it (shape 2 is `shape: 2`, shape 1 none). */
  shape?: Shape;
  /** The BrokerPhase values the history upserts, in order, when the scenario says exactly which. */
  phases?: string[];
}

interface Ctx {
  client: Client;
  runs: PipelineRuns;
}

interface Scenario {
  /** File names (without .json) this scenario writes, in order; used by REPLAY_RECORD_ONLY. */
  files: string[];
  /** Scenarios in the same group run one after another (they share workflow ids). */
  group?: string;
  run(ctx: Ctx): Promise<Recorded[]>;
}

const E = temporal.api.enums.v1.EventType;
const ev = (t: temporal.api.enums.v1.EventType) => E[t];

/** A run's input; twins of the two shapes get their own run ids (shape 2's end in -s2). */
function pipelineInput(shape: Shape, runId: string, ce: ComputeEnvFixture, extra: Partial<PipelineRunInput> = {}): PipelineRunInput {
  return { runId: shape === 2 ? `${runId}-s2` : runId, workspaceId: 'ws-genomics', userId: 'usr-alice', computeEnvId: ce.id, secretNames: [...SECRET_NAMES], ...extra };
}

/** The labels the launch service is given for a run (as the API passes them on). */
const labelsOf = (ce: ComputeEnvFixture) => ({ workspace: 'genomics', computeEnv: ce.name, platform: ce.platform, user: 'alice' });

/**
 * Launch a run in a shape. Shape 2 is the launch service itself (services/pipeline-runs.ts:
 * Update-with-Start waitReady), which launches every run with `shape: 2`. Shape 1 is the launch
 * service as it was before (the same Update-with-Start, without `shape` in the input and without the
 * resolved names in the memo), its failures told as the service tells them (LaunchError with the type).
 */
async function launch(ctx: Ctx, shape: Shape, run: PipelineRunInput, ce: ComputeEnvFixture, stubs: Partial<Activities>): Promise<ReadyResult> {
  behaviours.set(pipelineRunWorkflowId(run.runId), stubs);
  if (shape === 2) return ctx.runs.launch({ ...run, labels: labelsOf(ce) });
  const key: LaunchKey = { workspaceId: run.workspaceId, userId: run.userId, computeEnvId: run.computeEnvId, secretNames: run.secretNames };
  const startWorkflowOperation = new WithStartWorkflowOperation(pipelineRun, {
    workflowId: pipelineRunWorkflowId(run.runId),
    taskQueue: TASK_QUEUE,
    args: [run],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    typedSearchAttributes: [
      { key: RunIdKey, value: run.runId },
      { key: WorkspaceKey, value: labelsOf(ce).workspace },
      { key: ComputeEnvKey, value: ce.name },
      { key: PlatformKey, value: ce.platform },
      { key: PhaseKey, value: 'resolving' },
    ],
    memo: { user: labelsOf(ce).user, secretNames: run.secretNames },
  });
  try {
    return await ctx.client.workflow.executeUpdateWithStart(waitReadyUpdate, { args: [key], startWorkflowOperation });
  } catch (err) {
    const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
    if (cause instanceof ApplicationFailure) throw new LaunchError(cause.message, 'launch-failed', cause.type ?? undefined);
    throw err;
  }
}

async function launchFails(ctx: Ctx, shape: Shape, run: PipelineRunInput, ce: ComputeEnvFixture, stubs: Partial<Activities>, type: string): Promise<LaunchError> {
  const err = await launch(ctx, shape, run, ce, stubs).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof LaunchError) || err.type !== type) throw new Error(`expected the launch to fail with ${type}, got ${String(err)}`);
  return err;
}

/**
 * One pipelineRun scenario in each of its shapes: a scenario per shape, with the shape's file names,
 * and its fixtures checked to carry the shape (Recorded.shape).
 */
function runScenarios(names: string[], shapes: Shape[], body: (ctx: Ctx, shape: Shape) => Promise<Recorded[]>): Scenario[] {
  return shapes.map((shape) => ({
    files: names.map((n) => runFile(n, shape)),
    run: async (ctx: Ctx) => (await body(ctx, shape)).map((r) => ({ ...r, shape })),
  }));
}

async function closed(handle: WorkflowHandle): Promise<void> {
  await handle.result().catch((err: unknown) => {
    if (!(err instanceof WorkflowFailedError)) throw err;
  });
}

async function runOf(handle: WorkflowHandle): Promise<string> {
  return (await handle.describe()).runId;
}

async function finalStatus(ctx: Ctx, runId: string): Promise<RunStatus> {
  const handle = ctx.client.workflow.getHandle<typeof pipelineRun>(pipelineRunWorkflowId(runId));
  await closed(handle);
  return handle.query(statusQuery);
}

/**
 * Renew through the service, as the API does: the renewRunLease update, answered with when the lease
 * now ends, which the status shows (no answer: it went as the signal, which a scenario must not record).
 */
async function renewAnswered(ctx: Ctx, handle: WorkflowHandle<typeof pipelineRun>, runId: string, extendByMs: number, what: string): Promise<string> {
  const answer = await ctx.runs.renew(runId, extendByMs);
  const shown = (await handle.query(statusQuery)).leaseExpiresAt;
  check(answer.leaseExpiresAt !== undefined && answer.leaseExpiresAt === shown, `${what}: the renewal was answered ${answer.leaseExpiresAt}, the status shows ${shown}`);
  return answer.leaseExpiresAt!;
}

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`recording: ${what}`);
}

const pipelineFile = (workflowId: string, runId: string, file: string, expect: string[]): Recorded => ({ file, workflowId, runId, expect });

const ACTIVITY_COMPLETED = ev(E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED);
const ACTIVITY_FAILED = ev(E.EVENT_TYPE_ACTIVITY_TASK_FAILED);
const UPDATE_ACCEPTED = ev(E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED);
const UPDATE_COMPLETED = ev(E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED);
const SIGNALED = ev(E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);
const TIMER_FIRED = ev(E.EVENT_TYPE_TIMER_FIRED);
const COMPLETED = ev(E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
const FAILED = ev(E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED);
const CANCELED = ev(E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED);
const CANCEL_REQUESTED = ev(E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED);
const CONTINUED = ev(E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW);
const SA_UPSERTED = ev(E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES);
/** A local activity's result, success or failure (shape 2 resolves as one). */
const MARKER_RECORDED = ev(E.EVENT_TYPE_MARKER_RECORDED);

const scenarios: Scenario[] = [
  // ---- pipelineRun (each scenario in both launch shapes unless it says otherwise; see Shape) ----
  ...runScenarios(['completed'], BOTH_SHAPES, async (ctx, shape) => {
    const run = pipelineInput(shape, 'rec-completed', AWS_CE);
    const ready = await launch(ctx, shape, run, AWS_CE, pipelineStubs(AWS_CE, shape));
    const handle = ctx.client.workflow.getHandle(ready.workflowId);
    const answer = await ctx.runs.complete(run.runId, 'succeeded');
    check(answer.result === 'accepted', `completed: the completion was answered ${answer.result}`);
    const final = await finalStatus(ctx, run.runId);
    check(final.outcome === 'succeeded' && final.phase === 'deleted', `completed: ${final.outcome}/${final.phase}`);
    // The completion is the completeRun update since it exists (a signal before).
    return [
      {
        ...pipelineFile(ready.workflowId, await runOf(handle), runFile('completed', shape), [UPDATE_ACCEPTED, UPDATE_COMPLETED, SA_UPSERTED, COMPLETED]),
        phases: shape === 2 ? ['ready', 'deleted'] : ['pushing', 'verifying', 'ready', 'deleting', 'deleted'],
      },
    ];
  }),
  ...runScenarios(['secret-not-found'], BOTH_SHAPES, async (ctx, shape) => {
    const run = pipelineInput(shape, 'rec-secret-not-found', AWS_CE, { secretNames: ['LIMS_API_TOKEN', 'NOT_IN_VAULT'] });
    const stubs = pipelineStubs(AWS_CE, shape, {
      resolveRun: async () => {
        throw failure(ErrorType.SecretNotFound, 'secret not found in workspace genomics or for user alice: NOT_IN_VAULT', { nonRetryable: true, details: [['NOT_IN_VAULT']] });
      },
    });
    await launchFails(ctx, shape, run, AWS_CE, stubs, ErrorType.SecretNotFound);
    const final = await finalStatus(ctx, run.runId);
    check(final.outcome === 'launch-failed' && final.refs.length === 0, `secret-not-found: ${final.outcome}`);
    const wf = pipelineRunWorkflowId(run.runId);
    // Shape 2 resolves as a local activity: its failure is recorded as a marker, not as an activity event.
    const resolveFailed = shape === 2 ? MARKER_RECORDED : ACTIVITY_FAILED;
    return [pipelineFile(wf, await runOf(ctx.client.workflow.getHandle(wf)), runFile('secret-not-found', shape), [resolveFailed, UPDATE_COMPLETED, FAILED])];
  }),
  ...runScenarios(['verify-failed'], BOTH_SHAPES, async (ctx, shape) => {
    // The run's role cannot read what was pushed: shape 1 fails verifyAccess, shape 2 placeSecrets
    // after its push (AccessVerification with every missing permission as details); all is deleted.
    const run = pipelineInput(shape, 'rec-verify-failed', AWS_CE);
    const missing: MissingPermission[] = [
      {
        principal: 'head-job role arn:aws:iam::123456789012:role/nextflow-head-job',
        permission: 'secretsmanager:GetSecretValue',
        resource: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:tower-${run.runId}/*`,
        grant: '{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:eu-west-1:123456789012:secret:tower-*"}',
      },
    ];
    const stubs = pipelineStubs(AWS_CE, shape, {
      verifyAccess: async () => {
        throw failure(ErrorType.AccessVerification, `access check failed: ${missing[0].principal} lacks ${missing[0].permission} on ${missing[0].resource}`, {
          nonRetryable: true,
          details: [missing],
        });
      },
    });
    const err = await launchFails(ctx, shape, run, AWS_CE, stubs, ErrorType.AccessVerification);
    // The launch service hands the missing permissions on (shape 1's launch here does not map them).
    check(shape === 1 || isDeepStrictEqual(err.missing, missing), `verify-failed: the launch told ${JSON.stringify(err.missing)}`);
    const final = await finalStatus(ctx, run.runId);
    check(final.outcome === 'launch-failed' && final.refs.every((r) => r.state === 'deleted'), `verify-failed: ${JSON.stringify(final.refs)}`);
    const wf = pipelineRunWorkflowId(run.runId);
    return [pipelineFile(wf, await runOf(ctx.client.workflow.getHandle(wf)), runFile('verify-failed', shape), [ACTIVITY_FAILED, UPDATE_COMPLETED, ACTIVITY_COMPLETED, FAILED])];
  }),
  ...runScenarios(['push-failed'], BOTH_SHAPES, async (ctx, shape) => {
    // Part of the secrets were placed before the refusal: every planned ref is deleted (one is gone).
    const run = pipelineInput(shape, 'rec-push-failed', AWS_CE);
    const stubs = pipelineStubs(AWS_CE, shape, {
      pushSecrets: async () => {
        throw failure(ErrorType.PermissionDenied, `broker lacks secretsmanager:CreateSecret on tower-${run.runId}/REFERENCE_DB_PASSWORD`, { nonRetryable: true });
      },
      deleteSecrets: async ({ refs }) => refs.map((ref, i) => ({ ref, outcome: i === 0 ? ('deleted' as const) : ('not-found' as const) })),
    });
    await launchFails(ctx, shape, run, AWS_CE, stubs, ErrorType.PermissionDenied);
    const final = await finalStatus(ctx, run.runId);
    check(final.outcome === 'launch-failed', `push-failed: ${final.outcome}`);
    const wf = pipelineRunWorkflowId(run.runId);
    return [pipelineFile(wf, await runOf(ctx.client.workflow.getHandle(wf)), runFile('push-failed', shape), [ACTIVITY_FAILED, UPDATE_COMPLETED, FAILED])];
  }),
  ...runScenarios(['invalid-lease'], BOTH_SHAPES, async (ctx, shape) => {
    // The client refuses such a lease; a caller that bypasses it meets the workflow's own check.
    const run = pipelineInput(shape, 'rec-invalid-lease', LOCAL_CE, { leaseMs: 400 * 24 * 60 * 60 * 1000, ...(shape === 2 ? { shape: 2 as const } : {}) });
    const wf = pipelineRunWorkflowId(run.runId);
    behaviours.set(wf, pipelineStubs(LOCAL_CE, shape));
    const startWorkflowOperation = new WithStartWorkflowOperation(pipelineRun, {
      workflowId: wf,
      taskQueue: TASK_QUEUE,
      args: [run],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: [
        { key: RunIdKey, value: run.runId },
        { key: PhaseKey, value: 'resolving' },
      ],
    });
    const err = await ctx.client.workflow.executeUpdateWithStart(waitReadyUpdate, { startWorkflowOperation }).catch((e: unknown) => e);
    check(err instanceof WorkflowUpdateFailedError && (err.cause as ApplicationFailure).type === ErrorType.InvalidInput, `invalid-lease: ${String(err)}`);
    const final = await finalStatus(ctx, run.runId);
    check(final.outcome === 'launch-failed', `invalid-lease: ${final.outcome}`);
    return [pipelineFile(wf, await runOf(ctx.client.workflow.getHandle(wf)), runFile('invalid-lease', shape), [UPDATE_COMPLETED, FAILED])];
  }),
  ...runScenarios(['cancelled-ready'], BOTH_SHAPES, async (ctx, shape) => {
    const run = pipelineInput(shape, 'rec-cancelled-ready', HPC_CE);
    const ready = await launch(ctx, shape, run, HPC_CE, pipelineStubs(HPC_CE, shape));
    await ctx.runs.cancel(run.runId);
    const final = await finalStatus(ctx, run.runId);
    check(final.outcome === 'cancelled' && final.phase === 'deleted', `cancelled-ready: ${final.outcome}/${final.phase}`);
    return [pipelineFile(ready.workflowId, await runOf(ctx.client.workflow.getHandle(ready.workflowId)), runFile('cancelled-ready', shape), [CANCEL_REQUESTED, ACTIVITY_COMPLETED, CANCELED])];
  }),
  ...runScenarios(['cancelled-pushing'], BOTH_SHAPES, async (ctx, shape) => {
    // The push (shape 2: placeSecrets) heartbeats, hears the cancellation and stops; then cleanup;
    // then the launch hears it.
    const run = pipelineInput(shape, 'rec-cancelled-pushing', AWS_CE);
    const wf = pipelineRunWorkflowId(run.runId);
    const stubs = pipelineStubs(AWS_CE, shape, {
      pushSecrets: async () => {
        const actx = Context.current();
        let done = 0;
        actx.heartbeat(done);
        const beat = setInterval(() => actx.heartbeat(++done), 200);
        try {
          // Rejects with CancelledFailure once the cancellation arrives: the activity ends cancelled.
          return await actx.cancelled;
        } finally {
          clearInterval(beat);
        }
      },
    });
    const launching = launch(ctx, shape, run, AWS_CE, stubs).then(
      () => undefined,
      (e: unknown) => e,
    );
    const handle = ctx.client.workflow.getHandle<typeof pipelineRun>(wf);
    await eventually(async () => (await handle.query(statusQuery)).phase === 'pushing', 'the push to start');
    await new Promise((r) => setTimeout(r, 500));
    await ctx.runs.cancel(run.runId);
    const err = await launching;
    check(err instanceof LaunchError, `cancelled-pushing: the launch answered ${String(err)}`);
    const final = await finalStatus(ctx, run.runId);
    check(final.outcome === 'cancelled' && final.refs.every((r) => r.state === 'deleted'), `cancelled-pushing: ${final.outcome}`);
    return [
      pipelineFile(wf, await runOf(handle), runFile('cancelled-pushing', shape), [
        CANCEL_REQUESTED,
        ev(E.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED),
        ev(E.EVENT_TYPE_ACTIVITY_TASK_CANCELED),
        UPDATE_COMPLETED,
        CANCELED,
      ]),
    ];
  }),
  ...runScenarios(['lease-expired'], BOTH_SHAPES, async (ctx, shape) => {
    // No API call ends the run: the workflow appends the system audit record itself (a patch).
    const run = pipelineInput(shape, 'rec-lease-expired', LOCAL_CE, { leaseMs: 3_000 });
    const audits: SystemEvent[] = [];
    const ready = await launch(ctx, shape, run, LOCAL_CE, pipelineStubs(LOCAL_CE, shape, { auditSystemEvent: auditInto(audits) }));
    const final = await finalStatus(ctx, run.runId);
    check(final.outcome === 'lease-expired', `lease-expired: ${final.outcome}`);
    const audited: SystemEvent = { action: 'runLeaseExpired', workspaceId: run.workspaceId, target: { runId: run.runId }, outcome: 'ok', detail: { deleted: 2 } };
    check(isDeepStrictEqual(audits, [audited]), `lease-expired: audit ${JSON.stringify(audits)}`);
    const handle = ctx.client.workflow.getHandle(ready.workflowId);
    return [{ ...pipelineFile(ready.workflowId, await runOf(handle), runFile('lease-expired', shape), [TIMER_FIRED, ACTIVITY_COMPLETED, COMPLETED]), patches: ['audit-lease-expiry'] }];
  }),
  ...runScenarios(['lease-renewed'], BOTH_SHAPES, async (ctx, shape) => {
    // The lease is renewed (the renewLease signal), then the run completes (the completeRun update)
    // before it ends. Sent as the signal here: the service sends the renewRunLease update, and this
    // signal only when no worker answers in time or the run predates the update.
    const run = pipelineInput(shape, 'rec-lease-renewed', HPC_CE, { leaseMs: 60_000 });
    const ready = await launch(ctx, shape, run, HPC_CE, pipelineStubs(HPC_CE, shape));
    const handle = ctx.client.workflow.getHandle<typeof pipelineRun>(ready.workflowId);
    await handle.signal(renewLeaseSignal, { extendByMs: 2 * 60 * 60_000 });
    await eventually(async () => (await handle.query(statusQuery)).leaseExpiresAt !== ready.leaseExpiresAt, 'the renewal to apply');
    await ctx.runs.complete(run.runId, 'failed');
    const final = await finalStatus(ctx, run.runId);
    check(final.outcome === 'failed' && final.phase === 'deleted', `lease-renewed: ${final.outcome}`);
    return [pipelineFile(ready.workflowId, await runOf(handle), runFile('lease-renewed', shape), [SIGNALED, ev(E.EVENT_TYPE_TIMER_CANCELED), UPDATE_COMPLETED, COMPLETED])];
  }),
  ...runScenarios(['lease-renewed-update'], SHAPE_2_ONLY, async (ctx, shape) => {
    // The lease is renewed through the service (the renewRunLease update), answered with the lease's
    // new end; a renewal of a bad length is refused by the update's validator (no event); then the run
    // completes (the completeRun update) before its lease ends. This and renew-refused are recorded in
    // shape 2 only, the launch of every run started today; a shape-1 run still open is renewed by the
    // same update, and has no fixture of it.
    const run = pipelineInput(shape, 'rec-lease-renewed-update', HPC_CE, { leaseMs: 60_000 });
    const ready = await launch(ctx, shape, run, HPC_CE, pipelineStubs(HPC_CE, shape));
    const handle = ctx.client.workflow.getHandle<typeof pipelineRun>(ready.workflowId);
    const leaseEnd = await renewAnswered(ctx, handle, run.runId, 2 * 60 * 60_000, 'lease-renewed-update');
    check(Date.parse(leaseEnd) - Date.parse(ready.leaseExpiresAt) > 60 * 60_000, `lease-renewed-update: the lease ended at ${ready.leaseExpiresAt}, renewed to ${leaseEnd}`);
    const bad = await handle.executeUpdate(renewLeaseUpdate, { args: [{ extendByMs: -5 }] }).catch((e: unknown) => e);
    check(bad instanceof WorkflowUpdateFailedError && /^extendByMs: /.test(bad.cause?.message ?? ''), `lease-renewed-update: a bad length was answered ${String(bad)}`);
    check((await handle.query(statusQuery)).leaseExpiresAt === leaseEnd, 'lease-renewed-update: the refused renewal changed the lease');
    const answer = await ctx.runs.complete(run.runId, 'succeeded');
    check(answer.result === 'accepted', `lease-renewed-update: the completion was answered ${answer.result}`);
    const final = await finalStatus(ctx, run.runId);
    check(final.outcome === 'succeeded' && final.phase === 'deleted' && final.deleteAttempts === 1, `lease-renewed-update: ${final.outcome}/${final.phase}/${final.deleteAttempts}`);
    const history = await handle.fetchHistory();
    const accepted = updatesAccepted(history);
    check(isDeepStrictEqual(accepted, ['waitReady', 'renewRunLease', 'completeRun']), `lease-renewed-update: updates accepted ${accepted.join(', ')}`);
    check(!(history.events ?? []).some((e) => ev(e.eventType ?? 0) === SIGNALED), 'lease-renewed-update: the history has a signal (the renewal went as the renewLease signal)');
    return [
      {
        ...pipelineFile(ready.workflowId, await runOf(handle), runFile('lease-renewed-update', shape), [UPDATE_ACCEPTED, UPDATE_COMPLETED, ev(E.EVENT_TYPE_TIMER_CANCELED), COMPLETED]),
        phases: ['ready', 'deleted'],
      },
    ];
  }),
  ...runScenarios(['renew-refused'], SHAPE_2_ONLY, async (ctx, shape) => {
    // A renewal is answered while the run is ready. Then its end is reported (the completeRun update)
    // and the first delete round fails: a renewal now is refused as already ended by the update's
    // validator (no event), asked directly and through the service. The second round, which starts
    // only once both were refused, deletes everything.
    const run = pipelineInput(shape, 'rec-renew-refused', HPC_CE, { leaseMs: 60_000 });
    let release!: () => void;
    const refused = new Promise<void>((r) => (release = r));
    let calls = 0;
    const stubs = pipelineStubs(HPC_CE, shape, {
      deleteSecrets: async ({ refs }) => {
        if (++calls === 1) throw failure(ErrorType.Connection, 'ssh nextflow@login.hpc.example.org: connect ECONNREFUSED');
        await heartbeatUntil(refused);
        return refs.map((ref) => ({ ref, outcome: 'deleted' as const }));
      },
    });
    const ready = await launch(ctx, shape, run, HPC_CE, stubs);
    const handle = ctx.client.workflow.getHandle<typeof pipelineRun>(ready.workflowId);
    const leaseEnd = await renewAnswered(ctx, handle, run.runId, 2 * 60 * 60_000, 'renew-refused');
    const answer = await ctx.runs.complete(run.runId, 'succeeded');
    check(answer.result === 'accepted', `renew-refused: the completion was answered ${answer.result}`);
    await eventually(async () => (await handle.query(statusQuery)).lastError?.startsWith('delete round 1 failed') === true, 'the first delete round to fail');
    const err = await handle.executeUpdate(renewLeaseUpdate, { args: [{ extendByMs: 60_000 }] }).catch((e: unknown) => e);
    const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
    check(
      cause instanceof ApplicationFailure && cause.type === RUN_ALREADY_ENDED && /already ended \(succeeded\); its lease cannot be renewed/.test(cause.message),
      `renew-refused: the renewal while deleting was answered ${String(err)} (${String(cause)})`,
    );
    const viaService = await ctx.runs.renew(run.runId, 60_000).catch((e: unknown) => e);
    check(viaService instanceof LaunchError && viaService.code === 'already-ended' && viaService.outcome === 'succeeded', `renew-refused: the service answered ${String(viaService)}`);
    const mid = await handle.query(statusQuery);
    check(mid.phase === 'deleting' && mid.leaseExpiresAt === leaseEnd, `renew-refused: while deleting ${mid.phase}, lease ${mid.leaseExpiresAt} (renewed to ${leaseEnd})`);
    release();
    const final = await finalStatus(ctx, run.runId);
    check(final.outcome === 'succeeded' && final.phase === 'deleted' && final.deleteAttempts === 2, `renew-refused: ${final.outcome}/${final.phase}/${final.deleteAttempts}`);
    const accepted = updatesAccepted(await handle.fetchHistory());
    check(isDeepStrictEqual(accepted, ['waitReady', 'renewRunLease', 'completeRun']), `renew-refused: updates accepted ${accepted.join(', ')}`);
    return [
      {
        ...pipelineFile(ready.workflowId, await runOf(handle), runFile('renew-refused', shape), [UPDATE_ACCEPTED, UPDATE_COMPLETED, ACTIVITY_FAILED, TIMER_FIRED, ACTIVITY_COMPLETED, COMPLETED]),
        phases: ['ready', 'deleting', 'deleted'],
      },
    ];
  }),
  ...runScenarios(['invalid-signals'], BOTH_SHAPES, async (ctx, shape) => {
    // A completion without a valid status and malformed renewals are ignored; a valid runCompleted
    // signal (no update) ends the run.
    const run = pipelineInput(shape, 'rec-invalid-signals', LOCAL_CE, { leaseMs: 10 * 60_000 });
    const ready = await launch(ctx, shape, run, LOCAL_CE, pipelineStubs(LOCAL_CE, shape));
    const handle = ctx.client.workflow.getHandle<typeof pipelineRun>(ready.workflowId);
    await handle.signal('runCompleted', { status: 'bogus' });
    await handle.signal('runCompleted', {});
    await handle.signal('renewLease', { extendByMs: -5 });
    const mid = await handle.query(statusQuery);
    check(mid.phase === 'ready' && mid.leaseExpiresAt === ready.leaseExpiresAt, `invalid-signals: ${mid.phase}`);
    await handle.signal(runCompletedSignal, { status: 'succeeded' });
    const final = await finalStatus(ctx, run.runId);
    check(final.outcome === 'succeeded', `invalid-signals: ${final.outcome}`);
    return [pipelineFile(ready.workflowId, await runOf(handle), runFile('invalid-signals', shape), [SIGNALED, COMPLETED])];
  }),
  ...runScenarios(['delete-retried'], BOTH_SHAPES, async (ctx, shape) => {
    // Two delete rounds fail (the host is unreachable; a round is one attempt, the workflow retries
    // rounds after a backoff), the third works. Shape 2 shows BrokerPhase deleting only from the first
    // failed round.
    const run = pipelineInput(shape, 'rec-delete-retried', HPC_CE);
    let calls = 0;
    const stubs = pipelineStubs(HPC_CE, shape, {
      deleteSecrets: async ({ refs }) => {
        if (++calls <= 2) throw failure(ErrorType.Connection, 'ssh nextflow@login.hpc.example.org: connect ETIMEDOUT');
        return refs.map((ref) => ({ ref, outcome: 'deleted' as const }));
      },
    });
    const ready = await launch(ctx, shape, run, HPC_CE, stubs);
    await ctx.runs.complete(run.runId, 'succeeded');
    const final = await finalStatus(ctx, run.runId);
    check(final.outcome === 'succeeded' && final.deleteAttempts === 3 && final.phase === 'deleted', `delete-retried: ${final.deleteAttempts}`);
    return [
      {
        ...pipelineFile(ready.workflowId, await runOf(ctx.client.workflow.getHandle(ready.workflowId)), runFile('delete-retried', shape), [ACTIVITY_FAILED, TIMER_FIRED, COMPLETED]),
        phases: shape === 2 ? ['ready', 'deleting', 'deleted'] : ['pushing', 'verifying', 'ready', 'deleting', 'deleted'],
      },
    ];
  }),
  ...runScenarios(['continued-ready-first', 'continued-ready-resumed'], BOTH_SHAPES, async (ctx, shape) => {
    // historyLimit is below the events of a launch (of either shape): the run continues as new as soon
    // as it is ready, and the resumed run waits for the completion, then deletes.
    const run = pipelineInput(shape, 'rec-continued-ready', AWS_CE, { historyLimit: 10 });
    const ready = await launch(ctx, shape, run, AWS_CE, pipelineStubs(AWS_CE, shape));
    const handle = ctx.client.workflow.getHandle<typeof pipelineRun>(ready.workflowId);
    const first = (await handle.describe()).raw.workflowExecutionInfo?.firstRunId ?? '';
    check(first !== '', 'continued-ready: the server reports no first run id');
    await eventually(async () => (await handle.describe()).runId !== first, 'the run to continue as new');
    const resumed = await runOf(handle);
    await ctx.runs.complete(run.runId, 'succeeded');
    const final = await finalStatus(ctx, run.runId);
    check(final.outcome === 'succeeded' && final.phase === 'deleted', `continued-ready: ${final.outcome}`);
    check((await handle.describe()).runId === resumed, 'continued-ready: continued more than once');
    return [
      pipelineFile(ready.workflowId, first, runFile('continued-ready-first', shape), [UPDATE_COMPLETED, CONTINUED]),
      // The completion is the completeRun update (the first fixtures of shape 1 had the signal).
      pipelineFile(ready.workflowId, resumed, runFile('continued-ready-resumed', shape), [UPDATE_COMPLETED, ACTIVITY_COMPLETED, COMPLETED]),
    ];
  }),
  ...runScenarios(['continued-deleting-first', 'continued-deleting-resumed'], BOTH_SHAPES, async (ctx, shape) => {
    // A delete that keeps failing fills the history: the run continues as new in the deleting phase,
    // and the resumed run's next rounds delete everything.
    const run = pipelineInput(shape, 'rec-continued-deleting', HPC_CE, { historyLimit: CONTINUED_DELETING_HISTORY_LIMIT[shape] });
    let calls = 0;
    const stubs = pipelineStubs(HPC_CE, shape, {
      deleteSecrets: async ({ refs }) => {
        if (++calls <= 3) throw failure(ErrorType.Connection, 'ssh nextflow@login.hpc.example.org: connect ECONNREFUSED', { nonRetryable: true });
        return refs.map((ref) => ({ ref, outcome: 'deleted' as const }));
      },
    });
    const ready = await launch(ctx, shape, run, HPC_CE, stubs);
    const handle = ctx.client.workflow.getHandle<typeof pipelineRun>(ready.workflowId);
    const first = await runOf(handle);
    await ctx.runs.complete(run.runId, 'succeeded');
    const final = await finalStatus(ctx, run.runId);
    check(final.outcome === 'succeeded' && final.phase === 'deleted' && final.deleteAttempts === 4, `continued-deleting: ${final.outcome}/${final.deleteAttempts}`);
    const resumed = await runOf(handle);
    check(resumed !== first, 'continued-deleting: the run did not continue as new');
    const resumedInput = await startInput<PipelineRunInput>(ctx.client.workflow.getHandle(ready.workflowId, resumed));
    check(resumedInput.resume?.status.phase === 'deleting', `continued-deleting: resumed in phase ${resumedInput.resume?.status.phase}`);
    check(resumedInput.resume?.status.deleteAttempts === 2, `continued-deleting: continued after delete round ${resumedInput.resume?.status.deleteAttempts} (not 2)`);
    return [
      pipelineFile(ready.workflowId, first, runFile('continued-deleting-first', shape), [ACTIVITY_FAILED, TIMER_FIRED, CONTINUED]),
      pipelineFile(ready.workflowId, resumed, runFile('continued-deleting-resumed', shape), [ACTIVITY_COMPLETED, COMPLETED]),
    ];
  }),
  ...runScenarios(['empty'], SHAPE_2_ONLY, async (ctx, shape) => {
    // A run without secrets: placeSecrets places nothing, and nothing is deleted (no delete round).
    const run = pipelineInput(shape, 'rec-empty', LOCAL_CE, { secretNames: [] });
    const ready = await launch(ctx, shape, run, LOCAL_CE, pipelineStubs(LOCAL_CE, shape));
    check(ready.refs.length === 0 && Object.keys(ready.headJobEnv).length === 0, `empty: ready with ${JSON.stringify(ready.refs)}`);
    await ctx.runs.complete(run.runId, 'succeeded');
    const final = await finalStatus(ctx, run.runId);
    check(final.outcome === 'succeeded' && final.phase === 'deleted' && final.deleteAttempts === 0, `empty: ${final.outcome}/${final.phase}/${final.deleteAttempts}`);
    return [
      {
        ...pipelineFile(ready.workflowId, await runOf(ctx.client.workflow.getHandle(ready.workflowId)), runFile('empty', shape), [ACTIVITY_COMPLETED, UPDATE_COMPLETED, COMPLETED]),
        phases: ['ready', 'deleted'],
      },
    ];
  }),
  ...runScenarios(['launch-retried'], SHAPE_2_ONLY, async (ctx, shape) => {
    // The launch service retries what it did not hear back from. A second launch of the same request
    // while the first waits joins it (a second waitReady update) and both hear the same ready; a
    // different request under the run id is refused naming the difference (by the update's validator:
    // no event); the same request once ready is answered at once (a third waitReady).
    const run = pipelineInput(shape, 'rec-launch-retried', AWS_CE);
    const wf = pipelineRunWorkflowId(run.runId);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const stubs = pipelineStubs(AWS_CE, shape, {
      pushSecrets: async (input) => {
        await heartbeatUntil(released);
        return placed(AWS_CE, input);
      },
    });
    const handle = ctx.client.workflow.getHandle<typeof pipelineRun>(wf);
    const waitReadyAccepted = async () => updatesAccepted(await handle.fetchHistory()).filter((name) => name === 'waitReady').length;
    const firstLaunch = launch(ctx, shape, run, AWS_CE, stubs);
    await eventually(async () => (await handle.query(statusQuery)).phase === 'pushing', 'the push to start');
    const retried = launch(ctx, shape, run, AWS_CE, stubs);
    await eventually(async () => (await waitReadyAccepted()) === 2, 'the retried launch to join the first');
    release();
    const [a, b] = await Promise.all([firstLaunch, retried]);
    check(isDeepStrictEqual(a, b), `launch-retried: the two launches heard ${JSON.stringify(a)} and ${JSON.stringify(b)}`);
    const differs = await launch(ctx, shape, { ...run, secretNames: ['LIMS_API_TOKEN'] }, AWS_CE, stubs).then(
      () => undefined,
      (e: unknown) => e,
    );
    check(differs instanceof LaunchError && differs.code === 'duplicate-run' && differs.type === DIFFERENT_REQUEST, `launch-retried: a different request was answered ${String(differs)}`);
    const again = await launch(ctx, shape, run, AWS_CE, stubs);
    check(isDeepStrictEqual(again, a), `launch-retried: the launch once ready heard ${JSON.stringify(again)}`);
    await ctx.runs.complete(run.runId, 'succeeded');
    const final = await finalStatus(ctx, run.runId);
    check(final.outcome === 'succeeded' && final.phase === 'deleted', `launch-retried: ${final.outcome}/${final.phase}`);
    check((await waitReadyAccepted()) === 3, `launch-retried: ${await waitReadyAccepted()} waitReady updates accepted (not 3)`);
    return [pipelineFile(wf, await runOf(handle), runFile('launch-retried', shape), [UPDATE_ACCEPTED, UPDATE_COMPLETED, ACTIVITY_COMPLETED, COMPLETED])];
  }),

  // ---- rotateCredential / scheduledRotation ----
  {
    files: ['rotateCredential-rotated'],
    async run(ctx) {
      const input = rotationInput(BATCH_TARGET, 'azure-batch-key:00000000-0000-0000-0000-000000000000:rg-genomics:batchrotated');
      behaviours.set(rotationWorkflowId(input.account), rotationStubs(fixedSnapshot(['Primary', 'Secondary'], 'Primary')));
      const handle = await startRotation(ctx, input);
      const r = await handle.result();
      check(r.outcome === 'rotated' && r.final === 'Secondary', `rotated: ${JSON.stringify(r)}`);
      return [recorded(handle, 'rotateCredential-rotated', [TIMER_FIRED, COMPLETED])];
    },
  },
  {
    files: ['rotateCredential-switch-back'],
    async run(ctx) {
      const input = { ...rotationInput(STORAGE_TARGET, 'azure-storage-key:00000000-0000-0000-0000-000000000000:rg-genomics:stgenomicsdata'), switchBack: true };
      behaviours.set(rotationWorkflowId(input.account), rotationStubs(fixedSnapshot(['key1', 'key2'], 'key1')));
      const handle = await startRotation(ctx, input);
      const r = await handle.result();
      check(r.outcome === 'rotated' && r.final === 'key1' && r.to === 'key2', `switch-back: ${JSON.stringify(r)}`);
      return [recorded(handle, 'rotateCredential-switch-back', [TIMER_FIRED, COMPLETED])];
    },
  },
  {
    files: ['rotateCredential-nothing-to-rotate'],
    async run(ctx) {
      const input = rotationInput(BATCH_TARGET, 'azure-batch-key:00000000-0000-0000-0000-000000000000:rg-genomics:batchaadonly');
      const reason =
        'Batch account batchaadonly (resource group rg-genomics, subscription 00000000-0000-0000-0000-000000000000) does not allow shared-key authentication (allowedAuthenticationModes lacks SharedKey): there is nothing to rotate';
      behaviours.set(rotationWorkflowId(input.account), rotationStubs({ rotatable: false, reason, slots: ['Primary', 'Secondary'], stored: null, usedElsewhere: [], fixedSlots: true }));
      const handle = await startRotation(ctx, input);
      const r = await handle.result();
      check(r.outcome === 'nothing-to-rotate', `nothing-to-rotate: ${r.outcome}`);
      return [recorded(handle, 'rotateCredential-nothing-to-rotate', [ACTIVITY_COMPLETED, COMPLETED])];
    },
  },
  {
    files: ['rotateCredential-refused'],
    async run(ctx) {
      // The stored key matches neither slot: refused before anything changes.
      const input = rotationInput(STORAGE_TARGET, 'azure-storage-key:00000000-0000-0000-0000-000000000000:rg-genomics:stgenomicsstale');
      behaviours.set(rotationWorkflowId(input.account), rotationStubs(fixedSnapshot(['key1', 'key2'], null)));
      const handle = await startRotation(ctx, input);
      await expectFailure(handle, ErrorType.RotationRefused);
      return [recorded(handle, 'rotateCredential-refused', [ACTIVITY_COMPLETED, FAILED])];
    },
  },
  {
    files: ['rotateCredential-verify-failed-switch-back'],
    async run(ctx) {
      // Fixed slots: the fresh key is refused, the credential goes back to the proven old key.
      const input = rotationInput(BATCH_TARGET, 'azure-batch-key:00000000-0000-0000-0000-000000000000:rg-genomics:batchrefused');
      const stores: string[] = [];
      behaviours.set(
        rotationWorkflowId(input.account),
        rotationStubs(fixedSnapshot(['Primary', 'Secondary'], 'Primary'), {
          rotationStore: async (_t, slot) => void stores.push(slot),
          rotationVerify: async () => {
            throw failure(
              ErrorType.AuthenticationFailed,
              'verify of Batch account batchrefused (resource group rg-genomics, subscription 00000000-0000-0000-0000-000000000000): verify on batchrefused.westeurope.batch.azure.com: the data plane refused the shared key (HTTP 403)',
              { nonRetryable: true },
            );
          },
        }),
      );
      const handle = await startRotation(ctx, input);
      await expectFailure(handle, ErrorType.AuthenticationFailed);
      check(stores.join(',') === 'Secondary,Primary', `verify-failed-switch-back: stores ${stores.join(',')}`);
      return [recorded(handle, 'rotateCredential-verify-failed-switch-back', [ACTIVITY_FAILED, FAILED])];
    },
  },
  {
    files: ['rotateCredential-verify-failed'],
    async run(ctx) {
      // No fixed slots (registry token passwords): nothing to switch back to; the rotation stops.
      const input = rotationInput(ACR_TARGET, 'acr-token-password:00000000-0000-0000-0000-000000000000:rg-genomics:crgenomics:nextflow-pull');
      behaviours.set(
        rotationWorkflowId(input.account),
        rotationStubs(
          { rotatable: true, slots: ['password1', 'password2'], stored: 'password2', usedElsewhere: [], fixedSlots: false },
          {
            rotationVerify: async () => {
              throw failure(ErrorType.PermissionDenied, 'verify of token nextflow-pull of registry crgenomics: the token lacks the repositories/pull scope', { nonRetryable: true });
            },
          },
        ),
      );
      const handle = await startRotation(ctx, input);
      await expectFailure(handle, ErrorType.PermissionDenied);
      return [recorded(handle, 'rotateCredential-verify-failed', [ACTIVITY_FAILED, FAILED])];
    },
  },
  {
    files: ['scheduledRotation-rotated', 'rotateCredential-scheduled-child'],
    async run(ctx) {
      const input = rotationInput(STORAGE_TARGET, 'azure-storage-key:00000000-0000-0000-0000-000000000000:rg-genomics:stgenomicsscheduled');
      const childId = rotationWorkflowId(input.account);
      behaviours.set(childId, rotationStubs(fixedSnapshot(['key1', 'key2'], 'key2')));
      const workflowId = `scheduled-rotate-cred-storage-0001-${Date.now()}`;
      const audits: SystemEvent[] = [];
      behaviours.set(workflowId, { auditSystemEvent: auditInto(audits) });
      const handle = await ctx.client.workflow.start(scheduledRotation, { workflowId, taskQueue: TASK_QUEUE, args: [input] });
      const r = await handle.result();
      check(r.outcome === 'rotated' && r.result?.final === 'key1', `scheduled-rotated: ${JSON.stringify(r)}`);
      check(isDeepStrictEqual(audits, [firingAudit(input, 'ok', { result: 'rotated' })]), `scheduled-rotated: audit ${JSON.stringify(audits)}`);
      return [
        { ...recorded(handle, 'scheduledRotation-rotated', [ev(E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED), COMPLETED]), patches: SCHEDULED_ROTATION_PATCHES },
        await recordedRun(ctx.client.workflow.getHandle(childId), 'rotateCredential-scheduled-child', [TIMER_FIRED, COMPLETED]),
      ];
    },
  },
  {
    files: ['scheduledRotation-skipped'],
    async run(ctx) {
      // A manual rotation of the same account is in its grace period: the firing skips.
      const input = { ...rotationInput(BATCH_TARGET, 'azure-batch-key:00000000-0000-0000-0000-000000000000:rg-genomics:batchbusy'), graceMs: 60_000 };
      behaviours.set(rotationWorkflowId(input.account), rotationStubs(fixedSnapshot(['Primary', 'Secondary'], 'Secondary')));
      const manual = await startRotation(ctx, input);
      await eventually(async () => (await manual.query(rotationStatusQuery)).step === 'grace', 'the manual rotation to reach its grace period');
      const workflowId = `scheduled-rotate-cred-batch-0002-${Date.now()}`;
      const audits: SystemEvent[] = [];
      behaviours.set(workflowId, { auditSystemEvent: auditInto(audits) });
      const handle = await ctx.client.workflow.start(scheduledRotation, { workflowId, taskQueue: TASK_QUEUE, args: [input] });
      const r = await handle.result();
      check(r.outcome === 'skipped-already-running', `scheduled-skipped: ${r.outcome}`);
      check(isDeepStrictEqual(audits, [firingAudit(input, 'ok', { result: 'skipped-already-running' })]), `scheduled-skipped: audit ${JSON.stringify(audits)}`);
      await manual.terminate('recording: the skipped firing is recorded; this rotation is not a fixture');
      return [{ ...recorded(handle, 'scheduledRotation-skipped', [ev(E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED), COMPLETED]), patches: SCHEDULED_ROTATION_PATCHES }];
    },
  },
  {
    files: ['scheduledRotation-failed'],
    async run(ctx) {
      // The child rotation fails (the fresh password is refused): the firing records the failure and fails.
      const input = rotationInput(ACR_TARGET, 'acr-token-password:00000000-0000-0000-0000-000000000000:rg-genomics:crgenomics:nextflow-scheduled');
      const refused = 'verify of token nextflow-pull of registry crgenomics: the token lacks the repositories/pull scope';
      behaviours.set(
        rotationWorkflowId(input.account),
        rotationStubs(
          { rotatable: true, slots: ['password1', 'password2'], stored: 'password1', usedElsewhere: [], fixedSlots: false },
          {
            rotationVerify: async () => {
              throw failure(ErrorType.PermissionDenied, refused, { nonRetryable: true });
            },
          },
        ),
      );
      const workflowId = `scheduled-rotate-cred-acr-0003-${Date.now()}`;
      const audits: SystemEvent[] = [];
      behaviours.set(workflowId, { auditSystemEvent: auditInto(audits) });
      const handle = await ctx.client.workflow.start(scheduledRotation, { workflowId, taskQueue: TASK_QUEUE, args: [input] });
      await expectFailure(handle, ErrorType.PermissionDenied);
      // The record's error is the activity's own message (workflows/failures.ts follows the child's failure to its root).
      check(audits.length === 1 && isDeepStrictEqual({ ...audits[0], detail: {} }, firingAudit(input, 'failed', {})), `scheduled-failed: audit ${JSON.stringify(audits)}`);
      check(audits[0].detail?.error === refused, `scheduled-failed: audit detail ${JSON.stringify(audits[0].detail)}`);
      return [{ ...recorded(handle, 'scheduledRotation-failed', [ev(E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED), ACTIVITY_COMPLETED, FAILED]), patches: SCHEDULED_ROTATION_PATCHES }];
    },
  },

  // ---- rotateVaultMasterKey / scheduledVaultKeyRotation (one fixed workflow id: one at a time) ----
  {
    files: ['rotateVaultMasterKey-rotated'],
    group: 'vault-key',
    async run(ctx) {
      behaviours.set(VAULT_KEY_ROTATION_WORKFLOW_ID, { vaultRewrap: rewrapStub() });
      const { workflowId } = await new VaultKeyRotations(ctx.client, TASK_QUEUE).start();
      const handle = ctx.client.workflow.getHandle<typeof rotateVaultMasterKey>(workflowId);
      const r = await handle.result();
      check(r.rewrapped === REWRAP_RESULT.rewrapped, 'vault-rotated');
      return [await recordedRun(handle, 'rotateVaultMasterKey-rotated', [SA_UPSERTED, ACTIVITY_COMPLETED, COMPLETED])];
    },
  },
  {
    files: ['rotateVaultMasterKey-refused'],
    group: 'vault-key',
    async run(ctx) {
      behaviours.set(VAULT_KEY_ROTATION_WORKFLOW_ID, {
        vaultRewrap: async () => {
          throw failure(VAULT_KEY_ERROR_TYPE, 'the vault master key comes from BROKER_MASTER_KEY: set BROKER_MASTER_KEY_NEXT to the new key to rotate to', { nonRetryable: true });
        },
      });
      const { workflowId } = await new VaultKeyRotations(ctx.client, TASK_QUEUE).start();
      const handle = ctx.client.workflow.getHandle<typeof rotateVaultMasterKey>(workflowId);
      await expectFailure(handle, VAULT_KEY_ERROR_TYPE);
      return [await recordedRun(handle, 'rotateVaultMasterKey-refused', [ACTIVITY_FAILED, FAILED])];
    },
  },
  {
    files: ['scheduledVaultKeyRotation-rotated', 'rotateVaultMasterKey-scheduled-child'],
    group: 'vault-key',
    async run(ctx) {
      behaviours.set(VAULT_KEY_ROTATION_WORKFLOW_ID, { vaultRewrap: rewrapStub() });
      const handle = await ctx.client.workflow.start(scheduledVaultKeyRotation, { workflowId: `scheduled-rotate-vault-master-key-${Date.now()}`, taskQueue: TASK_QUEUE });
      const r = await handle.result();
      check(r.outcome === 'rotated', `scheduled-vault-rotated: ${r.outcome}`);
      return [
        recorded(handle, 'scheduledVaultKeyRotation-rotated', [ev(E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED), COMPLETED]),
        await recordedRun(ctx.client.workflow.getHandle(VAULT_KEY_ROTATION_WORKFLOW_ID), 'rotateVaultMasterKey-scheduled-child', [ACTIVITY_COMPLETED, COMPLETED]),
      ];
    },
  },
  {
    files: ['scheduledVaultKeyRotation-skipped'],
    group: 'vault-key',
    async run(ctx) {
      // A manual rotation is re-wrapping: the firing skips.
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      let started = false;
      behaviours.set(VAULT_KEY_ROTATION_WORKFLOW_ID, {
        vaultRewrap: async () => {
          started = true;
          Context.current().heartbeat({ newKeyId: REWRAP_RESULT.newKeyId, done: 0, total: 40 });
          await released;
          return REWRAP_RESULT;
        },
      });
      const { workflowId } = await new VaultKeyRotations(ctx.client, TASK_QUEUE).start();
      await eventually(() => started, 'the manual rewrap to start');
      const handle = await ctx.client.workflow.start(scheduledVaultKeyRotation, { workflowId: `scheduled-rotate-vault-master-key-${Date.now()}`, taskQueue: TASK_QUEUE });
      const r = await handle.result();
      check(r.outcome === 'skipped-already-running', `scheduled-vault-skipped: ${r.outcome}`);
      release();
      await ctx.client.workflow.getHandle(workflowId).result();
      return [recorded(handle, 'scheduledVaultKeyRotation-skipped', [ev(E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED), COMPLETED])];
    },
  },

  // ---- sweepOrphans ----
  {
    files: ['sweepOrphans-one-failing'],
    async run(ctx) {
      const workflowId = `scheduled-secret-broker-sweep-${Date.now()}`;
      behaviours.set(workflowId, {
        listComputeEnvIds: async () => [AWS_CE.id, HPC_CE.id, LOCAL_CE.id],
        sweepComputeEnv: async (id) => {
          if (id === HPC_CE.id) {
            throw failure(ErrorType.HostKeyMismatch, `sweep of compute environment ${id}: login.hpc.example.org presented a host key that is not the pinned one`, { nonRetryable: true });
          }
          return id === AWS_CE.id ? { computeEnvId: id, owned: 3, deleted: 2, kept: 1, notOwned: 0 } : { computeEnvId: id, owned: 0, deleted: 0, kept: 0, notOwned: 0 };
        },
      });
      const handle = await ctx.client.workflow.start(sweepOrphans, { workflowId, taskQueue: TASK_QUEUE });
      const r = await handle.result();
      check(r.computeEnvs === 3 && r.deleted === 2 && r.kept === 1 && r.failed.length === 1, `sweep: ${JSON.stringify(r)}`);
      return [recorded(handle, 'sweepOrphans-one-failing', [ACTIVITY_FAILED, ACTIVITY_COMPLETED, COMPLETED])];
    },
  },
  {
    files: ['sweepOrphans-continued-first', 'sweepOrphans-continued-resumed'],
    async run(ctx) {
      // A small history limit: the sweep continues as new half-way, carrying what is left.
      const workflowId = `scheduled-secret-broker-sweep-continued-${Date.now()}`;
      const ids = ['ce-a', 'ce-b', 'ce-c', 'ce-d', 'ce-e', 'ce-f'];
      behaviours.set(workflowId, {
        listComputeEnvIds: async () => ids,
        sweepComputeEnv: async (id) => ({ computeEnvId: id, owned: 1, deleted: 1, kept: 0, notOwned: 0 }),
      });
      const handle = await ctx.client.workflow.start(sweepOrphans, { workflowId, taskQueue: TASK_QUEUE, args: [undefined, 12] });
      const r = await handle.result();
      check(r.computeEnvs === 6 && r.deleted === 6, `sweep continued: ${JSON.stringify(r)}`);
      return [recorded(handle, 'sweepOrphans-continued-first', [ACTIVITY_COMPLETED, CONTINUED]), await recordedRun(handle, 'sweepOrphans-continued-resumed', [ACTIVITY_COMPLETED, COMPLETED])];
    },
  },
  {
    files: ['reapTerminatedRuns-started', 'cleanUpTerminatedRun-deleted'],
    async run(ctx) {
      // The reaper finds one terminated run and starts its cleanup, which deletes in two rounds.
      const runId = `rec-terminated-${Date.now()}`;
      const reaperId = `secret-broker-reaper-run-${Date.now()}`;
      const run = pipelineInput(1, runId, HPC_CE);
      const refs = run.secretNames.map((n) => ({ platform: HPC_CE.platform, computeEnvId: HPC_CE.id, secretName: n, ...HPC_CE.remote(runId, n) }));
      behaviours.set(reaperId, { listAbandonedRuns: async () => [runId] });
      let rounds = 0;
      const audits: SystemEvent[] = [];
      behaviours.set(cleanupWorkflowId(runId), {
        auditSystemEvent: auditInto(audits),
        abandonedRefs: async () => ({ run, refs }),
        deleteSecrets: async ({ refs: asked }) => {
          if (rounds++ === 0) throw failure(ErrorType.Connection, 'login.hpc.example.org:22 refused the connection');
          return asked.map((ref) => ({ ref, outcome: 'deleted' as const }));
        },
      });
      const reaper = await ctx.client.workflow.start(reapTerminatedRuns, { workflowId: reaperId, taskQueue: TASK_QUEUE });
      const summary = await reaper.result();
      check(summary.found === 1 && summary.started === 1, `reaper: ${JSON.stringify(summary)}`);
      const cleanupHandle = ctx.client.workflow.getHandle(cleanupWorkflowId(runId));
      const done = await cleanupHandle.result();
      check(done.phase === 'deleted' && done.deleteAttempts === 2, `cleanup: ${JSON.stringify(done)}`);
      // The run was terminated: the cleanup appends the system audit record itself (a patch).
      const audited: SystemEvent = { action: 'terminatedRunCleanedUp', workspaceId: run.workspaceId, target: { runId }, outcome: 'ok', detail: { deleted: 2, rounds: 2 } };
      check(isDeepStrictEqual(audits, [audited]), `cleanup: audit ${JSON.stringify(audits)}`);
      return [
        { ...recorded(reaper, 'reapTerminatedRuns-started', [ACTIVITY_COMPLETED, COMPLETED]), patches: ['cleanup-child-summary'] },
        { ...(await recordedRun(cleanupHandle, 'cleanUpTerminatedRun-deleted', [ACTIVITY_FAILED, TIMER_FIRED, COMPLETED])), patches: ['audit-terminated-cleanup'] },
      ];
    },
  },
];

/**
 * The history length the run checks after a failed delete round is the id of the workflow task's
 * started event. Shape 1: about 41 after the first round (launch, completion, one failure), about 52
 * after the second. Shape 2 (the short launch): about 26 after the first, about 38 after the second. The
 * limit lets the first round sleep and retry and continues as new after the second.
 */
const CONTINUED_DELETING_HISTORY_LIMIT: Record<Shape, number> = { 1: 50, 2: 32 };

// -- rotation stubs -------------------------------------------------------------------------------

const BATCH_TARGET: RotationTarget = { kind: 'azure-batch-key', credentialId: 'cred-azure-batch', managementCredentialId: 'cred-azure-entra', resourceGroup: 'rg-genomics' };
const STORAGE_TARGET: RotationTarget = { kind: 'azure-storage-key', credentialId: 'cred-azure-storage', managementCredentialId: 'cred-azure-entra', resourceGroup: 'rg-genomics' };
const ACR_TARGET: RotationTarget = {
  kind: 'acr-token-password',
  credentialId: 'cred-acr-pull',
  managementCredentialId: 'cred-azure-entra',
  resourceGroup: 'rg-genomics',
  registryName: 'crgenomics',
  tokenName: 'nextflow-pull',
};

function rotationInput(target: RotationTarget, account: string): RotationInput {
  return { target, account, graceMs: 2_000 };
}

function fixedSnapshot(slots: [string, string], stored: string | null): RotationSnapshot {
  return { rotatable: true, slots, stored, usedElsewhere: [], fixedSlots: true };
}

function rotationStubs(snap: RotationSnapshot, overrides: Partial<Activities> = {}): Partial<Activities> {
  return {
    rotationInspect: async () => snap,
    rotationRegenerate: async (_t, slot) => slot ?? 'password1',
    rotationStore: async () => undefined,
    rotationVerify: async () => undefined,
    rotationRetire: async () => undefined,
    ...overrides,
  };
}

/** The patches every scheduled firing takes (workflows/rotation.ts scheduledRotation). */
const SCHEDULED_ROTATION_PATCHES = ['rotation-child-summary', 'audit-scheduled-rotation'];

/** The system record of a scheduled firing (workflows/rotation.ts auditFiring). */
function firingAudit(input: RotationInput, outcome: SystemEvent['outcome'], detail: Record<string, string>): SystemEvent {
  return { action: 'scheduledRotation', target: { credential: input.target.credentialId, account: input.account }, outcome, detail };
}

async function startRotation(ctx: Ctx, input: RotationInput) {
  // As services/rotations.ts starts one.
  return ctx.client.workflow.start(rotateCredential, {
    workflowId: rotationWorkflowId(input.account),
    taskQueue: TASK_QUEUE,
    args: [input],
    workflowIdConflictPolicy: 'FAIL',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    typedSearchAttributes: [{ key: PhaseKey, value: 'rotation:inspect' }],
    memo: { kind: input.target.kind, credentialId: input.target.credentialId },
  });
}

async function expectFailure(handle: WorkflowHandle, type: string): Promise<void> {
  const err = await handle.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  let cause: unknown = err instanceof WorkflowFailedError ? err.cause : undefined;
  while (cause instanceof Error && !(cause instanceof ApplicationFailure) && cause.cause) cause = cause.cause;
  check(cause instanceof ApplicationFailure && cause.type === type, `expected ${handle.workflowId} to fail with ${type}, got ${String(err)}`);
}

// -- vault key stubs ------------------------------------------------------------------------------

const REWRAP_RESULT: VaultKeyRotationResult = {
  newKeyId: 'kek-5d41402abc4b2a76',
  oldKeyIds: ['kek-7d793037a0760186'],
  rewrapped: 40,
  skipped: 2,
  nextSteps: ['remove /var/lib/secret-broker/master.key.kek-7d793037a0760186.retired (or move it offline) once backups taken before the rotation are no longer needed'],
};

function rewrapStub(): Activities['vaultRewrap'] {
  return async () => {
    const actx = Context.current();
    actx.heartbeat({ newKeyId: REWRAP_RESULT.newKeyId, done: 0, total: 40 });
    actx.heartbeat({ newKeyId: REWRAP_RESULT.newKeyId, done: 40, total: 40 });
    return REWRAP_RESULT;
  };
}

// -- history files --------------------------------------------------------------------------------

/** A workflow started here (and not continued as new): its first run is the one to record. */
function recorded(handle: WorkflowHandleWithFirstExecutionRunId, file: string, expect: string[]): Recorded {
  return { file, workflowId: handle.workflowId, runId: handle.firstExecutionRunId, expect };
}

async function recordedRun(handle: WorkflowHandle, file: string, expect: string[]): Promise<Recorded> {
  return { file, workflowId: handle.workflowId, runId: await runOf(handle), expect };
}

/** The (plain JSON) argument a history's run was started with. */
function inputOf<T>(history: History): T {
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  const payload = started?.input?.payloads?.[0];
  return JSON.parse(Buffer.from(payload?.data ?? new Uint8Array()).toString('utf8')) as T;
}

async function startInput<T>(handle: WorkflowHandle): Promise<T> {
  return inputOf<T>(await handle.fetchHistory());
}

/** The names of the updates a history accepted, in order (an update its validator refused leaves no event). */
function updatesAccepted(history: History): string[] {
  return (history.events ?? []).flatMap((e) => {
    const name = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name;
    return name ? [name] : [];
  });
}

/** The BrokerPhase values a history upserts, in order (the start's own value is not an upsert). */
function phasesUpserted(history: History): string[] {
  return (history.events ?? []).flatMap((e) => {
    const data = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.[PhaseKey.name]?.data;
    return data ? [JSON.parse(Buffer.from(data).toString('utf8')) as string] : [];
  });
}

/** Where a fixture is written; an existing file is kept unless REPLAY_RECORD_OVERWRITE=1. */
const fixturePath = (file: string) => path.join(HISTORIES_DIR, `${file}${SUFFIX}.json`);
const kept = (file: string) => !OVERWRITE && fs.existsSync(fixturePath(file));
const NOT_WRITTEN = ': NOT written, the file exists (REPLAY_RECORD_OVERWRITE=1 to write over it)';

async function write(client: Client, r: Recorded): Promise<string> {
  check(r.runId !== '', `${r.file}: no run id`);
  const history: History = await client.workflow.getHandle(r.workflowId, r.runId).fetchHistory();
  const types = new Set((history.events ?? []).map((e) => ev(e.eventType ?? 0)));
  const missing = r.expect.filter((t) => !types.has(t));
  check(missing.length === 0, `${r.file}: the history lacks ${missing.join(', ')}`);
  const taken = patchesTaken(history);
  const untaken = (r.patches ?? []).filter((id) => !taken.includes(id));
  check(untaken.length === 0, `${r.file}: the history does not take the patch ${untaken.join(', ')} (takes: ${taken.join(', ') || 'none'})`);
  if (r.shape) {
    const shape = inputOf<PipelineRunInput>(history).shape ?? 1;
    check(shape === r.shape, `${r.file}: the run was launched with shape ${shape}, not ${r.shape}`);
  }
  const phases = phasesUpserted(history);
  if (r.shape === 2) {
    const long = phases.filter((p) => !SHORT_LAUNCH_PHASES.includes(p));
    check(long.length === 0, `${r.file}: a short launch upserted BrokerPhase ${long.join(', ')}`);
  }
  check(!r.phases || isDeepStrictEqual(phases, r.phases), `${r.file}: BrokerPhase upserted ${phases.join(', ') || 'never'}, not ${r.phases?.join(', ')}`);
  const last = history.events?.[history.events.length - 1];
  check(
    [COMPLETED, FAILED, CANCELED, CONTINUED].includes(ev(last?.eventType ?? 0)),
    `${r.file}: the workflow has not closed (last event ${ev(last?.eventType ?? 0)})`,
  );
  const json = historyToJSONObject(history);
  const file = fixturePath(r.file);
  const shown = `${path.relative(process.cwd(), file)} (${json.events.length} events)`;
  // A committed fixture is a run in flight: never written over by accident (see the top of this file).
  if (kept(r.file)) return `${shown}${NOT_WRITTEN}`;
  fs.writeFileSync(file, JSON.stringify({ workflowId: r.workflowId, events: json.events }, null, 2) + '\n');
  return shown;
}

// -- the run --------------------------------------------------------------------------------------

let server: TemporalServer | undefined;

afterAll(async () => {
  await server?.stop();
});

test('record the replay fixtures', async () => {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const wanted = (f: string) => !ONLY || ONLY.test(f);
  const matching = scenarios.filter((s) => s.files.some(wanted));
  if (!matching.length) throw new Error(`REPLAY_RECORD_ONLY=${process.env.REPLAY_RECORD_ONLY} matches no scenario`);
  // Only scenarios with a fixture still to write run: without a filter, what is missing is recorded.
  const chosen = matching.filter((s) => s.files.some((f) => wanted(f) && !kept(f)));
  const existing = matching.flatMap((s) => s.files.filter((f) => wanted(f) && kept(f)));
  if (existing.length) process.stdout.write(`kept (the file exists; REPLAY_RECORD_OVERWRITE=1 to write over):\n${existing.map((f) => `  ${f}${SUFFIX}.json`).join('\n')}\n`);
  if (!chosen.length) {
    process.stdout.write('nothing to record: every chosen fixture exists\n');
    return;
  }
  fs.mkdirSync(HISTORIES_DIR, { recursive: true });

  server = await startTemporal();
  const workflowBundle = await testWorkflowBundle();
  const dataConverter = { failureConverterPath: FAILURE_CONVERTER_PATH };
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: server.namespace, dataConverter, identity: IDENTITY });
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace: server.namespace,
    taskQueue: TASK_QUEUE,
    identity: IDENTITY,
    activities: dispatchingActivities(),
    workflowBundle,
    dataConverter,
    // Cancellation reaches an activity with a heartbeat's answer: do not hold heartbeats back.
    maxHeartbeatThrottleInterval: '200ms',
  });
  const ctx: Ctx = { client, runs: new PipelineRuns(client, TASK_QUEUE) };

  const written = await worker.runUntil(async () => {
    // Scenarios of different groups run side by side; those of one group one after another.
    const groups = new Map<string, Scenario[]>();
    chosen.forEach((s, i) => groups.set(s.group ?? `solo-${i}`, [...(groups.get(s.group ?? `solo-${i}`) ?? []), s]));
    const out = await Promise.all(
      [...groups.values()].map(async (list) => {
        const files: string[] = [];
        for (const s of list) {
          const rec = await s.run(ctx).catch((err: Error) => {
            throw new Error(`scenario ${s.files.join(' + ')}: ${err.message}`, { cause: err });
          });
          for (const r of rec) if (wanted(r.file)) files.push(await write(client, r));
        }
        return files;
      }),
    );
    return out.flat();
  });
  await connection.close();
  await nativeConnection.close();
  const notWritten = written.filter((w) => w.endsWith(NOT_WRITTEN)).length;
  process.stdout.write(`recorded ${written.length} histories, ${written.length - notWritten} written:\n${written.map((w) => `  ${w}`).join('\n')}\n`);
});
