/**
 * How a run ends when things go wrong, end to end on `local` (real Temporal dev server, worker, vault
 * and files): a worker lost in the middle of a delete costs seconds, not the two minutes of a
 * start-to-close timeout, and the run's status says what happened; a launch with no secrets leaves
 * nothing on disk, so "deleted" means nothing is left; a terminated run is cleaned up by the reaper
 * within its period (a minute), not by the hourly sweep, and its status says so; the broker's
 * schedules follow a changed period.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Context } from '@temporalio/activity';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next } from '@temporalio/worker';
import { pipelineRunWorkflowId, statusAtStart, type PipelineRunInput } from '../../domain/run';
import { LocalTarget } from '../../targets/files/local';
import { pipelineRun } from '../../workflows/pipeline-run';
import { cleanupWorkflowId, reapTerminatedRuns } from '../../workflows/cleanup';
import { ensureReaperSchedule, ensureSweepSchedule } from '../../worker/schedules';
import { eventually, startTestBroker, uniqueRunId, type TestBroker } from '../harness/broker';
import { currentDetails } from '../harness/history';

let broker: TestBroker;
let ids: Awaited<ReturnType<TestBroker['seed']>>;
let ceId: string;

/**
 * The next run of an armed activity type never starts its work and never heartbeats, as when the
 * worker that picked it up is killed: only the server's heartbeat timeout can notice.
 */
let lostType: string | undefined;
let releaseLost: () => void = () => undefined;
const interceptors = {
  activity: [
    (ctx: Context) => ({
      inbound: {
        async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
          if (lostType && ctx.info.activityType === lostType) {
            lostType = undefined;
            await new Promise<void>((resolve) => (releaseLost = resolve));
            throw new Error('this worker was "lost"; its answer comes too late to count');
          }
          return next(input);
        },
      },
    }),
  ],
};

beforeAll(async () => {
  broker = await startTestBroker({ interceptors });
  ids = await broker.seed();
  await broker.vault.setSecret({ scope: 'workspace', ownerId: ids.workspaceId, name: 'DB_PASSWORD', value: 'run-end-value-0451' });
  ceId = (await broker.vault.createComputeEnv({ workspaceId: ids.workspaceId, name: 'laptop', platform: 'local', config: {} })).id;
});

afterAll(async () => {
  releaseLost();
  await broker?.stop();
});

const launch = (runId: string, secretNames: string[]) =>
  broker.runs.launch({ runId, workspaceId: ids.workspaceId, userId: ids.userId, computeEnvId: ceId, secretNames });
const runDir = (runId: string) => path.join(broker.localWorkDir, `tower-${runId}`);

test('a worker lost in the middle of a delete: the next round deletes after the heartbeat timeout, and the status says why', async () => {
  const runId = uniqueRunId('lost');
  await launch(runId, ['DB_PASSWORD']);
  expect(fs.existsSync(runDir(runId))).toBe(true);
  lostType = 'deleteSecrets';
  await broker.runs.complete(runId, 'succeeded');
  // 10 s of silence, then the round fails as lost, then a 2 s backoff and a second round.
  await eventually(async () => (await broker.runs.state(runId)).phase === 'deleted', 'the run is deleted after its first delete round was lost', 40_000);
  const final = await broker.runs.waitClosed(runId);
  expect(final).toMatchObject({ phase: 'deleted', outcome: 'succeeded', deleteAttempts: 2 });
  expect(final.lastError).toBe('delete round 1 failed: the worker running it was lost (no heartbeat within the heartbeat timeout)');
  expect(fs.existsSync(runDir(runId))).toBe(false);
});

test('a launch with no secrets leaves nothing on disk: deleted means nothing is left', async () => {
  const runId = uniqueRunId('none');
  const ready = await launch(runId, []);
  expect(ready).toMatchObject({ secretNames: [], refs: [], headJobEnv: {} });
  expect(fs.existsSync(runDir(runId))).toBe(false);
  await broker.runs.complete(runId, 'succeeded');
  const final = await broker.runs.waitClosed(runId);
  expect(final).toMatchObject({ phase: 'deleted', outcome: 'succeeded', refs: [] });
  expect(fs.readdirSync(broker.localWorkDir).filter((e) => e.includes(runId))).toEqual([]);
});

