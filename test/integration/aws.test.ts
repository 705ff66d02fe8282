/**
 * The pipeline-run workflow end to end on an `aws` compute environment: real Temporal dev server,
 * real worker, real vault, and a real moto server for Secrets Manager, IAM and STS. The account is
 * set up as the platform documents it (the platform's documented IAM policies, Seqera Platform "Secrets"): a broker user with its access key in the vault,
 * a Batch execution role and a head-job role; a second execution role lacks GetSecretValue.
 */
import type { IAM } from '@aws-sdk/client-iam';
import type { SecretsManager } from '@aws-sdk/client-secrets-manager';
import { TAG } from '../../targets/aws/target';
import { pipelineRunWorkflowId } from '../../domain/run';
import { sweepOrphans } from '../../workflows/sweep';
import { eventually, startTestBroker, uniqueRunId, type TestBroker } from '../harness/broker';
import { historyText } from '../harness/history';
import { adminIam, adminSecrets, setUpAccount, startMoto, type AwsAccountSetup, type MotoServer } from '../harness/moto';
import { LaunchError } from '../../domain/errors';

jest.setTimeout(120_000);

const REGION = 'eu-central-1';
let moto: MotoServer;
let iam: IAM;
let sm: SecretsManager;
let broker: TestBroker;
let ids: Awaited<ReturnType<TestBroker['seed']>>;
let good: AwsAccountSetup;
let noRead: AwsAccountSetup;
const ce: Record<'main' | 'noRead', string> = { main: '', noRead: '' };

const WS_VALUE = 'aws-workspace-value-8c1d2e3f';
const USER_VALUE = 'aws-user-value-47ab90cd12';
const TOKEN_VALUE = 'aws-token-value-e5f6a7b8c9';
const VALUES = [WS_VALUE, USER_VALUE, TOKEN_VALUE];

/** Every secret of this run still in the region, by name. */
async function remaining(runId: string, region = REGION): Promise<string[]> {
  const client = region === REGION ? sm : adminSecrets(moto.endpoint, region);
  const names: string[] = [];
  let NextToken: string | undefined;
  do {
    const r = await client.listSecrets({ Filters: [{ Key: 'name', Values: [`tower-${runId}/`] }], ...(NextToken ? { NextToken } : {}) });
    names.push(...(r.SecretList ?? []).map((s) => s.Name!).filter((n) => n.startsWith(`tower-${runId}/`)));
    NextToken = r.NextToken;
  } while (NextToken);
  if (client !== sm) client.destroy();
  return names.sort();
}

async function value(name: string): Promise<string | undefined> {
  return (await sm.getSecretValue({ SecretId: name })).SecretString;
}

beforeAll(async () => {
  moto = await startMoto();
  iam = adminIam(moto.endpoint);
  sm = adminSecrets(moto.endpoint, REGION);
  good = await setUpAccount(iam, REGION);
  noRead = await setUpAccount(iam, REGION, { executionRead: true });

  broker = await startTestBroker({ endpoints: { aws: moto.endpoint } });
  ids = await broker.seed();
  await broker.vault.setSecret({ scope: 'workspace', ownerId: ids.workspaceId, name: 'DB_PASSWORD', value: WS_VALUE });
  await broker.vault.setSecret({ scope: 'user', ownerId: ids.userId, name: 'DB_PASSWORD', value: USER_VALUE });
  await broker.vault.setSecret({ scope: 'workspace', ownerId: ids.workspaceId, name: 'API_TOKEN', value: TOKEN_VALUE });
  for (const [who, account] of [
    ['main', good],
    ['noRead', noRead],
  ] as const) {
    const cred = await broker.vault.createCredential({
      workspaceId: ids.workspaceId,
      name: `aws-${who}`,
      kind: 'aws',
      fields: { accessKeyId: account.broker.accessKeyId, secretAccessKey: account.broker.secretAccessKey },
    });
    const env = await broker.vault.createComputeEnv({
      workspaceId: ids.workspaceId,
      name: `batch-${who}`,
      platform: 'aws',
      config: { region: REGION, headJobRoleArn: account.headJobRoleArn, executionRoleArn: account.executionRoleArn },
      credentialId: cred.id,
    });
    ce[who] = env.id;
  }
});

afterAll(async () => {
  await broker?.stop();
  iam?.destroy();
  sm?.destroy();
  await moto?.stop();
});

function launch(runId: string, opts: { secretNames?: string[]; leaseMs?: number; ce?: keyof typeof ce } = {}) {
  return broker.runs.launch({
    runId,
    workspaceId: ids.workspaceId,
    userId: ids.userId,
    computeEnvId: ce[opts.ce ?? 'main'],
    secretNames: opts.secretNames ?? ['DB_PASSWORD', 'API_TOKEN'],
    ...(opts.leaseMs ? { leaseMs: opts.leaseMs } : {}),
    labels: { workspace: ids.workspaceName, computeEnv: `batch-${opts.ce ?? 'main'}`, platform: 'aws', user: ids.userName },
  });
}

