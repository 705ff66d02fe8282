/**
 * Vault master key rotation as the running broker does it: a real Temporal dev server, the real
 * worker over a key-file-mode vault on PGlite (which only this process may open: the rotation must
 * run inside the broker), the client library, the HTTP API (schedule create/trigger/describe/delete)
 * and local pipeline runs whose secrets must keep working across the rotation.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createVaultKeyActivities } from '../../activities/vault-key';
import { buildApiServer } from '../../api/server';
import { CredentialRotations } from '../../services/rotations';
import { VaultKeyRotations } from '../../services/vault-key';
import { keyIdOf } from '../../store/crypto';
import { openVault } from '../../store/vault';
import type { VaultApi } from '../../store/types';
import { eventually, startTestBroker, uniqueRunId, type TestBroker } from '../harness/broker';
import { historyText } from '../harness/history';
import { harnessIdentity, type TestIdentity } from '../api/helpers';
import { VAULT_KEY_ROTATION_SCHEDULE_ID, VAULT_KEY_ROTATION_WORKFLOW_ID, type VaultKeyRotationResult } from '../../domain/vault-key';

let broker: TestBroker;
let rotations: VaultKeyRotations;
let ids: Awaited<ReturnType<TestBroker['seed']>>;
let ceId: string;
let app: ReturnType<typeof buildApiServer>;
let api: string;
const apiLog: string[] = [];
let admin: TestIdentity;

const VALUES = { DB_PASSWORD: `db-${randomBytes(8).toString('hex')}`, API_TOKEN: `tok-${randomBytes(8).toString('hex')}` };
const CRED_TOKEN = randomBytes(30).toString('base64');
let credId: string;
/** Every master key the vault has had, as base64 text and hex. */
const keysSeen: string[] = [];

const keyFile = () => path.join(broker.dataDir, 'vault', 'master.key');
const readKey = () => Buffer.from(fs.readFileSync(keyFile(), 'utf8').trim(), 'base64');
function rememberKey(): string {
  const k = readKey();
  keysSeen.push(k.toString('base64'), k.toString('hex'));
  return keyIdOf(k);
}

