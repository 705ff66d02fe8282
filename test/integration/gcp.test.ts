/**
 * The pipeline-run workflow end to end on a `gcp` compute environment: real Temporal dev server, real
 * worker, real vault, and the real Secret Manager emulator in IAM_MODE=strict behind its IAM
 * emulator (policy: test/fixtures/gcp-iam-policy.yaml). The broker's principal is the client_email
 * of each compute environment's google credential.
 */
import * as path from 'node:path';
import { LABEL, ANNOTATION, labelValue } from '../../targets/gcp/target';
import { pipelineRunWorkflowId } from '../../domain/run';
import { eventually, startTestBroker, uniqueRunId, type TestBroker } from '../harness/broker';
import { FIXTURES, startGcpEmulator, type GcpEmulator } from '../harness/gcp-emulator';
import { historyText } from '../harness/history';
import { serviceAccountEmail, serviceAccountKeyText, TEST_PROJECT } from '../fixtures/gcp-service-account';
import { LaunchError } from '../../domain/errors';

jest.setTimeout(120_000);

let emu: GcpEmulator;
let broker: TestBroker;
let ids: Awaited<ReturnType<TestBroker['seed']>>;
const ce: Record<'main' | 'readonly' | 'creator', string> = { main: '', readonly: '', creator: '' };

const WS_VALUE = 'gcp-workspace-value-5e1f0a77';
const USER_VALUE = 'gcp-user-value-b7d2c94e01';
const TOKEN_VALUE = 'gcp-token-value-3a9c8d7e6f';
const VALUES = [WS_VALUE, USER_VALUE, TOKEN_VALUE];

const parent = `projects/${TEST_PROJECT}`;
const OBSERVER = emuPrincipal('observer');
function emuPrincipal(name: string): string {
  return `serviceAccount:${serviceAccountEmail(name)}`;
}

/** Every secret of this run still in the emulator, by id. */
async function remaining(runId: string): Promise<string[]> {
  const [all] = await emu.client().listSecrets({ parent, pageSize: 1000 }, { ...emu.as(OBSERVER), autoPaginate: false });
  return all.map((s) => s.name!.split('/').pop()!).filter((id) => id.startsWith(`tower-${runId}-`)).sort();
}

async function payload(name: string): Promise<string> {
  const [res] = await emu.client().accessSecretVersion({ name: `${name}/versions/latest` }, emu.as(emuPrincipal('batch')));
  return Buffer.from(res.payload!.data as Uint8Array).toString('utf8');
}

beforeAll(async () => {
  emu = await startGcpEmulator({ strictIamPolicy: path.join(FIXTURES, 'gcp-iam-policy.yaml') });
  broker = await startTestBroker({ endpoints: { gcp: emu.endpoint } });
  ids = await broker.seed();
  await broker.vault.setSecret({ scope: 'workspace', ownerId: ids.workspaceId, name: 'DB_PASSWORD', value: WS_VALUE });
  await broker.vault.setSecret({ scope: 'user', ownerId: ids.userId, name: 'DB_PASSWORD', value: USER_VALUE });
  await broker.vault.setSecret({ scope: 'workspace', ownerId: ids.workspaceId, name: 'API_TOKEN', value: TOKEN_VALUE });
  for (const who of ['main', 'readonly', 'creator'] as const) {
    const account = who === 'main' ? 'broker' : who;
    const cred = await broker.vault.createCredential({
      workspaceId: ids.workspaceId,
      name: `google-${who}`,
      kind: 'google',
      fields: { serviceAccountKey: serviceAccountKeyText({ name: account }) },
    });
    const env = await broker.vault.createComputeEnv({
      workspaceId: ids.workspaceId,
      name: `batch-${who}`,
      platform: 'gcp',
      config: { location: 'europe-west4', batchServiceAccount: serviceAccountEmail('batch') },
      credentialId: cred.id,
    });
    ce[who] = env.id;
  }
});

afterAll(async () => {
  await broker?.stop();
  await emu?.stop();
});

function launch(runId: string, opts: { secretNames?: string[]; leaseMs?: number; ce?: keyof typeof ce } = {}) {
  return broker.runs.launch({
    runId,
    workspaceId: ids.workspaceId,
    userId: ids.userId,
    computeEnvId: ce[opts.ce ?? 'main'],
    secretNames: opts.secretNames ?? ['DB_PASSWORD', 'API_TOKEN'],
    ...(opts.leaseMs ? { leaseMs: opts.leaseMs } : {}),
    labels: { workspace: ids.workspaceName, computeEnv: `batch-${opts.ce ?? 'main'}`, platform: 'gcp', user: ids.userName },
  });
}

