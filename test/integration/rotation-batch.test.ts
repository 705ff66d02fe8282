/**
 * Azure Batch shared-key rotation end to end (Azure's documented key rotation procedure): real Temporal dev server, real worker and
 * vault, the real @azure/identity and @azure/arm-batch clients against the Azure fake over HTTPS,
 * and SharedKey-signed data-plane calls the fake checks with its own signer.
 */
import { randomBytes } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { buildApiServer } from '../../api/server';
import { CredentialRotations } from '../../services/rotations';
import { verifyBatchKey } from '../../remote/azure/batch-keys';
import { ConflictError, ValidationError } from '../../domain/errors';
import { rotationStatusQuery } from '../../workflows/rotation';
import type { RotationResult } from '../../domain/rotation';
import { AzureFake, type FakeBatchAccount } from '../harness/azure-fake';
import { eventually, startTestBroker, type TestBroker } from '../harness/broker';
import { createCrashAfter } from '../harness/crash-after';
import { currentDetails, historyText } from '../harness/history';
import { runCliCaptured } from '../harness/cli';
import { grant, harnessIdentity } from '../api/helpers';

const SUB = '3f2a7c9e-1b4d-4e8f-9a6c-5d7e8f9a0b1c';
const TENANT = '9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
const CLIENT_ID = '0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f';
const CLIENT_SECRET = `mgmt~${randomBytes(18).toString('base64url')}`;
const RG = 'rg-batch';

/** Crash injection: after the named activity's effect, the worker dies before reporting the result. */
const crash = createCrashAfter();

let fake: AzureFake;
let broker: TestBroker;
let rotations: CredentialRotations;
let workspaceId: string;
let mgmtId: string;
let seq = 0;

