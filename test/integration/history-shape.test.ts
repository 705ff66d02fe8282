/**
 * The shape of a run's history, launched as the API launches it (names given at start): few events
 * before the ready answer (a long history is slow to write and to replay), one local activity for
 * resolving, push and verify in one activity, and the phase set once at ready and once at deleted
 * when nothing fails. Counts, not timings: the timings are `make bench`'s.
 */
import { temporal } from '@temporalio/proto';
import { pipelineRunWorkflowId } from '../../domain/run';
import { startTestBroker, uniqueRunId, type TestBroker } from '../harness/broker';

const E = temporal.api.enums.v1.EventType;
let broker: TestBroker;
let ids: Awaited<ReturnType<TestBroker['seed']>>;
let ceId: string;

beforeAll(async () => {
  broker = await startTestBroker();
  ids = await broker.seed();
  await broker.vault.setSecret({ scope: 'workspace', ownerId: ids.workspaceId, name: 'DB_PASSWORD', value: 'shape-value-0123' });
  ceId = (await broker.vault.createComputeEnv({ workspaceId: ids.workspaceId, name: 'laptop', platform: 'local', config: {} })).id;
});
afterAll(async () => {
  await broker?.stop();
});

test('at most 15 events before the ready answer; the whole run in few more', async () => {
  const runId = uniqueRunId('shape');
  await broker.runs.launch({
    runId,
    workspaceId: ids.workspaceId,
    userId: ids.userId,
    computeEnvId: ceId,
    secretNames: ['DB_PASSWORD'],
    labels: { workspace: ids.workspaceName, computeEnv: 'laptop', platform: 'local', user: ids.userName },
  });
  await broker.runs.complete(runId, 'succeeded');
  await broker.runs.waitClosed(runId);
  const history = await broker.client.workflow.getHandle(pipelineRunWorkflowId(runId)).fetchHistory();
  const types = (history.events ?? []).map((e) => E[e.eventType ?? 0]);
  const ready = types.indexOf('EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED') + 1;
  const count = (t: string) => types.filter((x) => x === t).length;
  expect(ready).toBeGreaterThan(0);
  expect(ready).toBeLessThanOrEqual(15);
  expect(count('EVENT_TYPE_ACTIVITY_TASK_SCHEDULED')).toBe(2); // place, delete
  expect(count('EVENT_TYPE_MARKER_RECORDED')).toBe(1); // resolve (a local activity)
  expect(count('EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED')).toBe(0); // the memo was given at start
  expect(count('EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES')).toBe(2); // ready, deleted
  expect(types.at(-1)).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
  process.stdout.write(`history: ${ready} events before ready, ${types.length} in all\n${types.map((t, i) => `${i + 1} ${t.replace('EVENT_TYPE_', '')}`).join('\n')}\n`);
});