describe('pipeline run on gcp (Secret Manager emulator, strict IAM)', () => {
  test('launch → secrets with the right ids, labels and payloads → complete → gone', async () => {
    const runId = uniqueRunId('Gcp');
    const ready = await launch(runId);
    expect(ready.platform).toBe('gcp');
    expect(ready.headJobEnv).toEqual({ GOOGLE_CLOUD_PROJECT: TEST_PROJECT });
    const ids_ = [`tower-${runId}-DB_PASSWORD`, `tower-${runId}-API_TOKEN`];
    expect(ready.refs.map((r) => r.remoteId)).toEqual(ids_.map((id) => `${parent}/secrets/${id}`));
    expect(await remaining(runId)).toEqual([...ids_].sort());

    for (const ref of ready.refs) {
      const [secret] = await emu.client().getSecret({ name: ref.remoteId }, emu.as(OBSERVER));
      expect(secret.labels).toEqual({ [LABEL.managed]: 'true', [LABEL.runId]: labelValue(runId), [LABEL.workspace]: labelValue(ids.workspaceId) });
      expect(secret.annotations).toMatchObject({ [ANNOTATION.runId]: runId, [ANNOTATION.workspaceId]: ids.workspaceId, [ANNOTATION.secretName]: ref.secretName });
      expect(secret.replication?.userManaged?.replicas?.map((r) => r.location)).toEqual(['europe-west4']);
      const [versions] = await emu.client().listSecretVersions({ parent: ref.remoteId }, { ...emu.as(OBSERVER), autoPaginate: false });
      expect(versions).toHaveLength(1);
    }
    // What the head job reads at versions/latest, as the Batch service account: the user's value wins.
    expect(await payload(ready.refs[0].remoteId)).toBe(USER_VALUE);
    expect(await payload(ready.refs[1].remoteId)).toBe(TOKEN_VALUE);

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
    const runId = uniqueRunId('Gcp');
    await launch(runId);
    expect(await remaining(runId)).toHaveLength(2);
    await broker.runs.cancel(runId);
    const final = await broker.runs.waitClosed(runId);
    expect(final).toMatchObject({ phase: 'deleted', outcome: 'cancelled' });
    expect(await remaining(runId)).toEqual([]);
  });

  test('lease expiry leaves nothing, without a completion signal', async () => {
    const runId = uniqueRunId('Gcp');
    await launch(runId, { secretNames: ['API_TOKEN'], leaseMs: 3_000 });
    expect(await remaining(runId)).toEqual([`tower-${runId}-API_TOKEN`]);
    const final = await broker.runs.waitClosed(runId);
    expect(final).toMatchObject({ phase: 'deleted', outcome: 'lease-expired' });
    expect(await remaining(runId)).toEqual([]);
  });

  test('a worker stopped between push and delete: the restarted worker deletes', async () => {
    const runId = uniqueRunId('Gcp');
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

  test('a secret with the run id but without the broker labels is never overwritten nor deleted', async () => {
    const runId = uniqueRunId('Gcp');
    const foreign = `tower-${runId}-API_TOKEN`;
    await emu.client().createSecret({ parent, secretId: foreign, secret: { replication: { automatic: {} }, labels: { team: 'genomics' } } }, emu.as(OBSERVER));
    await emu.client().addSecretVersion({ parent: `${parent}/secrets/${foreign}`, payload: { data: Buffer.from('theirs') } }, emu.as(OBSERVER));

    const err = await launch(runId).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LaunchError);
    expect(err).toMatchObject({ code: 'launch-failed', type: 'NotOwnedError' });
    expect((err as Error).message).toContain(foreign);

    const final = await broker.runs.waitClosed(runId);
    expect(final.outcome).toBe('launch-failed');
    expect(final.phase).toBe('deleted');
    // The broker's own secret of this run is gone; the foreign one is untouched, value and all.
    expect(await remaining(runId)).toEqual([foreign]);
    expect(await payload(`${parent}/secrets/${foreign}`)).toBe('theirs');
    const [versions] = await emu.client().listSecretVersions({ parent: `${parent}/secrets/${foreign}` }, { ...emu.as(OBSERVER), autoPaginate: false });
    expect(versions).toHaveLength(1);
    await emu.client().deleteSecret({ name: `${parent}/secrets/${foreign}` }, emu.as(OBSERVER));
  });

  test('strict IAM: a principal without secretmanager.secrets.create fails the launch, naming the permission and the role', async () => {
    const runId = uniqueRunId('Gcp');
    const err = await launch(runId, { ce: 'readonly' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LaunchError);
    expect(err).toMatchObject({ code: 'launch-failed', type: 'PermissionDeniedError' });
    const msg = (err as Error).message;
    expect(msg).toContain('secretmanager.secrets.create');
    expect(msg).toContain('roles/secretmanager.admin');
    expect(msg).toContain(serviceAccountEmail('readonly'));
    const final = await broker.runs.waitClosed(runId);
    expect(final.outcome).toBe('launch-failed');
    expect(final.lastError ?? '').toContain('secretmanager.secrets.create');
    expect(await remaining(runId)).toEqual([]);
  });

  test('strict IAM: denied half-way (secret created, version refused), the launch fails and what was created is deleted', async () => {
    const runId = uniqueRunId('Gcp');
    const err = await launch(runId, { ce: 'creator', secretNames: ['API_TOKEN'] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'launch-failed', type: 'PermissionDeniedError' });
    expect((err as Error).message).toContain('secretmanager.versions.add');
    const final = await broker.runs.waitClosed(runId);
    expect(final).toMatchObject({ outcome: 'launch-failed', phase: 'deleted' });
    await eventually(async () => (await remaining(runId)).length === 0, 'the half-pushed secret to be deleted');
  });

  test('no secret value in workflow history or worker logs', async () => {
    const runId = uniqueRunId('Gcp');
    await launch(runId);
    await broker.runs.complete(runId, 'succeeded');
    await broker.runs.waitClosed(runId);
    const history = await broker.client.workflow.getHandle(pipelineRunWorkflowId(runId)).fetchHistory();
    const decoded = await historyText(history, broker.codec);
    const raw = await historyText(history);
    // Control: the worker's log lines for this run have arrived (they may trail the workflow's close).
    await eventually(async () => broker.workerLogs().includes(runId), 'the worker to log this run');
    const logs = broker.workerLogs();
    for (const value of VALUES) {
      for (const text of [decoded, raw, logs]) {
        expect(text).not.toContain(value);
        expect(text).not.toContain(Buffer.from(value).toString('base64'));
      }
    }
    expect(logs).not.toMatch(/BEGIN (RSA )?PRIVATE KEY/);
    // Controls: the searches can find things.
    expect(decoded).toContain(`tower-${runId}-DB_PASSWORD`);
  });
});
