/**
 * The rotation workflow end to end for the kinds other than Batch (rotation-batch.test.ts covers
 * that one): a real Temporal dev server, worker and vault, CredentialRotations.start + wait, and each
 * rotator against its real peers:
 *
 *   azure-storage-key   the HTTPS Azure fake with its storage routes; Azurite, restarted with the
 *                       fake's current keys after every regenerate, so verify (and these tests) make
 *                       real SharedKey-signed Blob calls and a regenerated-away key is refused.
 *   acr-token-password  the Azure fake with its ACR routes and token service; docker-registry with
 *                       token auth as the login server, so verify is a real Registry v2 login.
 *   aws-access-key      moto (IAM, STS), behind a pass-through proxy that counts the calls.
 *
 * For every kind, no key, password or secret involved (collected from the fakes, moto's answers and
 * the vault) appears in the workflow history (raw or decoded) or in the worker's logs.
 */
import { randomBytes } from 'node:crypto';
import type { IAM } from '@aws-sdk/client-iam';
import { STS } from '@aws-sdk/client-sts';
import { CredentialRotations, type RotationRequest } from '../../services/rotations';
import { asPolicy } from '../../targets/aws/policies';
import { verifyStorageKey } from '../../remote/azure/storage-keys';
import { verifyRegistryCredential } from '../../remote/registry/login';
import type { RotationResult } from '../../domain/rotation';
import { AzureFake, type FakeCall } from '../harness/azure-fake';
import { AcrFake, type FakeAcrRegistry } from '../harness/azure-fake-acr';
import { useFakeStorage, type FakeStorage, type FakeStorageAccount } from '../harness/azure-fake-storage';
import { startAzurite, type AzuriteBlob } from '../harness/azurite';
import { startTestBroker, type TestBroker } from '../harness/broker';
import { createCrashAfter } from '../harness/crash-after';
import { leaks } from '../harness/credential-vault';
import { DockerRegistry } from '../harness/docker-registry';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy';
import { historyText } from '../harness/history';
import { adminIam, createUser, startMoto, uniqueName, type BrokerUser, type MotoServer } from '../harness/moto';

const SUB = '7c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f';
const TENANT = '2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901';
const CLIENT_ID = '4d5e6f70-8192-4a3b-8c4d-5e6f7a8b9c0d';
const CLIENT_SECRET = `kinds-mgmt~${randomBytes(18).toString('base64url')}`;
const RG = 'Rg-Kinds';
const REGISTRY = 'sbkindsreg01';

/** What a user needs to rotate its own keys (moto does not enforce it; real IAM does). */
const SELF_KEYS_POLICY = asPolicy({
  Effect: 'Allow',
  Action: ['iam:GetUser', 'iam:ListAccessKeys', 'iam:CreateAccessKey', 'iam:UpdateAccessKey', 'iam:DeleteAccessKey'],
  Resource: 'arn:aws:iam::*:user/${aws:username}',
});

const crash = createCrashAfter();
let fake: AzureFake;
let storage: FakeStorage;
let azurite: AzuriteBlob;
const storageAccounts: FakeStorageAccount[] = [];
let acr: AcrFake;
let login: DockerRegistry;
let registry: FakeAcrRegistry;
let moto: MotoServer;
let awsProxy: FaultProxy;
let iam: IAM;
let broker: TestBroker;
let rotations: CredentialRotations;
let workspaceId: string;
let mgmtId: string;
let seq = 0;

/** Azurite learns exactly the fake's current keys (it reads them only when it starts). */
async function syncAzurite(): Promise<void> {
  await azurite.restart(storageAccounts.map((a) => ({ name: a.name, key1: a.key1, key2: a.key2 })));
}