beforeAll(async () => {
  fake = await AzureFake.start();
  fake.addClient({ tenantId: TENANT, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
  broker = await startTestBroker({
    rotators: { azure: { authorityHost: fake.url, armEndpoint: fake.url, ca: fake.ca } },
    interceptors: crash.interceptors,
  });
  crash.restart = () => {
    void broker.stopWorker().then(() => broker.startWorker());
  };
  await broker.startWorker();
  workspaceId = (await broker.seed()).workspaceId;
  const mgmt = await broker.vault.createCredential({
    workspaceId,
    name: 'azure-mgmt',
    kind: 'azure-entra',
    fields: { subscriptionId: SUB, tenantId: TENANT, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, storageAccountName: 'mgmtstore' },
  });
  mgmtId = mgmt.id;
  rotations = new CredentialRotations(broker.client, broker.vault, broker.taskQueue);
}, 60_000);

afterAll(async () => {
  await broker?.stop();
  await fake?.stop();
});

beforeEach(() => crash.reset());

/** A Batch account and an azure-shared-key credential holding its Primary key. */
async function account(opts: { modes?: string[]; key?: 'primary' | 'secondary' } = {}): Promise<{ acct: FakeBatchAccount; credentialId: string }> {
  const name = `batch${process.pid % 1000}x${++seq}`;
  const acct = fake.addBatchAccount({ subscriptionId: SUB, resourceGroup: RG, name, ...(opts.modes ? { allowedAuthenticationModes: opts.modes } : {}) });
  const cred = await broker.vault.createCredential({
    workspaceId,
    name: `keys-${name}`,
    kind: 'azure-shared-key',
    fields: { batchAccountName: name, batchKey: opts.key === 'secondary' ? acct.secondary : acct.primary, storageAccountName: `st${name}`, storageKey: randomBytes(64).toString('base64') },
  });
  return { acct, credentialId: cred.id };
}

async function storedKey(credentialId: string): Promise<string> {
  return (await broker.vault.readCredential(credentialId)).secret.batchKey!;
}

async function works(acct: FakeBatchAccount, key: string): Promise<boolean> {
  try {
    await verifyBatchKey(fake.batchEndpoint(acct.name), acct.name, key, { ca: fake.ca });
    return true;
  } catch {
    return false;
  }
}

function request(credentialId: string, extra: Partial<Parameters<CredentialRotations['start']>[0]> = {}) {
  return { kind: 'azure-batch-key' as const, credentialId, managementCredentialId: mgmtId, resourceGroup: RG, graceMs: 500, ...extra };
}

/** Watches the stored key during a rotation: every read must verify on the data plane. */
function watchStoredKey(acct: FakeBatchAccount, credentialId: string): { stop(): Promise<{ checks: number; failures: number }> } {
  let running = true;
  let checks = 0;
  let failures = 0;
  const loop = (async () => {
    while (running) {
      if (!(await works(acct, await storedKey(credentialId)))) failures++;
      checks++;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { checks, failures };
    },
  };
}

describe('azure-batch-key rotation', () => {
  test('happy path: Primary in use → Secondary regenerated, stored, verified; grace; Primary regenerated; every step recorded', async () => {
    const { acct, credentialId } = await account();
    const oldPrimary = acct.primary;
    const oldSecondary = acct.secondary;
    const watch = watchStoredKey(acct, credentialId);
    const started = await rotations.start(request(credentialId));
    expect(started.workflowId).toBe(`credential-rotation-azure-batch-key:${SUB}:${RG}:${acct.name}`);
    const result = await rotations.wait(started.workflowId);
    const watched = await watch.stop();

    expect(result).toMatchObject({ outcome: 'rotated', from: 'Primary', to: 'Secondary', final: 'Secondary' });
    expect(result.steps.map((s) => s.step)).toEqual(['inspect', 'regenerate-spare', 'switch', 'verify', 'grace', 'retire-old']);
    // Both keys are new; the vault holds the new Secondary, which works; the old keys do not.
    expect(acct.primary).not.toBe(oldPrimary);
    expect(acct.secondary).not.toBe(oldSecondary);
    expect(await storedKey(credentialId)).toBe(acct.secondary);
    expect(await works(acct, acct.secondary)).toBe(true);
    expect(await works(acct, oldPrimary)).toBe(false);
    expect(await works(acct, oldSecondary)).toBe(false);
    // Exactly two regenerations, Secondary first.
    const regens = fake.callsOf('regenerateKeys').filter((c) => c.account === acct.name && c.status === 200).map((c) => c.detail);
    expect(regens).toEqual(['Secondary', 'Primary']);
    // The stored key worked at every moment of the rotation.
    expect(watched.checks).toBeGreaterThan(3);
    expect(watched.failures).toBe(0);

    const state = await rotations.state(started.workflowId);
    expect(state.execution).toBe('COMPLETED');
    expect(state.result?.final).toBe('Secondary');

    // No key, client secret or token in history (raw and decoded), worker logs, or what the Web UI
    // shows without opening payloads (summary, details, current details).
    const handle = broker.client.workflow.getHandle(started.workflowId);
    const history = await handle.fetchHistory();
    const desc = await handle.describe();
    const shown = [(await desc.staticSummary()) ?? '', (await desc.staticDetails()) ?? '', await currentDetails(handle)].join('\n');
    expect(shown).toContain(`rotation of ${started.label} (azure-batch-key)`);
    expect(shown).toContain('**Step** done  \n**Slots** Primary → Secondary  \n**Done** inspect, regenerate-spare, switch, verify, grace, retire-old');
    const texts = [await historyText(history), await historyText(history, broker.codec), broker.workerLogs(), shown];
    const secrets = [...fake.issuedKeys(), ...fake.issuedTokens(), CLIENT_SECRET];
    for (const t of texts) for (const s of secrets) expect(t).not.toContain(s);
    // Control: the history does name the account and the slots.
    expect(texts[1]).toContain(acct.name);
    expect(texts[1]).toContain('Secondary');
  });

  test('switch back (step 5 of Azure\'s key rotation procedure): ends on Primary with both keys new', async () => {
    const { acct, credentialId } = await account();
    const oldPrimary = acct.primary;
    const { workflowId } = await rotations.start(request(credentialId, { switchBack: true }));
    const result = await rotations.wait(workflowId);
    expect(result).toMatchObject({ from: 'Primary', to: 'Secondary', final: 'Primary' });
    expect(result.steps.map((s) => s.step)).toEqual(['inspect', 'regenerate-spare', 'switch', 'verify', 'grace', 'retire-old', 'switch-back', 'verify-back']);
    expect(await storedKey(credentialId)).toBe(acct.primary);
    expect(acct.primary).not.toBe(oldPrimary);
    expect(await works(acct, acct.primary)).toBe(true);
  });

  test('a credential on Secondary rotates the other way', async () => {
    const { acct, credentialId } = await account({ key: 'secondary' });
    const result = await rotations.wait((await rotations.start(request(credentialId))).workflowId);
    expect(result).toMatchObject({ from: 'Secondary', to: 'Primary', final: 'Primary' });
    expect(await storedKey(credentialId)).toBe(acct.primary);
  });

  test('both keys in use (another credential holds Secondary): refused before anything changes', async () => {
    const { acct, credentialId } = await account();
    await broker.vault.createCredential({
      workspaceId,
      name: `other-${acct.name}`,
      kind: 'azure-shared-key',
      fields: { batchAccountName: acct.name, batchKey: acct.secondary, storageAccountName: `so${acct.name}`, storageKey: randomBytes(64).toString('base64') },
    });
    const before = { primary: acct.primary, secondary: acct.secondary, stored: await storedKey(credentialId) };
    const { workflowId } = await rotations.start(request(credentialId));
    const err = await rotations.wait(workflowId).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as { type?: string; message: string };
    expect(cause.type).toBe('RotationRefusedError');
    expect(cause.message).toMatch(/both keys are in use/);
    expect(cause.message).toMatch(/Nothing was changed/);
    expect({ primary: acct.primary, secondary: acct.secondary, stored: await storedKey(credentialId) }).toEqual(before);
    expect(fake.callsOf('regenerateKeys').filter((c) => c.account === acct.name)).toHaveLength(0);
    const state = await rotations.state(workflowId);
    expect(state.execution).toBe('FAILED');
    expect(state.error).toMatch(/both keys are in use/);
  });

  test('another credential holding the same key: refused before anything changes (retiring it would break that one)', async () => {
    const { acct, credentialId } = await account();
    await broker.vault.createCredential({
      workspaceId,
      name: `twin-${acct.name}`,
      kind: 'azure-shared-key',
      fields: { batchAccountName: acct.name, batchKey: acct.primary, storageAccountName: `tw${acct.name}`, storageKey: randomBytes(64).toString('base64') },
    });
    const before = { primary: acct.primary, secondary: acct.secondary };
    const { workflowId } = await rotations.start(request(credentialId));
    await expect(rotations.wait(workflowId)).rejects.toMatchObject({ cause: { type: 'RotationRefusedError', message: expect.stringMatching(/hold the same key \(Primary\)/) } });
    expect({ primary: acct.primary, secondary: acct.secondary }).toEqual(before);
    expect(fake.callsOf('regenerateKeys').filter((c) => c.account === acct.name)).toHaveLength(0);
  });

  test('a verify the data plane refuses outright: the credential goes back to the old, still valid key, and nothing is retired', async () => {
    const { acct, credentialId } = await account();
    const oldPrimary = acct.primary;
    // The data plane answers the verify call with a 400 (non-retryable for the verify step).
    fake.failNext(1, { kinds: ['dataplane'], status: 400, code: 'InvalidHeaderValue' });
    const { workflowId } = await rotations.start(request(credentialId));
    await expect(rotations.wait(workflowId)).rejects.toMatchObject({ cause: { cause: { type: 'InvalidInputError' } } });
    expect(await storedKey(credentialId)).toBe(oldPrimary);
    expect(acct.primary).toBe(oldPrimary);
    expect(await works(acct, oldPrimary)).toBe(true);
    const regens = fake.callsOf('regenerateKeys').filter((c) => c.account === acct.name && c.status === 200).map((c) => c.detail);
    expect(regens).toEqual(['Secondary']);
    const state = await rotations.state(workflowId);
    expect(state.status?.steps.map((x) => x.step)).toEqual(['inspect', 'regenerate-spare', 'switch', 'switch-back']);
  });

  test('a stored key that matches neither key is refused, nothing changes', async () => {
    const { acct, credentialId } = await account();
    await broker.vault.replaceCredentialSecret(credentialId, { batchKey: randomBytes(64).toString('base64') });
    const { workflowId } = await rotations.start(request(credentialId));
    await expect(rotations.wait(workflowId)).rejects.toMatchObject({ cause: { type: 'RotationRefusedError', message: expect.stringMatching(/matches none of the account's current keys/) } });
    expect(fake.callsOf('regenerateKeys').filter((c) => c.account === acct.name)).toHaveLength(0);
  });

  test('shared-key authentication disabled: nothing to rotate, said so, no key call', async () => {
    const { acct, credentialId } = await account({ modes: ['AAD', 'TaskAuthenticationToken'] });
    const result: RotationResult = await rotations.wait((await rotations.start(request(credentialId))).workflowId);
    expect(result.outcome).toBe('nothing-to-rotate');
    expect(result.reason).toMatch(/does not allow shared-key authentication/);
    expect(fake.callsOf('listKeys').filter((c) => c.account === acct.name)).toHaveLength(0);
    expect(fake.callsOf('regenerateKeys').filter((c) => c.account === acct.name)).toHaveLength(0);
  });

  test('one rotation per account: a second start while one runs is a ConflictError', async () => {
    const { credentialId } = await account();
    const first = await rotations.start(request(credentialId, { graceMs: 3_000 }));
    await expect(rotations.start(request(credentialId))).rejects.toThrow(ConflictError);
    await expect(rotations.start(request(credentialId))).rejects.toThrow(/already running/);
    await rotations.wait(first.workflowId);
  });

  test('a launch that read the old key during the rotation keeps working through the grace period', async () => {
    const { acct, credentialId } = await account();
    const readBeforeSwitch = await storedKey(credentialId);
    const { workflowId } = await rotations.start(request(credentialId, { graceMs: 4_000 }));
    const handle = broker.client.workflow.getHandle(workflowId);
    await eventually(async () => (await handle.query(rotationStatusQuery)).step === 'grace', 'the rotation to reach its grace period', 20_000);
    // In the grace period: the key read before the switch and the one read now both work.
    const readDuringGrace = await storedKey(credentialId);
    expect(readDuringGrace).not.toBe(readBeforeSwitch);
    expect(await works(acct, readBeforeSwitch)).toBe(true);
    expect(await works(acct, readDuringGrace)).toBe(true);
    const status = await handle.query(rotationStatusQuery);
    expect(status.graceEndsAt).toBeGreaterThan(Date.now() - 1_000);
    await rotations.wait(workflowId);
    // After the grace: the old key is retired; the one the vault holds works.
    expect(await works(acct, readBeforeSwitch)).toBe(false);
    expect(await works(acct, readDuringGrace)).toBe(true);
  });

  test('bad requests name the field and start nothing', async () => {
    const { credentialId } = await account();
    await expect(rotations.start({ ...request(credentialId), kind: 'azure-nope' as never })).rejects.toThrow(ValidationError);
    await expect(rotations.start(request(credentialId, { resourceGroup: 'bad/group' }))).rejects.toMatchObject({ field: 'resourceGroup' });
    await expect(rotations.start(request(credentialId, { managementCredentialId: credentialId }))).rejects.toMatchObject({ field: 'managementCredentialId' });
    await expect(rotations.start(request(mgmtId))).rejects.toMatchObject({ field: 'credentialId' });
    await expect(rotations.start(request(credentialId, { graceMs: -1 }))).rejects.toMatchObject({ field: 'graceMs' });
    const { managementCredentialId: _omit, ...noMgmt } = request(credentialId);
    await expect(rotations.start(noMgmt)).rejects.toMatchObject({ field: 'managementCredentialId' });
  });
});

describe('a crash after each step resumes and ends with a working stored key', () => {
  test.each(['rotationInspect', 'rotationRegenerate', 'rotationStore', 'rotationVerify', 'rotationRetire'])(
    'worker dies after %s did its work, before reporting it',
    async (activityType) => {
      const { acct, credentialId } = await account();
      const watch = watchStoredKey(acct, credentialId);
      crash.crashAfter(activityType);
      const { workflowId } = await rotations.start(request(credentialId, { graceMs: 300 }));
      const result = await rotations.wait(workflowId);
      const watched = await watch.stop();
      expect(crash.fired()).toBe(true);
      expect(result).toMatchObject({ outcome: 'rotated', from: 'Primary', to: 'Secondary', final: 'Secondary' });
      expect(await storedKey(credentialId)).toBe(acct.secondary);
      expect(await works(acct, acct.secondary)).toBe(true);
      expect(watched.failures).toBe(0);
      // The activity ran again after the crash: the history shows the retry.
      const history = await broker.client.workflow.getHandle(workflowId).fetchHistory();
      const attempts = (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes && (e.activityTaskStartedEventAttributes.attempt ?? 1) > 1);
      expect(attempts.length).toBeGreaterThanOrEqual(1);
    },
    60_000,
  );

  test('the worker restarts in the grace period: the timer survives, the rotation completes', async () => {
    const { acct, credentialId } = await account();
    const { workflowId } = await rotations.start(request(credentialId, { graceMs: 3_000 }));
    const handle = broker.client.workflow.getHandle(workflowId);
    await eventually(async () => (await handle.query(rotationStatusQuery)).step === 'grace', 'the rotation to reach its grace period', 20_000);
    await broker.stopWorker();
    await broker.startWorker();
    const result = await rotations.wait(workflowId);
    expect(result.final).toBe('Secondary');
    expect(await storedKey(credentialId)).toBe(acct.secondary);
  });

  test('a lost regenerate answer (applied, never heard) is retried safely', async () => {
    const { acct, credentialId } = await account();
    fake.failNext(1, { kinds: ['regenerateKeys'], destroy: true, afterApply: true });
    const result = await rotations.wait((await rotations.start(request(credentialId))).workflowId);
    expect(result.final).toBe('Secondary');
    expect(await storedKey(credentialId)).toBe(acct.secondary);
    expect(await works(acct, acct.secondary)).toBe(true);
  });
});

/** The API over the broker's vault and rotations, listening on loopback for one describe block. */
function serveApi(): { url: string; workspace: string; token: string } {
  const served = { url: '', workspace: '', token: '' };
  let app: ReturnType<typeof buildApiServer> | undefined;
  beforeAll(async () => {
    app = buildApiServer({ vault: broker.vault, runs: broker.runs, rotations, logger: { info: () => undefined, warn: () => undefined, error: () => undefined } });
    served.url = await app.listen({ host: '127.0.0.1', port: 0 });
    served.workspace = (await broker.vault.getWorkspace(workspaceId)).name;
    // The caller: an admin of the workspace (credentials and their rotations are theirs).
    const admin = await harnessIdentity(broker.vault);
    await grant(broker.vault, workspaceId, admin.id, 'admin');
    served.token = admin.token;
  });
  afterAll(async () => {
    await app?.close();
  });
  return served;
}

describe('over HTTP: rotations and rotation schedules', () => {
  const served = serveApi();
  const base = () => served.url;
  const wsName = () => served.workspace;
  const call = async (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) => {
    const auth = { authorization: `Bearer ${served.token}` };
    const res = await fetch(`${base()}${url}`, {
      method,
      ...(payload === undefined ? { headers: auth } : { headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(payload) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
  const credName = async (credentialId: string) => (await broker.vault.getCredential(credentialId)).name;
  const body = { kind: 'azure-batch-key', managementCredential: 'azure-mgmt', resourceGroup: RG, grace: '1s' };

  test('POST .../rotations starts one (202); GET /v1/rotations/:id shows its steps', async () => {
    const { acct, credentialId } = await account();
    const started = await call('POST', `/v1/workspaces/${wsName()}/credentials/${await credName(credentialId)}/rotations`, body);
    expect(started.status).toBe(202);
    const id = String(started.body.workflowId);
    await rotations.wait(id);
    const state = await call('GET', `/v1/rotations/${encodeURIComponent(id)}`);
    expect(state.status).toBe(200);
    expect(state.body).toMatchObject({ execution: 'COMPLETED', result: { outcome: 'rotated', final: 'Secondary' } });
    expect(JSON.stringify(state.body)).not.toContain(acct.secondary);
    expect(await storedKey(credentialId)).toBe(acct.secondary);
  });

  test('bad requests: 400 naming the field, nothing started', async () => {
    const { credentialId } = await account();
    const url = `/v1/workspaces/${wsName()}/credentials/${await credName(credentialId)}/rotations`;
    const cases: [unknown, string][] = [
      [{ ...body, kind: 'azure-nope' }, 'kind'],
      [{ ...body, grace: '10 minutes' }, 'grace'],
      [{ ...body, grace: '8d' }, 'grace'],
      [{ ...body, extra: 1 }, 'extra'],
      [{ ...body, managementCredential: undefined }, 'managementCredential'],
      [{ ...body, resourceGroup: 'bad/group' }, 'resourceGroup'],
      [{ ...body, switchBack: 'yes' }, 'switchBack'],
    ];
    for (const [payload, field] of cases) {
      const res = await call('POST', url, payload);
      expect({ field, status: res.status, got: res.body.field }).toEqual({ field, status: 400, got: field });
    }
    expect((await call('POST', `/v1/workspaces/${wsName()}/credentials/no-such-cred/rotations`, body)).status).toBe(404);
    expect((await call('GET', '/v1/rotations/not-a-rotation')).status).toBe(400);
    expect((await call('GET', '/v1/rotations/credential-rotation-azure-batch-key:nope')).status).toBe(404);
  });

  test('schedule lifecycle: create (paused) → list → unpause/pause → trigger rotates → describe shows the run → delete', async () => {
    const { acct, credentialId } = await account();
    const name = await credName(credentialId);
    const url = `/v1/workspaces/${wsName()}/credentials/${name}/rotation-schedule`;
    const created = await call('POST', url, { ...body, every: '30d', paused: true, note: 'monthly' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ scheduleId: `rotate-${credentialId}`, credentialId, kind: 'azure-batch-key', paused: true, note: 'monthly', spec: 'every 30d' });
    expect((await call('POST', url, { ...body, every: '30d' })).status).toBe(409);

    const list = await call('GET', '/v1/rotation-schedules');
    expect((list.body.schedules as { scheduleId: string }[]).map((s) => s.scheduleId)).toContain(`rotate-${credentialId}`);

    expect((await call('POST', `${url}/unpause`, {})).status).toBe(202);
    expect((await call('GET', url)).body.paused).toBe(false);
    expect((await call('POST', `${url}/pause`, { note: 'change freeze' })).status).toBe(202);
    expect((await call('GET', url)).body).toMatchObject({ paused: true, note: 'change freeze' });

    // Trigger works while paused (an operator's explicit "now"): the scheduled firing rotates.
    expect((await call('POST', `${url}/trigger`, {})).status).toBe(202);
    await eventually(async () => (await storedKey(credentialId)) === acct.secondary, 'the triggered rotation to switch the stored key', 30_000);
    await eventually(async () => ((await call('GET', url)).body.recentRuns as unknown[]).length === 1, 'the schedule to record its run', 10_000);
    const run = ((await call('GET', url)).body.recentRuns as { workflowId: string }[])[0]!;
    const scheduled = await broker.client.workflow.getHandle(run.workflowId).result();
    expect(scheduled).toMatchObject({ outcome: 'rotated', result: { final: 'Secondary' } });

    expect((await call('DELETE', url)).status).toBe(204);
    expect((await call('GET', url)).status).toBe(404);
    expect((await call('DELETE', url)).status).toBe(404);
  });

  test('schedule refusals: interval under an hour, every and cron together, neither', async () => {
    const { credentialId } = await account();
    const url = `/v1/workspaces/${wsName()}/credentials/${await credName(credentialId)}/rotation-schedule`;
    expect(await call('POST', url, { ...body, every: '30m' })).toMatchObject({ status: 400, body: { field: 'every' } });
    expect(await call('POST', url, { ...body, every: '1d', cron: ['0 3 1 * *'] })).toMatchObject({ status: 400, body: { field: 'every' } });
    expect(await call('POST', url, { ...body })).toMatchObject({ status: 400, body: { field: 'every' } });
    expect(await call('POST', url, { ...body, cron: ['nonsense'] })).toMatchObject({ status: 400, body: { field: 'cron' } });
    expect((await call('GET', url)).status).toBe(404);
  });

  test('a scheduled firing while a manual rotation of the account runs skips and says so', async () => {
    const { credentialId } = await account();
    const url = `/v1/workspaces/${wsName()}/credentials/${await credName(credentialId)}/rotation-schedule`;
    expect((await call('POST', url, { ...body, every: '30d', paused: true })).status).toBe(201);
    const manual = await rotations.start(request(credentialId, { graceMs: 4_000 }));
    expect((await call('POST', `${url}/trigger`, {})).status).toBe(202);
    await eventually(async () => ((await call('GET', url)).body.recentRuns as unknown[]).length === 1, 'the schedule to fire', 10_000);
    const run = ((await call('GET', url)).body.recentRuns as { workflowId: string }[])[0]!;
    expect(await broker.client.workflow.getHandle(run.workflowId).result()).toMatchObject({ outcome: 'skipped-already-running', workflowId: manual.workflowId });
    await rotations.wait(manual.workflowId);
    expect((await call('DELETE', url)).status).toBe(204);
  });
});

describe('the CLI: rotations start --wait, schedules', () => {
  const served = serveApi();
  const cli = (args: string[]) => runCliCaptured(['--api', served.url, ...args], { BROKER_TOKEN: served.token });
  const target = (name: string) => [name, '--workspace', served.workspace, '--kind', 'azure-batch-key', '--management-credential', 'azure-mgmt', '--resource-group', RG];

  test('rotations start --wait prints each step and ends on the new slot; no key printed', async () => {
    const { acct, credentialId } = await account();
    const name = (await broker.vault.getCredential(credentialId)).name;
    const r = await cli(['rotations', 'start', ...target(name), '--grace', '1s', '--wait']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    for (const step of ['inspect', 'regenerate-spare', 'switch', 'verify', 'grace', 'retire-old']) expect(r.stdout).toContain(step);
    expect(r.stdout).toMatch(/now using:\s+Secondary/);
    for (const k of fake.issuedKeys()) expect(r.stdout).not.toContain(k);
    expect(await storedKey(credentialId)).toBe(acct.secondary);
  });

  test('a refused rotation exits 1 with the reason', async () => {
    const { acct, credentialId } = await account();
    await broker.vault.createCredential({
      workspaceId,
      name: `cli-other-${acct.name}`,
      kind: 'azure-shared-key',
      fields: { batchAccountName: acct.name, batchKey: acct.secondary, storageAccountName: `sc${acct.name}`, storageKey: randomBytes(64).toString('base64') },
    });
    const name = (await broker.vault.getCredential(credentialId)).name;
    const r = await cli(['rotations', 'start', ...target(name), '--wait']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ended FAILED: .*both keys are in use/);
  });

  test('schedules create → list → show → pause → delete; usage mistakes exit 2', async () => {
    const { credentialId } = await account();
    const name = (await broker.vault.getCredential(credentialId)).name;
    expect((await cli(['rotations', 'schedules', 'create', ...target(name)])).code).toBe(2);
    const created = await cli(['rotations', 'schedules', 'create', ...target(name), '--every', '30d', '--paused']);
    expect(created).toMatchObject({ code: 0 });
    expect(created.stdout).toMatch(/spec:\s+every 30d/);
    expect((await cli(['rotations', 'schedules', 'list'])).stdout).toContain(`rotate-${credentialId}`);
    expect((await cli(['rotations', 'schedules', 'unpause', name, '--workspace', served.workspace])).code).toBe(0);
    expect((await cli(['rotations', 'schedules', 'show', name, '--workspace', served.workspace])).stdout).toMatch(/paused:\s+no/);
    expect((await cli(['rotations', 'schedules', 'pause', name, '--workspace', served.workspace, '--note', 'freeze'])).code).toBe(0);
    expect((await cli(['rotations', 'schedules', 'show', name, '--workspace', served.workspace])).stdout).toMatch(/note:\s+freeze/);
    expect((await cli(['rotations', 'schedules', 'delete', name, '--workspace', served.workspace])).code).toBe(0);
    const gone = await cli(['rotations', 'schedules', 'show', name, '--workspace', served.workspace]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/not found/);
  });
});