describe('a run whose workflow was terminated', () => {
  test('the reaper starts its cleanup, which deletes what it had pushed; its status says so', async () => {
    const runId = uniqueRunId('term');
    await launch(runId, ['DB_PASSWORD']);
    expect(fs.existsSync(runDir(runId))).toBe(true);
    await broker.client.workflow.getHandle(pipelineRunWorkflowId(runId)).terminate('an operator stopped it');

    const before = await broker.runs.state(runId);
    expect(before).toMatchObject({ phase: 'ready', outcome: 'terminated', cleanup: { phase: 'awaiting', workflowId: cleanupWorkflowId(runId) } });
    expect(fs.existsSync(runDir(runId))).toBe(true);

    // What the one-minute schedule runs; visibility is eventually consistent, so until it finds the run.
    await eventually(async () => {
      const r = await broker.client.workflow.execute(reapTerminatedRuns, { taskQueue: broker.taskQueue, workflowId: `reaper-${runId}` + Date.now() });
      return r.found >= 1 && (await broker.client.workflow.getHandle(cleanupWorkflowId(runId)).describe().then(() => true, () => false));
    }, 'the reaper starts the cleanup of the terminated run', 30_000);
    const cleanup = broker.client.workflow.getHandle(cleanupWorkflowId(runId));
    await cleanup.result();
    // The Web UI says what the cleanup is and where it stands.
    expect(await (await cleanup.describe()).staticSummary()).toBe(`cleanup of run ${runId}, terminated before it deleted its secrets`);
    expect(await currentDetails(cleanup)).toBe('**Phase** deleted, 1 delete round');

    expect(fs.existsSync(runDir(runId))).toBe(false);
    const after = await broker.runs.state(runId);
    expect(after).toMatchObject({ phase: 'deleted', outcome: 'terminated', cleanup: { phase: 'deleted', deleteAttempts: 1 } });
    expect(after.refs.map((r) => r.state)).toEqual(['deleted']);
    // The reaper's cleanup is on the workspace's audit trail, as the system.
    const trail = await broker.vault.audit.list({ workspaceIds: [ids.workspaceId], limit: 500 });
    expect(trail.filter((r) => r.target?.runId === runId).map((r) => [r.via, r.action, r.outcome, r.detail])).toEqual([['system', 'terminatedRunCleanedUp', 'ok', { deleted: 1, rounds: 1 }]]);

    // A second firing starts nothing more for it.
    const again = await broker.client.workflow.execute(reapTerminatedRuns, { taskQueue: broker.taskQueue, workflowId: `reaper-again-${runId}` });
    expect(again.started).toBe(0);
  });
});

/** Run the reaper until it has started the run's cleanup (visibility is eventually consistent); its result. */
async function reap(runId: string) {
  await eventually(async () => {
    await broker.client.workflow.execute(reapTerminatedRuns, { taskQueue: broker.taskQueue, workflowId: `reaper-${runId}-${Date.now()}` });
    return broker.client.workflow.getHandle(cleanupWorkflowId(runId)).describe().then(() => true, () => false);
  }, 'the reaper starts the cleanup of the terminated run', 30_000);
  return broker.client.workflow.getHandle(cleanupWorkflowId(runId)).result();
}