beforeAll(async () => {
  fake = await AzureFake.start();
  fake.addClient({ tenantId: TENANT, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
  storage = useFakeStorage(fake);
  storageAccounts.push(storage.addAccount({ subscriptionId: SUB, resourceGroup: RG, name: `kindsidle${process.pid % 1000}` }));
  acr = AcrFake.install(fake);
  [azurite, login, moto] = await Promise.all([
    startAzurite(storageAccounts.map((a) => ({ name: a.name, key1: a.key1, key2: a.key2 }))),
    DockerRegistry.start({ tls: true, token: acr.tokenAuth(REGISTRY, `${REGISTRY}.azurecr.io`) }),
    startMoto(),
  ]);
  storage.onKeysChanged(syncAzurite);
  registry = acr.addRegistry({ subscriptionId: SUB, resourceGroup: RG, name: REGISTRY, loginServer: login.host });
  awsProxy = await startFaultProxy({ target: moto.endpoint, share: 0, eligible: () => false });
  iam = adminIam(moto.endpoint);
  broker = await startTestBroker({
    rotators: {
      // One CA bundle for the fake's Entra, ARM and token service and the registry's TLS.
      azure: { authorityHost: fake.authorityHost, armEndpoint: fake.url, ca: `${fake.ca}\n${login.ca!}`, blobEndpoint: azurite.endpointTemplate },
      aws: { endpoint: awsProxy.endpoint },
    },
    interceptors: crash.interceptors,
  });
  crash.restart = () => {
    void broker.stopWorker().then(() => broker.startWorker());
  };
  workspaceId = (await broker.seed()).workspaceId;
  mgmtId = (
    await broker.vault.createCredential({
      workspaceId,
      name: 'azure-mgmt',
      kind: 'azure-entra',
      fields: { subscriptionId: SUB, tenantId: TENANT, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, storageAccountName: 'mgmtstore' },
    })
  ).id;
  rotations = new CredentialRotations(broker.client, broker.vault, broker.taskQueue);
}, 180_000);

afterAll(async () => {
  await broker?.stop();
  iam?.destroy();
  await awsProxy?.stop();
  await Promise.all([moto?.stop(), login?.close(), azurite?.stop()]);
  await fake?.stop();
});

beforeEach(() => crash.reset());

// ---- shared fixtures -------------------------------------------------------------------------

async function rotate(req: RotationRequest): Promise<{ workflowId: string; result: RotationResult }> {
  const { workflowId } = await rotations.start(req);
  return { workflowId, result: await rotations.wait(workflowId) };
}

const stepsOf = (r: RotationResult) => r.steps.map((s) => s.step);
const ROTATED_STEPS = ['inspect', 'regenerate-spare', 'switch', 'verify', 'grace', 'retire-old'];

async function secretOf(credentialId: string, field: string): Promise<string> {
  return (await broker.vault.readCredential(credentialId)).secret[field] ?? '';
}

/**
 * None of `secrets` (whole, or any 12-character stretch) in the rotation's history, raw and decoded,
 * or in the worker's logs; and the controls do appear, so the search looks at the right texts.
 * Random values only: a JWT's header and claims are public (base64 of the token name, the
 * registry ...), so JWTs are searched by their signatures (jwtSignatures).
 */
async function expectNoSecrets(workflowId: string, secrets: string[], controls: { decoded: string[]; logs: string[] }): Promise<void> {
  const history = await broker.client.workflow.getHandle(workflowId).fetchHistory();
  const texts = { raw: await historyText(history), decoded: await historyText(history, broker.codec), logs: broker.workerLogs() };
  const values = [...new Set(secrets.filter((s) => s.length >= 12))];
  expect(values.length).toBeGreaterThanOrEqual(2);
  for (const [where, text] of Object.entries(texts)) {
    const found = values.map((v, i) => (leaks(text, [v]) ? `${where}: secret #${i}` : '')).filter(Boolean);
    expect(found).toEqual([]);
  }
  // Controls: the raw history has its plain event fields, its payloads are encrypted (a value the
  // decoded one holds as JSON is not there in clear), the decoded one names the account and slots,
  // and the worker logged the steps.
  expect(texts.raw).toContain('rotateCredential');
  for (const c of controls.decoded) {
    expect(texts.decoded).toContain(c);
    expect(texts.raw).not.toContain(`"${c}"`);
  }
  for (const c of controls.logs) expect(texts.logs).toContain(c);
}

/** Azure calls of one kind and account made since `from` (an index into fake.calls). */
function callsSince(from: number, kind: string, account: string): FakeCall[] {
  return fake.calls.slice(from).filter((c) => c.kind === kind && c.account?.toLowerCase() === account.toLowerCase());
}

/** A JWT's signature: the part of it nothing public shares. Other tokens as they are. */
const jwtSignatures = (tokens: string[]) => tokens.map((t) => (/^[\w-]+\.[\w-]+\.[\w-]+$/.test(t) ? t.split('.')[2]! : t));

const azureSecrets = () => [...jwtSignatures(fake.issuedTokens()), CLIENT_SECRET];

// ---- azure-storage-key -----------------------------------------------------------------------

async function storageAccount(opts: { allowSharedKeyAccess?: boolean } = {}): Promise<{ acct: FakeStorageAccount; credentialId: string }> {
  const name = `kinds${process.pid % 1000}s${++seq}`;
  const acct = storage.addAccount({ subscriptionId: SUB, resourceGroup: RG, name, ...opts });
  storageAccounts.push(acct);
  await syncAzurite();
  const cred = await broker.vault.createCredential({ workspaceId, name: `storage-${name}`, kind: 'azure-shared-key', fields: { storageAccountName: name, storageKey: acct.key1 } });
  return { acct, credentialId: cred.id };
}

function storageRequest(credentialId: string, extra: Partial<RotationRequest> = {}): RotationRequest {
  return { kind: 'azure-storage-key', credentialId, managementCredentialId: mgmtId, resourceGroup: RG, graceMs: 500, ...extra };
}

/** A real SharedKey-signed Blob call to Azurite with `key`. */
async function storageWorks(acct: FakeStorageAccount, key: string): Promise<boolean> {
  return verifyStorageKey(azurite.endpoint(acct.name), acct.name, key).then(
    () => true,
    () => false,
  );
}

describe('azure-storage-key through the workflow (Azure fake + Azurite)', () => {
  test('key1 in use → key2 regenerated, stored, verified; old key1 works in the grace period and is refused after', async () => {
    const { acct, credentialId } = await storageAccount();
    const old = { key1: acct.key1, key2: acct.key2 };
    const mark = fake.calls.length;
    // After verify, before the grace period ends: the stored (new) key and the old one both work.
    let duringGrace: Record<string, boolean> | undefined;
    crash.afterEffect('rotationVerify', async () => {
      const stored = await secretOf(credentialId, 'storageKey');
      duringGrace = { storedIsNewKey2: stored === acct.key2, stored: await storageWorks(acct, stored), oldKey1: await storageWorks(acct, old.key1) };
    });

    const started = await rotations.start(storageRequest(credentialId));
    expect(started.workflowId).toBe(`credential-rotation-azure-storage-key:${SUB}:${RG.toLowerCase()}:${acct.name}`);
    const result = await rotations.wait(started.workflowId);

    expect(result).toMatchObject({ outcome: 'rotated', from: 'key1', to: 'key2', final: 'key2' });
    expect(stepsOf(result)).toEqual(ROTATED_STEPS);
    expect(duringGrace).toEqual({ storedIsNewKey2: true, stored: true, oldKey1: true });
    // Both keys are new; the vault holds the new key2, which Azurite accepts; the old ones are refused.
    expect(acct.key1).not.toBe(old.key1);
    expect(acct.key2).not.toBe(old.key2);
    expect(await secretOf(credentialId, 'storageKey')).toBe(acct.key2);
    expect(await storageWorks(acct, acct.key2)).toBe(true);
    expect(await storageWorks(acct, old.key1)).toBe(false);
    expect(await storageWorks(acct, old.key2)).toBe(false);
    // Exactly two regenerations, the spare first.
    expect(callsSince(mark, 'storageRegenerateKey', acct.name).filter((c) => c.status === 200).map((c) => c.detail)).toEqual(['key2', 'key1']);

    await expectNoSecrets(started.workflowId, [...fake.issuedKeys(), ...azureSecrets()], { decoded: [acct.name, 'key2'], logs: [acct.name, 'rotation step done'] });
  });

  test('switchBack: ends on key1 again, both keys new, the stored key1 works', async () => {
    const { acct, credentialId } = await storageAccount();
    const old = { key1: acct.key1, key2: acct.key2 };
    const { result } = await rotate(storageRequest(credentialId, { switchBack: true }));
    expect(result).toMatchObject({ outcome: 'rotated', from: 'key1', to: 'key2', final: 'key1' });
    expect(stepsOf(result)).toEqual([...ROTATED_STEPS, 'switch-back', 'verify-back']);
    expect(acct.key1).not.toBe(old.key1);
    expect(acct.key2).not.toBe(old.key2);
    expect(await secretOf(credentialId, 'storageKey')).toBe(acct.key1);
    expect(await storageWorks(acct, acct.key1)).toBe(true);
    expect(await storageWorks(acct, old.key1)).toBe(false);
    expect(await storageWorks(acct, old.key2)).toBe(false);
  });

  test('allowSharedKeyAccess false: nothing to rotate, said so; no key read or regenerated, the vault unchanged', async () => {
    const { acct, credentialId } = await storageAccount({ allowSharedKeyAccess: false });
    const before = await secretOf(credentialId, 'storageKey');
    const mark = fake.calls.length;
    const { result } = await rotate(storageRequest(credentialId));
    expect(result.outcome).toBe('nothing-to-rotate');
    expect(result.reason).toMatch(/allowSharedKeyAccess is false/);
    expect(result.reason).toContain(acct.name);
    expect(stepsOf(result)).toEqual(['inspect']);
    expect(callsSince(mark, 'storageAccount', acct.name).length).toBeGreaterThan(0);
    expect(callsSince(mark, 'storageListKeys', acct.name)).toHaveLength(0);
    expect(callsSince(mark, 'storageRegenerateKey', acct.name)).toHaveLength(0);
    expect(await secretOf(credentialId, 'storageKey')).toBe(before);
  });
});

// ---- acr-token-password ----------------------------------------------------------------------

async function acrToken(): Promise<{ tokenName: string; credentialId: string; password1: string; password2: string }> {
  const tokenName = `kinds-pull-${++seq}`;
  const token = acr.addToken(registry, tokenName);
  const password1 = token.passwords.password1!.value;
  const cred = await broker.vault.createCredential({
    workspaceId,
    name: `acr-${tokenName}`,
    kind: 'container-registry',
    fields: { userName: tokenName, password: password1, registryServer: login.host, tokenPasswordSlot: 'password1' },
  });
  return { tokenName, credentialId: cred.id, password1, password2: token.passwords.password2!.value };
}

function acrRequest(credentialId: string, tokenName: string, extra: Partial<RotationRequest> = {}): RotationRequest {
  return { kind: 'acr-token-password', credentialId, managementCredentialId: mgmtId, resourceGroup: RG, registryName: REGISTRY, tokenName, graceMs: 500, ...extra };
}

/** A real registry v2 login (Bearer challenge, Basic to the fake's token service, Bearer to /v2/). */
async function registryLogin(userName: string, password: string): Promise<boolean> {
  return verifyRegistryCredential(login.host, userName, password, { ca: `${fake.ca}\n${login.ca!}` }).then(
    () => true,
    () => false,
  );
}

async function storedAcr(credentialId: string): Promise<{ password: string; slot: unknown }> {
  const c = await broker.vault.readCredential(credentialId);
  return { password: c.secret.password ?? '', slot: c.public.tokenPasswordSlot };
}

describe('acr-token-password through the workflow (Azure fake ACR + docker-registry login)', () => {
  test('password1 in use → password2 generated and stored at once; the old password logs in during the grace period, refused after', async () => {
    const { tokenName, credentialId, password1, password2 } = await acrToken();
    expect(await registryLogin(tokenName, password1)).toBe(true);
    const mark = fake.calls.length;
    let duringGrace: Record<string, unknown> | undefined;
    crash.afterEffect('rotationVerify', async () => {
      const s = await storedAcr(credentialId);
      duringGrace = { slot: s.slot, storedIsNew: s.password !== password1 && s.password !== password2, stored: await registryLogin(tokenName, s.password), old: await registryLogin(tokenName, password1) };
    });

    const started = await rotations.start(acrRequest(credentialId, tokenName));
    expect(started.workflowId).toBe(`credential-rotation-acr-token-password:${SUB}:${RG.toLowerCase()}:${REGISTRY}:${tokenName}`);
    const result = await rotations.wait(started.workflowId);

    expect(result).toMatchObject({ outcome: 'rotated', from: 'password1', to: 'password2', final: 'password2' });
    expect(stepsOf(result)).toEqual(ROTATED_STEPS);
    expect(duringGrace).toEqual({ slot: 'password2', storedIsNew: true, stored: true, old: true });
    const after = await storedAcr(credentialId);
    expect(after.slot).toBe('password2');
    expect(after.password).toBe(registry.tokens.get(tokenName)!.passwords.password2!.value);
    expect(await registryLogin(tokenName, after.password)).toBe(true);
    expect(await registryLogin(tokenName, password1)).toBe(false);
    expect(await registryLogin(tokenName, password2)).toBe(false);
    // Two generations, the spare first; the one in the old slot was thrown away.
    expect(callsSince(mark, 'generateCredentials', REGISTRY).filter((c) => c.status === 200).map((c) => c.detail)).toEqual(['password2', 'password1']);
    expect(registry.tokens.get(tokenName)!.passwords.password1!.value).not.toBe(password1);

    await expectNoSecrets(started.workflowId, [...acr.issuedPasswords(), ...jwtSignatures(acr.issuedJwts()), ...azureSecrets()], {
      decoded: [tokenName, 'password2'],
      logs: [tokenName, 'rotation step done'],
    });
  });

  test('switchBack is refused (slots are not fixed: the old password is never readable again); nothing starts', async () => {
    const { tokenName, credentialId, password1 } = await acrToken();
    const mark = fake.calls.length;
    await expect(rotations.start(acrRequest(credentialId, tokenName, { switchBack: true }))).rejects.toMatchObject({ field: 'switchBack' });
    expect(callsSince(mark, 'generateCredentials', REGISTRY)).toHaveLength(0);
    expect((await storedAcr(credentialId)).slot).toBe('password1');
    expect(await registryLogin(tokenName, password1)).toBe(true);
  });

  test('the worker dies after rotationRegenerate stored the new password: the retry does not generate again', async () => {
    const { tokenName, credentialId, password1 } = await acrToken();
    const mark = fake.calls.length;
    crash.crashAfter('rotationRegenerate');
    const { result } = await rotate(acrRequest(credentialId, tokenName, { graceMs: 300 }));
    expect(crash.fired()).toBe(true);
    expect(result).toMatchObject({ outcome: 'rotated', from: 'password1', to: 'password2', final: 'password2' });
    // One generation per slot: a second one of password2 would have made the stored password stale.
    expect(callsSince(mark, 'generateCredentials', REGISTRY).filter((c) => c.status === 200).map((c) => c.detail)).toEqual(['password2', 'password1']);
    const after = await storedAcr(credentialId);
    expect(after).toEqual({ password: registry.tokens.get(tokenName)!.passwords.password2!.value, slot: 'password2' });
    expect(await registryLogin(tokenName, after.password)).toBe(true);
    expect(await registryLogin(tokenName, password1)).toBe(false);
  });
});

// ---- aws-access-key --------------------------------------------------------------------------

async function awsUser(): Promise<{ user: BrokerUser; credentialId: string }> {
  const user = await createUser(iam, uniqueName('kinds'), { inline: { 'own-access-keys': SELF_KEYS_POLICY } });
  const cred = await broker.vault.createCredential({ workspaceId, name: uniqueName('aws'), kind: 'aws', fields: { accessKeyId: user.accessKeyId, secretAccessKey: user.secretAccessKey } });
  return { user, credentialId: cred.id };
}

async function keyIds(user: BrokerUser): Promise<string[]> {
  const out = await iam.listAccessKeys({ UserName: user.name });
  return (out.AccessKeyMetadata ?? []).map((k) => k.AccessKeyId!).sort();
}

async function storedAws(credentialId: string): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  const c = await broker.vault.readCredential(credentialId);
  return { accessKeyId: String(c.public.accessKeyId), secretAccessKey: c.secret.secretAccessKey ?? '' };
}

/**
 * The ARN STS names for a key pair. moto answers an unknown key with a default identity instead of
 * refusing it, so "a key works" is: STS names the user for it (and ListAccessKeys lists it).
 */
async function callerArn(accessKeyId: string, secretAccessKey: string): Promise<string> {
  const sts = new STS({ region: 'us-east-1', endpoint: moto.endpoint, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
  try {
    return (await sts.getCallerIdentity({})).Arn ?? '';
  } finally {
    sts.destroy();
  }
}

/** CreateAccessKey calls the rotators made (all of them go through the counting proxy). */
const createKeyCalls = () => awsProxy.stats().byOperation['iam:CreateAccessKey']?.forwarded ?? 0;

describe('aws-access-key through the workflow (moto)', () => {
  test('a new key is created and stored at once, verified; the old one works during the grace period and is deleted after', async () => {
    const { user, credentialId } = await awsUser();
    const k0 = user.accessKeyId;
    const creates = createKeyCalls();
    let duringGrace: Record<string, unknown> | undefined;
    crash.afterEffect('rotationVerify', async () => {
      const s = await storedAws(credentialId);
      duringGrace = { keys: await keyIds(user), stored: s.accessKeyId, storedWorks: (await callerArn(s.accessKeyId, s.secretAccessKey)) === user.arn, oldWorks: (await callerArn(k0, user.secretAccessKey)) === user.arn };
    });

    const started = await rotations.start({ kind: 'aws-access-key', credentialId, graceMs: 500 });
    expect(started.workflowId).toBe(`credential-rotation-aws-access-key:${credentialId}`);
    const result = await rotations.wait(started.workflowId);

    expect(result).toMatchObject({ outcome: 'rotated', from: k0, final: result.to });
    expect(result.to).toMatch(/^AKIA[A-Z0-9]{16}$/);
    expect(result.to).not.toBe(k0);
    expect(stepsOf(result)).toEqual(ROTATED_STEPS);
    const k1 = result.to!;
    expect(duringGrace).toEqual({ keys: [k0, k1].sort(), stored: k1, storedWorks: true, oldWorks: true });
    const stored = await storedAws(credentialId);
    expect(stored.accessKeyId).toBe(k1);
    expect(stored.secretAccessKey).not.toBe(user.secretAccessKey);
    expect(await keyIds(user)).toEqual([k1]);
    expect(await callerArn(k1, stored.secretAccessKey)).toBe(user.arn);
    expect(await callerArn(k0, user.secretAccessKey)).not.toBe(user.arn);
    expect(createKeyCalls() - creates).toBe(1);

    await expectNoSecrets(started.workflowId, [user.secretAccessKey, stored.secretAccessKey], { decoded: [credentialId, k1], logs: [credentialId, 'rotation step done'] });
  });

  test('the worker dies after rotationRegenerate did its work: the retry keeps the stored key, one working key at the end, at most two ever', async () => {
    const { user, credentialId } = await awsUser();
    const k0 = user.accessKeyId;
    const creates = createKeyCalls();
    crash.crashAfter('rotationRegenerate');
    const { workflowId, result } = await rotate({ kind: 'aws-access-key', credentialId, graceMs: 300 });
    expect(crash.fired()).toBe(true);

    expect(result).toMatchObject({ outcome: 'rotated', from: k0, final: result.to });
    const stored = await storedAws(credentialId);
    expect(stored.accessKeyId).toBe(result.to);
    // Exactly one key left, the stored one, and it works; the old one is gone.
    expect(await keyIds(user)).toEqual([stored.accessKeyId]);
    expect(await callerArn(stored.accessKeyId, stored.secretAccessKey)).toBe(user.arn);
    expect(await callerArn(k0, user.secretAccessKey)).not.toBe(user.arn);
    // The retried regenerate found its work done and created no second key: two keys ever.
    expect(createKeyCalls() - creates).toBe(1);
    // The regenerate did run again after the crash.
    expect(await retried(workflowId, 'rotationRegenerate')).toBe(true);

    await expectNoSecrets(workflowId, [user.secretAccessKey, stored.secretAccessKey], { decoded: [credentialId, stored.accessKeyId], logs: [credentialId] });
  });
});

// ---- every kind: a crash after each step -----------------------------------------------------

/** The activity types of a rotation's steps, in order. */
const STEP_ACTIVITIES = ['rotationInspect', 'rotationRegenerate', 'rotationStore', 'rotationVerify', 'rotationRetire'];

/** True when `activityType` ran again after the crash (attempt > 1 in the history). */
async function retried(workflowId: string, activityType: string): Promise<boolean> {
  const history = await broker.client.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = new Map<string, string>();
  for (const e of history.events ?? []) {
    const a = e.activityTaskScheduledEventAttributes;
    if (a) scheduled.set(String(e.eventId), a.activityType?.name ?? '');
  }
  return (history.events ?? []).some(
    (e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1 && scheduled.get(String(e.activityTaskStartedEventAttributes!.scheduledEventId)) === activityType,
  );
}

describe('a crash after each step, every kind: the step runs again and the rotation ends with a working stored key', () => {
  test.each(STEP_ACTIVITIES)('azure-storage-key: the worker dies after %s', async (step) => {
    const { acct, credentialId } = await storageAccount();
    const old = acct.key1;
    crash.crashAfter(step);
    const { workflowId, result } = await rotate(storageRequest(credentialId, { graceMs: 300 }));
    expect(crash.fired()).toBe(true);
    expect(await retried(workflowId, step)).toBe(true);
    expect(result).toMatchObject({ outcome: 'rotated', from: 'key1', to: 'key2', final: 'key2' });
    const stored = await secretOf(credentialId, 'storageKey');
    expect(stored).toBe(acct.key2);
    expect(await storageWorks(acct, stored)).toBe(true);
    expect(await storageWorks(acct, old)).toBe(false);
  });

  test.each(STEP_ACTIVITIES.filter((s) => s !== 'rotationRegenerate'))('acr-token-password: the worker dies after %s', async (step) => {
    const { tokenName, credentialId, password1 } = await acrToken();
    crash.crashAfter(step);
    const { workflowId, result } = await rotate(acrRequest(credentialId, tokenName, { graceMs: 300 }));
    expect(crash.fired()).toBe(true);
    expect(await retried(workflowId, step)).toBe(true);
    expect(result).toMatchObject({ outcome: 'rotated', from: 'password1', to: 'password2', final: 'password2' });
    const after = await storedAcr(credentialId);
    expect(after.slot).toBe('password2');
    expect(await registryLogin(tokenName, after.password)).toBe(true);
    expect(await registryLogin(tokenName, password1)).toBe(false);
  });

  test.each(STEP_ACTIVITIES.filter((s) => s !== 'rotationRegenerate'))('aws-access-key: the worker dies after %s', async (step) => {
    const { user, credentialId } = await awsUser();
    const k0 = user.accessKeyId;
    crash.crashAfter(step);
    const { workflowId, result } = await rotate({ kind: 'aws-access-key', credentialId, graceMs: 300 });
    expect(crash.fired()).toBe(true);
    expect(await retried(workflowId, step)).toBe(true);
    expect(result).toMatchObject({ outcome: 'rotated', from: k0, final: result.to });
    const stored = await storedAws(credentialId);
    expect(stored.accessKeyId).toBe(result.to);
    expect(await keyIds(user)).toEqual([stored.accessKeyId]);
    expect(await callerArn(stored.accessKeyId, stored.secretAccessKey)).toBe(user.arn);
  });
});
