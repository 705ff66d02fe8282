/**
 * Many runs at once while AWS throttles: the whole broker (Temporal, worker, vault) talks to moto
 * through a fault proxy that answers 30% of Secrets Manager calls with the real throttling error
 * (HTTP 400, ThrottlingException, "Rate exceeded"). Every run must still become ready, complete,
 * and leave nothing behind.
 */
import type { IAM } from '@aws-sdk/client-iam';
import type { SecretsManager } from '@aws-sdk/client-secrets-manager';
import { startTestBroker, uniqueRunId, type TestBroker } from '../harness/broker';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy';
import { adminIam, adminSecrets, setUpAccount, startMoto, type MotoServer } from '../harness/moto';

jest.setTimeout(240_000);

const REGION = 'sa-east-1';
const RUNS = 8;
let moto: MotoServer;
let proxy: FaultProxy;
let iam: IAM;
let sm: SecretsManager;
let broker: TestBroker;
let ids: Awaited<ReturnType<TestBroker['seed']>>;
let ceId: string;

async function towerCount(runIds: string[]): Promise<number> {
  let n = 0;
  for (const id of runIds) n += (await sm.listSecrets({ Filters: [{ Key: 'name', Values: [`tower-${id}/`] }] })).SecretList?.length ?? 0;
  return n;
}

beforeAll(async () => {
  moto = await startMoto();
  iam = adminIam(moto.endpoint);
  sm = adminSecrets(moto.endpoint, REGION);
  const account = await setUpAccount(iam, REGION);
  proxy = await startFaultProxy({ target: moto.endpoint, share: 0.3, seed: 7 });
  broker = await startTestBroker({ endpoints: { aws: proxy.endpoint } });
  ids = await broker.seed();
  for (const name of ['S_ONE', 'S_TWO', 'S_THREE']) {
    await broker.vault.setSecret({ scope: 'workspace', ownerId: ids.workspaceId, name, value: `throttle-value-${name}-91f3` });
  }
  const cred = await broker.vault.createCredential({
    workspaceId: ids.workspaceId,
    name: 'aws-throttled',
    kind: 'aws',
    fields: { accessKeyId: account.broker.accessKeyId, secretAccessKey: account.broker.secretAccessKey },
  });
  const env = await broker.vault.createComputeEnv({
    workspaceId: ids.workspaceId,
    name: 'batch-throttled',
    platform: 'aws',
    config: { region: REGION, headJobRoleArn: account.headJobRoleArn, executionRoleArn: account.executionRoleArn },
    credentialId: cred.id,
  });
  ceId = env.id;
});

afterAll(async () => {
  await broker?.stop();
  await proxy?.stop();
  iam?.destroy();
  sm?.destroy();
  await moto?.stop();
});

test(`${RUNS} concurrent runs with 30% of Secrets Manager calls throttled all become ready, complete and delete`, async () => {
  const runIds = Array.from({ length: RUNS }, () => uniqueRunId('Thr'));
  const ready = await Promise.all(
    runIds.map((runId) =>
      broker.runs.launch({
        runId,
        workspaceId: ids.workspaceId,
        userId: ids.userId,
        computeEnvId: ceId,
        secretNames: ['S_ONE', 'S_TWO', 'S_THREE'],
        labels: { workspace: ids.workspaceName, computeEnv: 'batch-throttled', platform: 'aws', user: ids.userName },
      }),
    ),
  );
  expect(ready.map((r) => r.refs.length)).toEqual(Array(RUNS).fill(3));
  expect(await towerCount(runIds)).toBe(RUNS * 3);

  await Promise.all(runIds.map((runId) => broker.runs.complete(runId, 'succeeded')));
  const finals = await Promise.all(runIds.map((runId) => broker.runs.waitClosed(runId)));
  for (const f of finals) {
    expect(f).toMatchObject({ phase: 'deleted', outcome: 'succeeded' });
    expect(f.refs.map((r) => r.state)).toEqual(['deleted', 'deleted', 'deleted']);
  }
  expect(await towerCount(runIds)).toBe(0);

  // The faults really happened, on creates and deletes alike.
  const stats = proxy.stats();
  expect(stats.byOperation['secretsmanager:CreateSecret']!.throttled).toBeGreaterThan(0);
  expect(stats.byOperation['secretsmanager:DeleteSecret']!.throttled).toBeGreaterThan(0);
  const sm_ = Object.entries(stats.byOperation).filter(([op]) => op.startsWith('secretsmanager:'));
  const throttled = sm_.reduce((n, [, o]) => n + o.throttled, 0);
  const forwarded = sm_.reduce((n, [, o]) => n + o.forwarded, 0);
  expect(throttled).toBeGreaterThan(0.2 * (throttled + forwarded));
});
