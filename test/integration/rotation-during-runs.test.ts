/**
 * Pipeline runs keep working while the credential of their compute environment rotates: an `aws`
 * compute environment whose broker key is rotated (aws-access-key) while runs launch, wait and end.
 * Real Temporal dev server, worker, vault, and moto for Secrets Manager, IAM and STS.
 *
 * A run launched before the rotation pushed with the old key and is deleted (after the switch) with
 * the new one; a run launched in the grace period pushes with the new key; after the rotation the
 * old key is gone from IAM and every run still ends with its secrets deleted. moto accepts any key,
 * so the broker talks to it through test/harness/fault-proxy.ts, which records which key signed
 * each call and, once the old key is deleted, refuses it as AWS does.
 */
import type { IAM } from '@aws-sdk/client-iam';
import type { SecretsManager } from '@aws-sdk/client-secrets-manager';
import { CredentialRotations } from '../../services/rotations';
import { rotationStatusQuery } from '../../workflows/rotation';
import { eventually, startTestBroker, uniqueRunId, type TestBroker } from '../harness/broker';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy';
import { adminIam, adminSecrets, setUpAccount, startMoto, type AwsAccountSetup, type MotoServer } from '../harness/moto';

jest.setTimeout(180_000);

const REGION = 'eu-west-1';
const VALUE = 'rotation-during-run-value-5e6f7a8b';
let moto: MotoServer;
let proxy: FaultProxy;
let iam: IAM;
let sm: SecretsManager;
let account: AwsAccountSetup;
let broker: TestBroker;
let ids: Awaited<ReturnType<TestBroker['seed']>>;
let credentialId: string;
let computeEnvId: string;

beforeAll(async () => {
  moto = await startMoto();
  iam = adminIam(moto.endpoint);
  sm = adminSecrets(moto.endpoint, REGION);
  account = await setUpAccount(iam, REGION);
  proxy = await startFaultProxy({ target: moto.endpoint, share: 0, eligible: () => false });
  broker = await startTestBroker({ endpoints: { aws: proxy.endpoint }, rotators: { aws: { endpoint: proxy.endpoint, region: REGION } } });
  await broker.startWorker();
  ids = await broker.seed();
  await broker.vault.setSecret({ scope: 'workspace', ownerId: ids.workspaceId, name: 'DB_PASSWORD', value: VALUE });
  credentialId = (
    await broker.vault.createCredential({
      workspaceId: ids.workspaceId,
      name: 'aws-broker',
      kind: 'aws',
      fields: { accessKeyId: account.broker.accessKeyId, secretAccessKey: account.broker.secretAccessKey },
    })
  ).id;
  computeEnvId = (
    await broker.vault.createComputeEnv({
      workspaceId: ids.workspaceId,
      name: 'batch',
      platform: 'aws',
      config: { region: REGION, headJobRoleArn: account.headJobRoleArn, executionRoleArn: account.executionRoleArn },
      credentialId,
    })
  ).id;
}, 120_000);

afterAll(async () => {
  sm?.destroy();
  iam?.destroy();
  await broker?.stop();
  await proxy?.stop();
  await moto?.stop();
});

function launch(runId: string) {
  return broker.runs.launch({ runId, workspaceId: ids.workspaceId, userId: ids.userId, computeEnvId, secretNames: ['DB_PASSWORD'] });
}

async function remaining(runId: string): Promise<string[]> {
  const r = await sm.listSecrets({ Filters: [{ Key: 'name', Values: [`tower-${runId}/`] }] });
  return (r.SecretList ?? []).map((s) => s.Name!).filter((n) => n.startsWith(`tower-${runId}/`));
}

async function end(runId: string): Promise<void> {
  await broker.runs.complete(runId, 'succeeded');
  const final = await broker.runs.waitClosed(runId);
  expect({ runId, phase: final.phase, lastError: final.lastError }).toEqual({ runId, phase: 'deleted', lastError: undefined });
  expect(await remaining(runId)).toEqual([]);
}

test('runs launched before, during and after an access-key rotation all work and end with their secrets deleted', async () => {
  const oldKeyId = account.broker.accessKeyId;
  const before = uniqueRunId();
  await launch(before);
  expect(await remaining(before)).toEqual([`tower-${before}/DB_PASSWORD`]);
  const secretsManagerKeys = (from: number) => [...new Set(proxy.calls().slice(from).filter((c) => c.service === 'secretsmanager').map((c) => c.accessKeyId))];
  expect(secretsManagerKeys(0)).toEqual([oldKeyId]);

  const rotations = new CredentialRotations(broker.client, broker.vault, broker.taskQueue);
  const { workflowId } = await rotations.start({ kind: 'aws-access-key', credentialId, graceMs: 8_000 });
  const handle = broker.client.workflow.getHandle(workflowId);
  await eventually(async () => (await handle.query(rotationStatusQuery)).step === 'grace', 'the rotation to reach its grace period', 60_000);

  // In the grace period: the vault holds the new key; a launch pushes with it, and the run launched
  // before the switch is deleted with it.
  const newKeyId = String((await broker.vault.getCredential(credentialId)).public.accessKeyId);
  expect(newKeyId).not.toBe(oldKeyId);
  const inGrace = proxy.calls().length;
  const during = uniqueRunId();
  const ready = await launch(during);
  expect(ready.refs.map((r) => r.remoteId)).toEqual([expect.stringContaining(`tower-${during}/DB_PASSWORD`)]);
  await end(before);
  // Everything since the switch (the push of `during`, the delete of `before`) was signed with the new key.
  expect(secretsManagerKeys(inGrace)).toEqual([newKeyId]);

  const result = await rotations.wait(workflowId);
  expect(result).toMatchObject({ outcome: 'rotated', from: oldKeyId, to: newKeyId, final: newKeyId });
  const keys = await iam.listAccessKeys({ UserName: account.broker.name });
  expect((keys.AccessKeyMetadata ?? []).map((k) => k.AccessKeyId)).toEqual([newKeyId]);
  // As in AWS, the deleted key is refused from now on: a broker still using it would fail below.
  proxy.revoke(oldKeyId);
  const afterRotation = proxy.calls().length;

  // After the rotation: the run launched in the grace period ends cleanly; a new launch works.
  await end(during);
  const after = uniqueRunId();
  await launch(after);
  await end(after);
  expect(secretsManagerKeys(afterRotation)).toEqual([newKeyId]);
});
