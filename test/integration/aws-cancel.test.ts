/**
 * A cancelled push stops writing: a run cancelled while its CreateSecret calls are held in flight
 * (the fault proxy in front of moto holds them) aborts those calls through the activity's
 * cancellation signal, deletes what it had recorded, and nothing appears in Secrets Manager after
 * that delete, even once the held calls' time is up.
 */
import type { IAM } from '@aws-sdk/client-iam';
import type { SecretsManager } from '@aws-sdk/client-secrets-manager';
import { WorkflowFailedError } from '@temporalio/client';
import { pipelineRunWorkflowId } from '../../domain/run';
import { cleanupWorkflowId, reapTerminatedRuns } from '../../workflows/cleanup';
import { eventually, startTestBroker, uniqueRunId, type TestBroker } from '../harness/broker';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy';
import { adminIam, adminSecrets, setUpAccount, startMoto, type MotoServer } from '../harness/moto';

jest.setTimeout(120_000);

const REGION = 'eu-west-1';
/** Longer than a cancellation takes to reach the activity (its heartbeats are throttled to ~8 s). */
const HOLD_MS = 20_000;

let moto: MotoServer;
let proxy: FaultProxy;
let iam: IAM;
let sm: SecretsManager;
let broker: TestBroker;
let ids: Awaited<ReturnType<TestBroker['seed']>>;
let ceId: string;

beforeAll(async () => {
  moto = await startMoto();
  // Every CreateSecret and PutSecretValue is held HOLD_MS before moto sees it.
  proxy = await startFaultProxy({ target: moto.endpoint, share: 0, eligible: (c) => c.operation === 'CreateSecret' || c.operation === 'PutSecretValue' });
  iam = adminIam(moto.endpoint);
  sm = adminSecrets(moto.endpoint, REGION);
  const account = await setUpAccount(iam, REGION);
  broker = await startTestBroker({ endpoints: { aws: proxy.endpoint } });
  ids = await broker.seed();
  for (const name of ['DB_PASSWORD', 'API_TOKEN', 'LIMS_KEY']) {
    await broker.vault.setSecret({ scope: 'workspace', ownerId: ids.workspaceId, name, value: `cancel-${name.toLowerCase()}-value-93` });
  }
  const cred = await broker.vault.createCredential({
    workspaceId: ids.workspaceId,
    name: 'aws-cancel',
    kind: 'aws',
    fields: { accessKeyId: account.broker.accessKeyId, secretAccessKey: account.broker.secretAccessKey },
  });
  ceId = (
    await broker.vault.createComputeEnv({
      workspaceId: ids.workspaceId,
      name: 'batch-cancel',
      platform: 'aws',
      config: { region: REGION, headJobRoleArn: account.headJobRoleArn, executionRoleArn: account.executionRoleArn },
      credentialId: cred.id,
    })
  ).id;
});

afterAll(async () => {
  await broker?.stop();
  iam?.destroy();
  sm?.destroy();
  await proxy?.stop();
  await moto?.stop();
});

async function remaining(runId: string): Promise<string[]> {
  const r = await sm.listSecrets({ Filters: [{ Key: 'name', Values: [`tower-${runId}/`] }], IncludePlannedDeletion: true });
  return (r.SecretList ?? []).map((s) => s.Name!).filter((n) => n.startsWith(`tower-${runId}/`));
}

test('cancelled while its writes are in flight: the writes are aborted, the delete runs, and nothing is written after it', async () => {
  proxy.setFaults({ latency: 1, latencyMs: HOLD_MS });
  const runId = uniqueRunId('cancel');
  const launching = broker.runs
    .launch({ runId, workspaceId: ids.workspaceId, userId: ids.userId, computeEnvId: ceId, secretNames: ['DB_PASSWORD', 'API_TOKEN', 'LIMS_KEY'] })
    .catch((e: unknown) => e);
  await eventually(() => proxy.stats().held >= 1, 'a CreateSecret is held at the proxy', 30_000);
  await broker.client.workflow.getHandle(pipelineRunWorkflowId(runId)).cancel();

  const answer = await launching;
  expect(answer).toMatchObject({ code: 'launch-failed', message: expect.stringContaining('cancelled during launch') });
  const closed = await broker.client.workflow.getHandle(pipelineRunWorkflowId(runId)).result().catch((e: unknown) => e);
  expect(closed).toBeInstanceOf(WorkflowFailedError);
  const final = await broker.runs.state(runId);
  expect(final).toMatchObject({ phase: 'deleted', outcome: 'cancelled' });

  // Past the hold: a call the SDK had not aborted would reach moto now.
  await new Promise((r) => setTimeout(r, HOLD_MS + 1_000));
  const s = proxy.stats();
  expect(s.held).toBeGreaterThanOrEqual(1);
  expect(s.abandoned).toBe(s.held); // every held write was given up by the broker before it was sent
  expect(await remaining(runId)).toEqual([]);
  proxy.setFaults({});
});

test('terminated while its writes are in flight: the cleanup of terminated runs deletes what it had planned; nothing is left', async () => {
  proxy.setFaults({ latency: 1, latencyMs: 3_000 });
  const runId = uniqueRunId('term');
  const launching = broker.runs
    .launch({ runId, workspaceId: ids.workspaceId, userId: ids.userId, computeEnvId: ceId, secretNames: ['DB_PASSWORD', 'API_TOKEN'] })
    .catch((e: unknown) => e);
  const heldBefore = proxy.stats().held;
  await eventually(() => proxy.stats().held > heldBefore, 'a CreateSecret is held at the proxy', 30_000);
  await broker.client.workflow.getHandle(pipelineRunWorkflowId(runId)).terminate('stopped by an operator during push');
  await launching;
  proxy.setFaults({});
  // The held writes may still land (nothing cancels an activity of a terminated workflow until its
  // next heartbeat): the cleanup deletes by the refs the run had recorded before the push.
  await new Promise((r) => setTimeout(r, 4_000));
  await eventually(async () => {
    const r = await broker.client.workflow.execute(reapTerminatedRuns, { taskQueue: broker.taskQueue, workflowId: `reaper-${runId}-${Date.now()}` });
    return r.found >= 1 && (await broker.client.workflow.getHandle(cleanupWorkflowId(runId)).describe().then(() => true, () => false));
  }, 'the reaper starts the cleanup of the terminated run', 30_000);
  const cleaned = await broker.client.workflow.getHandle(cleanupWorkflowId(runId)).result();
  expect(cleaned.phase).toBe('deleted');
  expect(await remaining(runId)).toEqual([]);
  expect(await broker.runs.state(runId)).toMatchObject({ outcome: 'terminated', phase: 'deleted' });
});
