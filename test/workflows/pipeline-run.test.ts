/**
 * The pipeline-run workflow's logic with stub activities on the time-skipping test server: the
 * default 30-day lease, a delete that keeps failing (and shows it), and launch failures that clean up
 * before they answer.
 */
import { randomBytes } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ApplicationFailure, WithStartWorkflowOperation, WorkflowUpdateFailedError } from '@temporalio/client';
import { RUN_ALREADY_ENDED, pipelineRun, renewLeaseUpdate, runCompletedSignal, statusQuery, waitReadyUpdate, type PipelineRunActivities } from '../../workflows/pipeline-run';
import { PipelineRuns } from '../../services/pipeline-runs';
import { LaunchError } from '../../domain/errors';
import type { AuditActivities } from '../../activities/audit';
import { type PipelineRunInput, type RemoteRef, type ResolvedRun } from '../../domain/run';
import { eventually } from '../harness/broker';
import { mocked, startTimeSkipping, withStubWorker } from '../harness/time-skipping';
import { ErrorType } from '../../domain/errors';

/** Exactly the activities pipelineRun calls: the worker registers nothing else here. */
type Activities = PipelineRunActivities & AuditActivities;

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await startTimeSkipping();
});

afterAll(async () => {
  await env?.teardown();
});

const ref = (secretName: string): RemoteRef => ({ platform: 'local', computeEnvId: 'ce1', secretName, remoteId: `/runs/tower-x/${secretName}` });

function stubs(overrides: Partial<Activities> = {}): jest.Mocked<Activities> {
  const resolved: ResolvedRun = {
    workspaceName: 'ws',
    userName: 'alice',
    computeEnvName: 'laptop',
    platform: 'local',
    secrets: [
      { name: 'A', scope: 'workspace', secretId: 's1', version: 1 },
      { name: 'B', scope: 'user', secretId: 's2', version: 1 },
    ],
    plannedRefs: [ref('A'), ref('B')],
  };
  const base: Omit<Activities, 'placeSecrets'> = {
    auditSystemEvent: async () => undefined,
    resolveRun: async () => resolved,
    pushSecrets: async () => ({ refs: [ref('A'), ref('B')], headJobEnv: { NXF_SECRETS_FILE: '/runs/tower-x/store.json' } }),
    verifyAccess: async () => undefined,
    deleteSecrets: async ({ refs }) => refs.map((r) => ({ ref: r, outcome: 'deleted' as const })),
  };
  const acts = mocked({ ...base, ...overrides, placeSecrets: async () => ({ refs: [], headJobEnv: {} }) } as Activities);
  // placeSecrets is push then verify in one activity: its stub runs the two stubs above, so a test
  // that makes the push or the check fail does so for either launch shape.
  acts.placeSecrets.mockImplementation(async (i) => {
    const pushed = await acts.pushSecrets(i);
    await acts.verifyAccess({ run: i.run, refs: pushed.refs });
    return pushed;
  });
  return acts;
}

function withWorker<T>(activities: Activities, fn: (taskQueue: string) => Promise<T>): Promise<T> {
  return withStubWorker(env, activities, fn);
}

/** A run as the services launch it now (the short launch); runs of the earlier shape are the replay fixtures'. */
function input(leaseMs?: number): PipelineRunInput {
  return { runId: `r${randomBytes(4).toString('hex')}`, workspaceId: 'w1', userId: 'u1', computeEnvId: 'ce1', secretNames: ['A', 'B'], ...(leaseMs ? { leaseMs } : {}), shape: 2 };
}

function launch(taskQueue: string, run: PipelineRunInput) {
  const startWorkflowOperation = new WithStartWorkflowOperation(pipelineRun, {
    workflowId: `pipeline-run-${run.runId}`,
    taskQueue,
    args: [run],
    workflowIdConflictPolicy: 'FAIL',
  });
  return env.client.workflow.executeUpdateWithStart(waitReadyUpdate, { startWorkflowOperation });
}

test('the default lease is 30 days: secrets stay for 29 days and are deleted after 30', async () => {
  const acts = stubs();
  await withWorker(acts, async (tq) => {
    const run = input();
    const ready = await launch(tq, run);
    const handle = env.client.workflow.getHandle<typeof pipelineRun>(ready.workflowId);
    await env.sleep('29d');
    expect((await handle.query(statusQuery)).phase).toBe('ready');
    expect(acts.deleteSecrets).not.toHaveBeenCalled();
    await env.sleep('2d');
    const final = await handle.result();
    expect(final.outcome).toBe('lease-expired');
    expect(acts.deleteSecrets).toHaveBeenCalledTimes(1);
    expect(acts.deleteSecrets.mock.calls[0][0].refs.map((r) => r.secretName)).toEqual(['A', 'B']);
    // No API call ended it: the workflow tells the audit trail, after the delete.
    expect(acts.auditSystemEvent.mock.calls).toEqual([[{ action: 'runLeaseExpired', workspaceId: 'w1', target: { runId: run.runId }, outcome: 'ok', detail: { deleted: 2 } }]]);
  });
});