describe('pipeline run on aws (moto)', () => {
  test('launch → secrets with the right names, values, region and tags → complete → gone', async () => {
    const runId = uniqueRunId('Aws');
    const ready = await launch(runId);
    expect(ready.platform).toBe('aws');
    expect(ready.headJobEnv).toEqual({ AWS_REGION: REGION, AWS_DEFAULT_REGION: REGION, TOWER_WORKFLOW_ID: runId, NXF_ENABLE_SECRETS: 'true' });
    const names = [`tower-${runId}/DB_PASSWORD`, `tower-${runId}/API_TOKEN`];
    expect(ready.refs.map((r) => r.remoteId)).toEqual(names);
    expect(ready.refs.every((r) => r.location === REGION)).toBe(true);
    expect(await remaining(runId)).toEqual([...names].sort());
    expect(await remaining(runId, 'us-east-1')).toEqual([]);

    for (const name of names) {
      const d = await sm.describeSecret({ SecretId: name });
      expect(d.ARN).toMatch(new RegExp(`^arn:aws:secretsmanager:${REGION}:`));
      expect(Object.fromEntries((d.Tags ?? []).map((t) => [t.Key, t.Value]))).toEqual({
        [TAG.managed]: 'true',
        [TAG.runId]: runId,
        [TAG.workspace]: ids.workspaceId,
        [TAG.computeEnv]: ce.main,
      });
      expect(Object.keys(d.VersionIdsToStages ?? {})).toHaveLength(1);
    }
    // What the ECS agent reads: plain SecretString, the user's value winning over the workspace's.
    expect(await value(names[0]!)).toBe(USER_VALUE);
    expect(await value(names[1]!)).toBe(TOKEN_VALUE);

    const state = await broker.runs.state(runId);
    expect(state.phase).toBe('ready');
    expect(state.refs.map((r) => r.state)).toEqual(['pushed', 'pushed']);
    expect(JSON.stringify(state)).not.toContain(USER_VALUE);

    await broker.runs.complete(runId, 'succeeded');
    const final = await broker.runs.waitClosed(runId);
    expect(final).toMatchObject({ phase: 'deleted', outcome: 'succeeded' });
    expect(final.refs.map((r) => r.state)).toEqual(['deleted', 'deleted']);
    expect(await remaining(runId)).toEqual([]);
  });

  test('cancel leaves nothing', async () => {
    const runId = uniqueRunId('Aws');
    await launch(runId);
    expect(await remaining(runId)).toHaveLength(2);
    await broker.runs.cancel(runId);
    const final = await broker.runs.waitClosed(runId);
    expect(final).toMatchObject({ phase: 'deleted', outcome: 'cancelled' });
    expect(await remaining(runId)).toEqual([]);
  });

  test('lease expiry leaves nothing, without a completion signal', async () => {
    const runId = uniqueRunId('Aws');
    await launch(runId, { secretNames: ['API_TOKEN'], leaseMs: 3_000 });
    expect(await remaining(runId)).toEqual([`tower-${runId}/API_TOKEN`]);
    const final = await broker.runs.waitClosed(runId);
    expect(final).toMatchObject({ phase: 'deleted', outcome: 'lease-expired' });
    expect(await remaining(runId)).toEqual([]);
  });

  test('a worker stopped between push and delete: the restarted worker deletes', async () => {
    const runId = uniqueRunId('Aws');
    await launch(runId);
    await broker.stopWorker();
    try {
      await broker.runs.complete(runId, 'succeeded'); // recorded by the server while no worker runs
      await new Promise((r) => setTimeout(r, 500));
      expect(await remaining(runId)).toHaveLength(2);
    } finally {
      await broker.startWorker();
    }
    const final = await broker.runs.waitClosed(runId);
    expect(final.outcome).toBe('succeeded');
    expect(await remaining(runId)).toEqual([]);
  });

  test('an execution role without GetSecretValue fails the launch naming the action, the role and the statement, and leaves nothing', async () => {
    const runId = uniqueRunId('Aws');
    const err = await launch(runId, { ce: 'noRead' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LaunchError);
    expect(err).toMatchObject({ code: 'launch-failed', type: 'AccessVerificationError' });
    const msg = (err as Error).message;
    expect(msg).toContain('secretsmanager:GetSecretValue');
    expect(msg).toContain(`execution role ${noRead.executionRoleArn}`);
    expect(msg).toContain(`tower-${runId}/DB_PASSWORD`);
    expect(msg).not.toMatch(/ListSecrets|CreateSecret|DeleteSecret/); // nothing else is missing

    const final = await broker.runs.waitClosed(runId);
    expect(final).toMatchObject({ outcome: 'launch-failed', phase: 'deleted' });
    expect(final.lastError ?? '').toContain('secretsmanager:GetSecretValue');
    expect(await remaining(runId)).toEqual([]);

    // The statement that grants it travels with the failure (its details, in history).
    const history = await broker.client.workflow.getHandle(pipelineRunWorkflowId(runId)).fetchHistory();
    const decoded = await historyText(history, broker.codec);
    expect(decoded).toContain('AllowECSAgentToRetrieveSecrets');
    expect(decoded).toContain(`arn:aws:secretsmanager:${REGION}:*:secret:tower-*`);
  });

  test('a secret with the same name but without the broker tag is never overwritten nor deleted', async () => {
    const runId = uniqueRunId('Aws');
    const foreign = `tower-${runId}/API_TOKEN`;
    await sm.createSecret({ Name: foreign, SecretString: 'theirs', Tags: [{ Key: 'team', Value: 'genomics' }] });

    const err = await launch(runId).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LaunchError);
    expect(err).toMatchObject({ code: 'launch-failed', type: 'NotOwnedError' });
    expect((err as Error).message).toContain(foreign);

    const final = await broker.runs.waitClosed(runId);
    expect(final).toMatchObject({ outcome: 'launch-failed', phase: 'deleted' });
    // The broker's own secret of this run is gone; the foreign one is untouched, value and all.
    expect(await remaining(runId)).toEqual([foreign]);
    expect(await value(foreign)).toBe('theirs');
    const d = await sm.describeSecret({ SecretId: foreign });
    expect(Object.keys(d.VersionIdsToStages ?? {})).toHaveLength(1);
    expect(d.Tags).toEqual([{ Key: 'team', Value: 'genomics' }]);
    await sm.deleteSecret({ SecretId: foreign, ForceDeleteWithoutRecovery: true });
  });

  test('the sweep deletes what a terminated run left, and leaves live runs and untagged secrets alone', async () => {
    const live = uniqueRunId('Live');
    const orphan = uniqueRunId('Orphan');
    await launch(live, { secretNames: ['API_TOKEN'] });
    await launch(orphan, { secretNames: ['API_TOKEN', 'DB_PASSWORD'] });
    // An operator terminates the orphan's workflow: no cleanup runs, its secrets stay behind.
    await broker.client.workflow.getHandle(pipelineRunWorkflowId(orphan)).terminate('operator test');
    const foreignRun = uniqueRunId('Foreign');
    await sm.createSecret({ Name: `tower-${foreignRun}/X`, SecretString: 'not-the-brokers' });
    expect(await remaining(orphan)).toHaveLength(2);

    const summary = await broker.client.workflow.execute(sweepOrphans, { taskQueue: broker.taskQueue, workflowId: `sweep-${uniqueRunId()}` });

    expect(await remaining(orphan)).toEqual([]);
    expect(await remaining(live)).toEqual([`tower-${live}/API_TOKEN`]);
    expect(await value(`tower-${foreignRun}/X`)).toBe('not-the-brokers');
    expect(summary.deleted).toBeGreaterThanOrEqual(2);
    expect(summary.kept).toBeGreaterThanOrEqual(1);
    expect(summary.failed).toEqual([]);
    await broker.runs.complete(live, 'succeeded');
    await broker.runs.waitClosed(live);
    expect(await remaining(live)).toEqual([]);
    await sm.deleteSecret({ SecretId: `tower-${foreignRun}/X`, ForceDeleteWithoutRecovery: true });
  });

  test('no secret value and no credential in workflow history or worker logs', async () => {
    const runId = uniqueRunId('Aws');
    await launch(runId);
    await broker.runs.complete(runId, 'succeeded');
    await broker.runs.waitClosed(runId);
    const history = await broker.client.workflow.getHandle(pipelineRunWorkflowId(runId)).fetchHistory();
    const decoded = await historyText(history, broker.codec);
    const raw = await historyText(history);
    // Control: the worker's log lines for this run have arrived (they may trail the workflow's close).
    await eventually(async () => broker.workerLogs().includes(runId), 'the worker to log this run');
    const logs = broker.workerLogs();
    const forbidden = [...VALUES, good.broker.secretAccessKey, noRead.broker.secretAccessKey];
    for (const s of forbidden) {
      for (const text of [decoded, raw, logs]) {
        expect(text).not.toContain(s);
        expect(text).not.toContain(Buffer.from(s).toString('base64'));
      }
    }
    // Controls: the searches can find things.
    expect(decoded).toContain(`tower-${runId}/DB_PASSWORD`);
  });
});