beforeAll(async () => {
  broker = await startTestBroker({ vaultKeyFile: true });
  ids = await broker.seed();
  for (const [name, value] of Object.entries(VALUES)) await broker.vault.setSecret({ scope: 'workspace', ownerId: ids.workspaceId, name, value });
  credId = (
    await broker.vault.createCredential({
      workspaceId: ids.workspaceId,
      name: 'aws-keys',
      kind: 'aws',
      fields: { accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`, secretAccessKey: CRED_TOKEN },
    })
  ).id;
  ceId = (await broker.vault.createComputeEnv({ workspaceId: ids.workspaceId, name: 'laptop', platform: 'local', config: {} })).id;
  rotations = new VaultKeyRotations(broker.client, broker.taskQueue);
  const line = (level: string) => (m: string, f?: Record<string, unknown>) => void apiLog.push(`${level} ${m} ${JSON.stringify(f ?? {})}`);
  app = buildApiServer({
    vault: broker.vault,
    runs: broker.runs,
    rotations: new CredentialRotations(broker.client, broker.vault, broker.taskQueue),
    vaultKeyRotations: rotations,
    logger: { info: line('info'), warn: line('warn'), error: line('error') },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  api = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  // The caller: a broker administrator (the vault's master key is theirs to rotate).
  admin = await harnessIdentity(broker.vault);
}, 120_000);

afterAll(async () => {
  await app?.close();
  await broker?.stop();
});

async function call(method: string, p: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${api}${p}`, {
    method,
    ...(body === undefined ? { headers: admin.headers } : { headers: { 'content-type': 'application/json', ...admin.headers }, body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Launch a local run needing both secrets; return the values its store file holds, then end it. */
async function runSecrets(): Promise<Record<string, string>> {
  const runId = uniqueRunId('vk');
  const ready = await broker.runs.launch({
    runId,
    workspaceId: ids.workspaceId,
    userId: ids.userId,
    computeEnvId: ceId,
    secretNames: Object.keys(VALUES),
    labels: { workspace: ids.workspaceName, computeEnv: 'laptop', platform: 'local', user: ids.userName },
  });
  const store = JSON.parse(fs.readFileSync(ready.headJobEnv.NXF_SECRETS_FILE!, 'utf8')) as { name: string; value: string }[];
  await broker.runs.complete(runId, 'succeeded');
  await broker.runs.waitClosed(runId);
  return Object.fromEntries(store.map((s) => [s.name, s.value]));
}

async function expectNoKeyMaterial(workflowId: string): Promise<void> {
  const history = await broker.client.workflow.getHandle(workflowId).fetchHistory();
  const texts = [await historyText(history), await historyText(history, broker.codec), broker.workerLogs(), apiLog.join('\n')];
  for (const t of texts) {
    for (const k of keysSeen) expect(t).not.toContain(k);
    for (const v of [...Object.values(VALUES), CRED_TOKEN]) expect(t).not.toContain(v);
  }
  // Control: the decoded history does name the new key's id.
  expect(texts[1]).toContain(keyIdOf(readKey()));
}

describe('vault master key rotation through the broker', () => {
  test('start via the client → result; pipeline-run secrets work before and after; no key material in history or logs', async () => {
    const oldId = rememberKey();
    expect(await runSecrets()).toEqual(VALUES);

    const { workflowId } = await rotations.start();
    expect(workflowId).toBe(VAULT_KEY_ROTATION_WORKFLOW_ID);
    const result = await rotations.wait(workflowId);
    const newId = rememberKey();

    expect(newId).not.toBe(oldId);
    expect(result).toEqual<VaultKeyRotationResult>({
      newKeyId: newId,
      oldKeyIds: [oldId],
      rewrapped: expect.any(Number) as number,
      skipped: 0,
      nextSteps: [expect.stringMatching(/master\.key\.retired-/) as string],
    });
    expect(result.rewrapped).toBeGreaterThanOrEqual(2);
    expect(fs.existsSync(`${keyFile()}.retired-${oldId}`)).toBe(true);
    expect(fs.existsSync(`${keyFile()}.next`)).toBe(false);

    const state = await rotations.state();
    expect(state).toMatchObject({ execution: 'COMPLETED', result: { newKeyId: newId } });
    // The same open vault keeps serving launches, and writes after the rotation.
    expect(await runSecrets()).toEqual(VALUES);
    expect((await broker.vault.readCredential(credId)).secret.secretAccessKey).toBe(CRED_TOKEN);
    VALUES.API_TOKEN = `tok2-${randomBytes(8).toString('hex')}`;
    await broker.vault.setSecret({ scope: 'workspace', ownerId: ids.workspaceId, name: 'API_TOKEN', value: VALUES.API_TOKEN });
    expect(await runSecrets()).toEqual(VALUES);

    // The activity heartbeated progress (what the Web UI shows on the pending activity) and ran once.
    const history = await broker.client.workflow.getHandle(workflowId).fetchHistory();
    const scheduled = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes);
    expect(scheduled.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)).toEqual(['vaultRewrap']);
    await expectNoKeyMaterial(workflowId);

    // A second start while none runs is a new rotation; the API answers the state.
    const viaApi = await call('POST', '/v1/vault/master-key/rotations', {});
    expect(viaApi.status).toBe(202);
    await rotations.wait();
    const newer = rememberKey();
    expect(newer).not.toBe(newId);
    const st = await call('GET', `/v1/vault/master-key/rotations/${VAULT_KEY_ROTATION_WORKFLOW_ID}`);
    expect(st).toMatchObject({ status: 200, body: { execution: 'COMPLETED', result: { newKeyId: newer, oldKeyIds: [newId] } } });
    expect(await runSecrets()).toEqual(VALUES);
    await expectNoKeyMaterial(VAULT_KEY_ROTATION_WORKFLOW_ID);
  });

  test('schedule via the API: create --every 90d, describe, pause/unpause, trigger (rotates), not listed as a credential schedule, delete', async () => {
    const before = rememberKey();
    expect(await call('POST', '/v1/vault/master-key/rotation-schedule', { every: '30m' })).toMatchObject({ status: 400, body: { field: 'every' } });
    expect(await call('POST', '/v1/vault/master-key/rotation-schedule', {})).toMatchObject({ status: 400, body: { field: 'every' } });

    const created = await call('POST', '/v1/vault/master-key/rotation-schedule', { every: '90d', note: 'quarterly' });
    expect(created).toMatchObject({ status: 201, body: { scheduleId: VAULT_KEY_ROTATION_SCHEDULE_ID, spec: 'every 90d', paused: false, note: 'quarterly' } });
    try {
      expect(await call('POST', '/v1/vault/master-key/rotation-schedule', { every: '90d' })).toMatchObject({ status: 409 });
      const desc = await call('GET', '/v1/vault/master-key/rotation-schedule');
      expect(desc).toMatchObject({ status: 200, body: { scheduleId: VAULT_KEY_ROTATION_SCHEDULE_ID, spec: 'every 90d' } });
      expect((desc.body as { nextRuns: string[] }).nextRuns.length).toBeGreaterThan(0);

      expect(await call('POST', '/v1/vault/master-key/rotation-schedule/pause', { note: 'change freeze' })).toMatchObject({ status: 202 });
      expect(await call('GET', '/v1/vault/master-key/rotation-schedule')).toMatchObject({ body: { paused: true, note: 'change freeze' } });
      expect(await call('POST', '/v1/vault/master-key/rotation-schedule/unpause', {})).toMatchObject({ status: 202 });

      // The credential schedules listing does not show it, and a credential-schedule lookup by that name does not reach it.
      const creds = new CredentialRotations(broker.client, broker.vault, broker.taskQueue);
      expect((await creds.listSchedules()).map((s) => s.scheduleId)).not.toContain(VAULT_KEY_ROTATION_SCHEDULE_ID);
      await expect(creds.deleteSchedule('vault-master-key', ids.workspaceId)).rejects.toThrow(/not found/i);

      expect(await call('POST', '/v1/vault/master-key/rotation-schedule/trigger', {})).toMatchObject({ status: 202 });
      let after = before;
      await eventually(async () => {
        const d = await call('GET', '/v1/vault/master-key/rotation-schedule');
        if ((d.body as { recentRuns: unknown[] }).recentRuns.length === 0) return false;
        const s = await rotations.state();
        if (s.execution !== 'COMPLETED') return false;
        after = keyIdOf(readKey());
        return after !== before;
      }, 'the triggered schedule rotates the master key');
      rememberKey();
      expect((await rotations.state()).result).toMatchObject({ newKeyId: after, oldKeyIds: [before] });
      expect(await runSecrets()).toEqual(VALUES);
      await expectNoKeyMaterial(VAULT_KEY_ROTATION_WORKFLOW_ID);
    } finally {
      const del = await call('DELETE', '/v1/vault/master-key/rotation-schedule');
      expect(del.status).toBe(204);
    }
    expect(await call('GET', '/v1/vault/master-key/rotation-schedule')).toMatchObject({ status: 404 });
  });

  test('env mode without BROKER_MASTER_KEY_NEXT: the activity fails non-retryable, saying what to do; with NEXT it finishes', async () => {
    const dataDir = fs.mkdtempSync(path.join(broker.dataDir, 'env-vault-'));
    const oldKey = randomBytes(32).toString('base64');
    const newKey = randomBytes(32).toString('base64');
    let vault: VaultApi = await openVault({ dataDir, env: { BROKER_MASTER_KEY: oldKey } });
    try {
      const ws = await vault.createWorkspace('envmode');
      await vault.setSecret({ scope: 'workspace', ownerId: ws.id, name: 'ENV_SECRET', value: 'env-mode-value-1' });
      const err = await new MockActivityEnvironment().run(createVaultKeyActivities({ vault }).vaultRewrap).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ApplicationFailure);
      expect(err).toMatchObject({ type: 'VaultKeyError', nonRetryable: true });
      expect((err as Error).message).toMatch(/set BROKER_MASTER_KEY_NEXT to it on every broker and restart them/);
      expect((err as Error).message).not.toContain(oldKey);
      await vault.close();

      vault = await openVault({ dataDir, env: { BROKER_MASTER_KEY: oldKey, BROKER_MASTER_KEY_NEXT: newKey } });
      const r = (await new MockActivityEnvironment().run(createVaultKeyActivities({ vault }).vaultRewrap)) as VaultKeyRotationResult;
      expect(r).toMatchObject({ newKeyId: keyIdOf(Buffer.from(newKey, 'base64')), rewrapped: 1 });
      expect(r.nextSteps.join(' ')).toMatch(/set BROKER_MASTER_KEY to the new key/);
    } finally {
      await vault.close();
    }
  });

  test('a retried activity whose rotation already finished (heartbeat names the current key) reports it and starts none', async () => {
    const current = rememberKey();
    const env = new MockActivityEnvironment({ heartbeatDetails: { newKeyId: current, done: 3, total: 3 } });
    const r = (await env.run(createVaultKeyActivities({ vault: broker.vault }).vaultRewrap)) as VaultKeyRotationResult;
    expect(r).toMatchObject({ newKeyId: current, oldKeyIds: [], rewrapped: 0 });
    expect(r.skipped).toBeGreaterThanOrEqual(3);
    expect(keyIdOf(readKey())).toBe(current);
    expect(fs.existsSync(`${keyFile()}.next`)).toBe(false);
    expect(await runSecrets()).toEqual(VALUES);
  });
});