test('a delete that keeps failing stays visible (phase, last error, attempts) and succeeds once the target is back', async () => {
  let failures = 0;
  const acts = stubs({
    deleteSecrets: async ({ refs }) => {
      if (failures++ < 4) throw ApplicationFailure.retryable('ssh: connect ECONNREFUSED 127.0.0.1:2222', ErrorType.Connection);
      return refs.map((r) => ({ ref: r, outcome: 'deleted' as const }));
    },
  });
  await withWorker(acts, async (tq) => {
    const run = input();
    const ready = await launch(tq, run);
    const handle = env.client.workflow.getHandle<typeof pipelineRun>(ready.workflowId);
    await handle.signal(runCompletedSignal, { status: 'succeeded' });
    await eventually(async () => (await handle.query(statusQuery)).lastError !== undefined, 'the failed delete round to show', 30_000);
    const stuck = await handle.query(statusQuery);
    expect(stuck.phase).toBe('deleting');
    expect(stuck.lastError).toContain('ECONNREFUSED');
    expect(stuck.deleteAttempts).toBeGreaterThanOrEqual(1);
    expect(stuck.refs.map((r) => r.state)).toEqual(['pushed', 'pushed']);
    const final = await handle.result();
    expect(final.phase).toBe('deleted');
    expect(final.outcome).toBe('succeeded');
    expect(final.refs.map((r) => r.state)).toEqual(['deleted', 'deleted']);
    expect(failures).toBe(5);
  });
});