describe('a run terminated before its workflow ran any code (found by make chaos)', () => {
  // With no worker up, a terminated workflow never had a workflow task: the server refuses every
  // query on it ("closed before WorkflowTaskStarted"), so its status was unreadable and its cleanup
  // failed reading what it had recorded. It ran nothing; its state is what it was started with.
  // No worker polls the queue it is started on: what a run started and terminated while every
  // worker was down goes through (the reaper and the cleanup run on the broker's queue as ever).
  const startWithoutWorker = async (input: PipelineRunInput) => {
    const handle = await broker.client.workflow.start(pipelineRun, { workflowId: pipelineRunWorkflowId(input.runId), taskQueue: `${broker.taskQueue}-nobody`, args: [input] });
    await handle.terminate('terminated while no worker ran');
  };

  test('a fresh run: its status says terminated with nothing recorded, and its cleanup completes with nothing to delete', async () => {
    const runId = uniqueRunId('early');
    await startWithoutWorker({ runId, workspaceId: ids.workspaceId, userId: ids.userId, computeEnvId: ceId, secretNames: ['DB_PASSWORD'] });
    expect(await broker.runs.state(runId)).toMatchObject({ runId, phase: 'resolving', outcome: 'terminated', refs: [], cleanup: { phase: 'awaiting' } });
    const cleaned = await reap(runId);
    expect(cleaned).toMatchObject({ phase: 'deleted', refs: [], deleteAttempts: 0 });
    expect(await broker.runs.state(runId)).toMatchObject({ phase: 'deleted', outcome: 'terminated', cleanup: { phase: 'deleted' } });
  });

  test('a run that continued as new, terminated before its next run\'s first task: the cleanup deletes the refs it carried', async () => {
    const runId = uniqueRunId('carried');
    const ce = await broker.vault.getComputeEnv(ceId);
    // What the run had pushed before it continued as new: its run directory, with its marker.
    const pushed = await new LocalTarget(broker.localWorkDir).push({ runId, workspaceId: ids.workspaceId, computeEnv: ce }, [{ name: 'DB_PASSWORD', value: 'carried-value-77c1' }]);
    expect(fs.existsSync(runDir(runId))).toBe(true);
    const base: PipelineRunInput = { runId, workspaceId: ids.workspaceId, userId: ids.userId, computeEnvId: ceId, secretNames: ['DB_PASSWORD'] };
    const status = { ...statusAtStart(base, new Date().toISOString()), phase: 'ready' as const, platform: 'local' as const, refs: pushed.refs.map((ref) => ({ ref, state: 'pushed' as const })) };
    await startWithoutWorker({ ...base, resume: { status, leaseDeadlineMs: Date.now() + 3_600_000 } });

    expect(await broker.runs.state(runId)).toMatchObject({ phase: 'ready', outcome: 'terminated', refs: [{ state: 'pushed' }] });
    const cleaned = await reap(runId);
    expect(cleaned).toMatchObject({ phase: 'deleted', refs: [{ state: 'deleted' }] });
    expect(fs.existsSync(runDir(runId))).toBe(false);
    expect(await broker.runs.state(runId)).toMatchObject({ phase: 'deleted', outcome: 'terminated', refs: [{ state: 'deleted' }] });
  });
});

describe('the broker schedules', () => {
  test('a changed period updates the schedule; the same period changes nothing', async () => {
    const tq = `sched-${Date.now()}`;
    const client = broker.client;
    // Both broker schedules have fixed ids: use them, and put them back as they were.
    const existing = await client.schedule.getHandle('secret-broker-sweep').describe().then(() => true, () => false);
    expect(existing).toBe(false); // the test broker does not create them
    try {
      await expect(ensureSweepSchedule(client, tq, '1h')).resolves.toBe('created');
      await expect(ensureSweepSchedule(client, tq, '1h')).resolves.toBe('unchanged');
      await expect(ensureSweepSchedule(client, tq, '15m')).resolves.toBe('updated');
      const d = await client.schedule.getHandle('secret-broker-sweep').describe();
      expect(d.spec.intervals?.map((i) => i.every)).toEqual([15 * 60_000]);
      await expect(ensureReaperSchedule(client, tq, '1m')).resolves.toBe('created');
      await expect(ensureReaperSchedule(client, tq, '2m')).resolves.toBe('updated');
    } finally {
      await client.schedule.getHandle('secret-broker-sweep').delete().catch(() => undefined);
      await client.schedule.getHandle('secret-broker-reaper').delete().catch(() => undefined);
    }
  });
});