test('a failed access check deletes what was pushed before the launch answers, naming the permission', async () => {
  const acts = stubs({
    verifyAccess: async () => {
      throw ApplicationFailure.nonRetryable('access check failed: execution role lacks secretsmanager:GetSecretValue on tower-x/A', ErrorType.AccessVerification);
    },
  });
  await withWorker(acts, async (tq) => {
    const err = await launch(tq, input()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (err as WorkflowUpdateFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe(ErrorType.AccessVerification);
    expect(cause.message).toContain('secretsmanager:GetSecretValue');
    // The answer came after the cleanup round: nothing is left when the launch service hears "failed".
    expect(acts.deleteSecrets).toHaveBeenCalledTimes(1);
    expect(acts.deleteSecrets.mock.calls[0][0].refs.map((r) => r.secretName)).toEqual(['A', 'B']);
  });
});

test('a push that fails after placing some secrets still deletes every planned ref', async () => {
  const acts = stubs({
    pushSecrets: async () => {
      throw ApplicationFailure.nonRetryable('permission denied creating tower-x-B', ErrorType.PermissionDenied);
    },
    deleteSecrets: async ({ refs }) => refs.map((r, i) => ({ ref: r, outcome: i === 0 ? ('deleted' as const) : ('not-found' as const) })),
  });
  await withWorker(acts, async (tq) => {
    const run = input();
    await expect(launch(tq, run)).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    const handle = env.client.workflow.getHandle<typeof pipelineRun>(`pipeline-run-${run.runId}`);
    await expect(handle.result()).rejects.toThrow();
    const final = await handle.query(statusQuery);
    expect(final.outcome).toBe('launch-failed');
    expect(final.refs.map((r: { state: string }) => r.state)).toEqual(["deleted", "not-found"]);
    expect(acts.deleteSecrets.mock.calls[0][0].refs.map((r) => r.secretName)).toEqual(['A', 'B']);
  });
});

test('a malformed renew signal is ignored: the lease and the run are untouched', async () => {
  const acts = stubs();
  await withWorker(acts, async (tq) => {
    const ready = await launch(tq, input(60_000));
    const handle = env.client.workflow.getHandle<typeof pipelineRun>(ready.workflowId);
    const before = (await handle.query(statusQuery)).leaseExpiresAt;
    await handle.signal('renewLease', {});
    await handle.signal('renewLease', { extendByMs: -5 });
    await handle.signal('runCompleted', { status: 'bogus' });
    const after = await handle.query(statusQuery);
    expect(after.phase).toBe('ready');
    expect(after.leaseExpiresAt).toBe(before);
    await handle.signal(runCompletedSignal, { status: 'succeeded' });
    expect((await handle.result()).outcome).toBe('succeeded');
  });
});

test("a renewal is answered with the lease's new end; once the run's end is reported it is refused as already ended, through the service too", async () => {
  let deleting = true;
  const acts = stubs({
    deleteSecrets: async ({ refs }) => {
      if (deleting) throw ApplicationFailure.retryable('ssh: connect ECONNREFUSED 127.0.0.1:2222', ErrorType.Connection);
      return refs.map((r) => ({ ref: r, outcome: 'deleted' as const }));
    },
  });
  await withWorker(acts, async (tq) => {
    const run = input(60_000);
    const ready = await launch(tq, run);
    const handle = env.client.workflow.getHandle<typeof pipelineRun>(ready.workflowId);
    const runs = new PipelineRuns(env.client, tq);
    const answer = await runs.renew(run.runId, 3_600_000);
    expect(answer.runId).toBe(run.runId);
    expect(answer.leaseExpiresAt).toBe((await handle.query(statusQuery)).leaseExpiresAt);
    expect(Date.parse(answer.leaseExpiresAt!) - Date.parse(ready.leaseExpiresAt)).toBeGreaterThan(3_000_000);
    // A bad length is refused by the validator, so it leaves nothing in history.
    const bad = (await handle.executeUpdate(renewLeaseUpdate, { args: [{ extendByMs: -5 }] }).catch((e: unknown) => e)) as WorkflowUpdateFailedError;
    expect(bad.cause?.message).toMatch(/^extendByMs: /);

    await handle.signal(runCompletedSignal, { status: 'succeeded' });
    await eventually(async () => (await handle.query(statusQuery)).phase === 'deleting', 'the delete to start');
    const refused = (await handle.executeUpdate(renewLeaseUpdate, { args: [{ extendByMs: 60_000 }] }).catch((e: unknown) => e)) as WorkflowUpdateFailedError;
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(refused.cause).toMatchObject({ type: RUN_ALREADY_ENDED, message: expect.stringMatching(/already ended \(succeeded\); its lease cannot be renewed/) });
    const viaService = await runs.renew(run.runId, 60_000).catch((e: unknown) => e);
    expect(viaService).toBeInstanceOf(LaunchError);
    expect(viaService).toMatchObject({ code: 'already-ended', outcome: 'succeeded' });
    deleting = false;
    expect((await handle.result()).outcome).toBe('succeeded');
  });
});

test('a long-stuck delete continues as new, carrying its refs, and still deletes them', async () => {
  let failures = 0;
  const acts = stubs({
    deleteSecrets: async ({ refs }) => {
      if (failures++ < 6) throw ApplicationFailure.nonRetryable('host unreachable', ErrorType.Connection);
      return refs.map((r) => ({ ref: r, outcome: 'deleted' as const }));
    },
  });
  await withWorker(acts, async (tq) => {
    const run = { ...input(), historyLimit: 30 };
    const ready = await launch(tq, run);
    const handle = env.client.workflow.getHandle<typeof pipelineRun>(ready.workflowId);
    const firstRunId = (await handle.describe()).runId;
    await handle.signal(runCompletedSignal, { status: 'succeeded' });
    const final = await handle.result(); // follows the chain of runs
    expect(final.phase).toBe('deleted');
    expect(final.outcome).toBe('succeeded');
    expect(final.refs.map((r) => r.state)).toEqual(['deleted', 'deleted']);
    expect(final.deleteAttempts).toBe(7);
    expect((await env.client.workflow.getHandle<typeof pipelineRun>(ready.workflowId).describe()).runId).not.toBe(firstRunId);
    // Every round of every run asked to delete the same refs.
    for (const [call] of acts.deleteSecrets.mock.calls) expect(call.refs.map((r) => r.secretName)).toEqual(['A', 'B']);
  });
});

test('cancelled while pushing: the push finishes first, then cleanup, then the launch hears it', async () => {
  const order: string[] = [];
  const acts = stubs({
    pushSecrets: async () => {
      await new Promise((r) => setTimeout(r, 1_500));
      order.push('push done');
      return { refs: [ref('A'), ref('B')], headJobEnv: {} };
    },
    deleteSecrets: async ({ refs }) => {
      order.push('delete');
      return refs.map((r) => ({ ref: r, outcome: 'deleted' as const }));
    },
  });
  await withWorker(acts, async (tq) => {
    const run = input();
    const launching = launch(tq, run).catch((e: unknown) => {
      order.push('launch answered');
      return e;
    });
    const handle = env.client.workflow.getHandle<typeof pipelineRun>(`pipeline-run-${run.runId}`);
    await eventually(async () => (await handle.query(statusQuery)).phase === 'pushing', 'the push to start');
    await handle.cancel();
    const err = await launching;
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(order).toEqual(['push done', 'delete', 'launch answered']);
    await expect(handle.result()).rejects.toThrow();
    expect((await handle.query(statusQuery)).outcome).toBe('cancelled');
  });
});
