/**
 * The azure-storage-key rotator (rotators/azure-storage.ts) driven through its whole
 * two-slot contract with the real @azure/identity and @azure/arm-storage clients against the HTTPS
 * Azure fake (storage routes from test/harness/azure-fake-storage.ts), a real vault on a temporary
 * PGlite directory, and Azurite's Blob service proving keys with real SharedKey-signed calls. Every
 * regenerate in the fake restarts Azurite with the account's current keys, so a regenerated-away key
 * is refused there like in Azure.
 */
import { AzureLogger, setLogLevel } from '@azure/logger';
import { blobEndpointFor, verifyStorageKey, sanitizeStorageError, type StorageAccountRef } from '../../remote/azure/storage-keys';
import { createRotator, rotationKind } from '../../rotators';

/** The kind as the services describe it, and its rotator as the worker builds it. */
const azureStorageRotation = { ...rotationKind('azure-storage-key'), create: createRotator };
import type { RotatorDeps, TwoSlotRotator } from '../../rotators/types';
import { ValidationError, AuthenticationFailedError, ConnectionError, InvalidInputError, RotationRefusedError } from '../../domain/errors';
import type { VaultApi } from '../../store/types';
import type { RotationTarget } from '../../domain/rotation';
import { AzureFake } from '../harness/azure-fake';
import { useFakeStorage, type FakeStorage, type FakeStorageAccount } from '../harness/azure-fake-storage';
import { startAzurite, type AzuriteBlob } from '../harness/azurite';
import { leaks, useCredentialVault } from '../harness/credential-vault';
import { rejectionCatcher } from '../harness/caught';

const TENANT = '11111111-2222-3333-4444-555555555555';
const CLIENT_ID = '66666666-7777-8888-9999-000000000000';
const CLIENT_SECRET = 'fake-client-secret~0123456789abcdefABCDEF';
const SUB = '0b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const RG = 'nf-rg';

let fake: AzureFake;
let storage: FakeStorage;
let azurite: AzuriteBlob;
const accounts: FakeStorageAccount[] = [];
const errors: unknown[] = [];
const logLines: string[] = [];
const originalLog = AzureLogger.log;
const env = useCredentialVault('storagerot');

/** Azurite learns exactly the fake's current keys (it reads them only at start). */
async function syncAzurite(): Promise<void> {
  await azurite.restart(accounts.map((a) => ({ name: a.name, key1: a.key1, key2: a.key2 })));
}

beforeAll(async () => {
  fake = await AzureFake.start();
  fake.addClient({ tenantId: TENANT, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
  storage = useFakeStorage(fake);
  for (const name of ['rotstore', 'sharedstore', 'lostanswer', 'busystore', 'legacystore', 'stalestore']) {
    accounts.push(storage.addAccount({ subscriptionId: SUB, resourceGroup: RG, name, ...(name === 'legacystore' ? { allowSharedKeyAccess: null } : {}) }));
  }
  accounts.push(storage.addAccount({ subscriptionId: SUB, resourceGroup: RG, name: 'nokeystore', allowSharedKeyAccess: false }));
  azurite = await startAzurite(accounts.map((a) => ({ name: a.name, key1: a.key1, key2: a.key2 })));
  storage.onKeysChanged(syncAzurite);
  setLogLevel('verbose');
  AzureLogger.log = (...args: unknown[]) => {
    logLines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
  };
}, 120_000);

afterAll(async () => {
  setLogLevel();
  AzureLogger.log = originalLog;
  await azurite?.stop();
  await fake?.stop();
});

function deps(vault: VaultApi = env.vault): RotatorDeps {
  return { vault, azure: { authorityHost: fake.authorityHost, armEndpoint: fake.url, ca: fake.ca, blobEndpoint: azurite.endpointTemplate } };
}

async function management(storageAccountName = 'rotstore'): Promise<string> {
  const m = await env.vault.createCredential({
    workspaceId: env.workspaceId,
    name: 'azure-mgmt',
    kind: 'azure-entra',
    fields: { subscriptionId: SUB, tenantId: TENANT, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, storageAccountName },
  });
  return m.id;
}

async function sharedKey(name: string, storageAccountName: string, storageKey: string, workspaceId = env.workspaceId): Promise<string> {
  const m = await env.vault.createCredential({ workspaceId, name, kind: 'azure-shared-key', fields: { storageAccountName, storageKey } });
  return m.id;
}

async function setup(acct: FakeStorageAccount, storedKey = acct.key1): Promise<{ target: RotationTarget; credentialId: string; rotator: TwoSlotRotator }> {
  const managementCredentialId = await management(acct.name);
  const credentialId = await sharedKey(`${acct.name}-key`, acct.name, storedKey);
  const target: RotationTarget = { kind: 'azure-storage-key', credentialId, managementCredentialId, resourceGroup: RG };
  return { target, credentialId, rotator: await azureStorageRotation.create(target, deps()) };
}

async function storedKey(credentialId: string): Promise<string> {
  return (await env.vault.readCredential(credentialId)).secret.storageKey ?? '';
}

const caught = rejectionCatcher(errors);

const works = (acct: FakeStorageAccount | string, key: string) => verifyStorageKey(azurite.endpoint(typeof acct === 'string' ? acct : acct.name), typeof acct === 'string' ? acct : acct.name, key);
const callsOf = (name: string, kind: string) => fake.calls.filter((c) => c.account === name && c.kind === kind);

describe('describe: target checks before anything starts', () => {
  test('a storage-only azure-shared-key credential: the account id and label', async () => {
    const target: RotationTarget = { kind: 'azure-storage-key', credentialId: await sharedKey('k', 'rotstore', accounts[0]!.key1), managementCredentialId: await management(), resourceGroup: 'NF-RG' };
    await expect(azureStorageRotation.describe(target, env.vault)).resolves.toEqual({
      account: `azure-storage-key:${SUB}:nf-rg:rotstore`,
      label: `Storage account rotstore (resource group NF-RG, subscription ${SUB})`,
    });
    expect(azureStorageRotation.kind).toBe('azure-storage-key');
  });

  test('a credential with a Batch pair too rotates its storage key', async () => {
    const { id } = await env.vault.createCredential({
      workspaceId: env.workspaceId,
      name: 'both',
      kind: 'azure-shared-key',
      fields: { batchAccountName: 'somebatch', batchKey: fake.generateKey(), storageAccountName: 'rotstore', storageKey: accounts[0]!.key1 },
    });
    const target: RotationTarget = { kind: 'azure-storage-key', credentialId: id, managementCredentialId: await management(), resourceGroup: RG };
    await expect(azureStorageRotation.describe(target, env.vault)).resolves.toMatchObject({ account: `azure-storage-key:${SUB}:nf-rg:rotstore` });
  });

  const bad: Array<{ reason: string; field: string; rule: RegExp; target: (ids: { key: string; mgmt: string }) => Partial<RotationTarget> }> = [
    { reason: 'missing resourceGroup', field: 'resourceGroup', rule: /is required/, target: () => ({ resourceGroup: undefined }) },
    { reason: 'resourceGroup ending in a period', field: 'resourceGroup', rule: /not ending in a period/, target: () => ({ resourceGroup: 'rg.' }) },
    { reason: 'missing credentialId', field: 'credentialId', rule: /is required/, target: () => ({ credentialId: '' }) },
    { reason: 'rotated credential of the wrong kind', field: 'credentialId', rule: /must be a azure-shared-key credential .* is azure-entra/, target: ({ mgmt }) => ({ credentialId: mgmt }) },
    { reason: 'missing managementCredentialId', field: 'managementCredentialId', rule: /is required/, target: () => ({ managementCredentialId: undefined }) },
    { reason: 'management credential of the wrong kind', field: 'managementCredentialId', rule: /must be an azure-entra credential/, target: ({ key }) => ({ managementCredentialId: key }) },
  ];
  test.each(bad)('$reason: ValidationError naming $field', async ({ field, rule, target }) => {
    const ids = { key: await sharedKey('k', 'rotstore', accounts[0]!.key1), mgmt: await management() };
    const t = { kind: 'azure-storage-key', credentialId: ids.key, managementCredentialId: ids.mgmt, resourceGroup: RG, ...target(ids) } as RotationTarget;
    const before = fake.calls.length;
    for (const p of [azureStorageRotation.describe(t, env.vault), azureStorageRotation.create(t, deps())]) {
      const err = await caught(p);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).field).toBe(field);
      expect((err as ValidationError).rule).toMatch(rule);
    }
    expect(fake.calls.length).toBe(before);
  });

  test('a storage-less credential (no storageAccountName) is refused naming credentialId', async () => {
    // The azure-shared-key parser requires a Storage account, so such a record can only come from
    // an older or damaged vault: present it through a vault that hides the field.
    const id = await sharedKey('k', 'rotstore', accounts[0]!.key1);
    const hiding = new Proxy(env.vault, {
      get(t, p) {
        if (p === 'getCredential') {
          return async (idOrName: string, ws?: string) => {
            const meta = await t.getCredential(idOrName, ws);
            return meta.id === id ? { ...meta, public: { batchAccountName: 'somebatch' } } : meta;
          };
        }
        const v = Reflect.get(t, p, t) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
    const err = await caught(azureStorageRotation.describe({ kind: 'azure-storage-key', credentialId: id, managementCredentialId: await management(), resourceGroup: RG }, hiding));
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe('credentialId');
    expect(err.message).toContain('with a Storage account');
  });
});

describe('the two-slot contract against the fake and Azurite', () => {
  test('inspect, refuse the stored slot, regenerate the spare, store, verify, retire the old', async () => {
    const acct = accounts.find((a) => a.name === 'rotstore')!;
    const { credentialId, rotator } = await setup(acct);
    const oldKey1 = acct.key1;
    const oldKey2 = acct.key2;
    expect(rotator.label).toBe(`Storage account rotstore (resource group ${RG}, subscription ${SUB})`);

    // inspect: the stored key is key1; nothing else uses the account.
    await expect(rotator.inspect()).resolves.toEqual({ rotatable: true, slots: ['key1', 'key2'], stored: 'key1', usedElsewhere: [], fixedSlots: true });
    const arm = fake.calls.filter((c) => c.account === 'rotstore');
    expect(arm.map((c) => [c.kind, c.method, c.status])).toEqual([
      ['storageAccount', 'GET', 200],
      ['storageListKeys', 'POST', 200],
    ]);
    for (const c of arm) expect(c.query['api-version']).toBe('2026-09-01'); // @azure/arm-storage 21's Storage API

    // regenerate the slot in use: refused, nothing changed, no regenerate sent.
    const refused = await caught(rotator.regenerate('key1'));
    expect(refused).toBeInstanceOf(RotationRefusedError);
    expect(refused.message).toBe(`regenerate key1 of Storage account rotstore (resource group ${RG}, subscription ${SUB}): the rotated credential uses it; nothing was changed`);
    expect([acct.key1, acct.key2]).toEqual([oldKey1, oldKey2]);
    expect(callsOf('rotstore', 'storageRegenerateKey')).toEqual([]);
    await expect(caught(rotator.regenerate(null))).resolves.toBeInstanceOf(InvalidInputError);
    await expect(caught(rotator.regenerate('Primary'))).resolves.toBeInstanceOf(InvalidInputError);

    // regenerate the spare: key2 changes, key1 does not; Azurite now refuses the old key2.
    await expect(rotator.regenerate('key2')).resolves.toBe('key2');
    expect(acct.key1).toBe(oldKey1);
    expect(acct.key2).not.toBe(oldKey2);
    expect(callsOf('rotstore', 'storageRegenerateKey').map((c) => [c.detail, c.status])).toEqual([['key2', 200]]);
    await expect(works(acct, acct.key2)).resolves.toBeUndefined();
    const stale = await caught(works(acct, oldKey2));
    expect(stale).toBeInstanceOf(AuthenticationFailedError);
    expect(stale.message).toMatch(/^verify on Storage account rotstore at 127\.0\.0\.1:\d+: the Blob service refused the shared key \(HTTP 403 AuthorizationFailure\)/);
    expect(await storedKey(credentialId)).toBe(oldKey1);

    // store: the vault credential switches to key2; a second store changes nothing.
    await rotator.store('key2');
    expect(await storedKey(credentialId)).toBe(acct.key2);
    const updated = (await env.vault.getCredential(credentialId)).updatedAt;
    await rotator.store('key2');
    expect((await env.vault.getCredential(credentialId)).updatedAt).toEqual(updated);
    await expect(rotator.inspect()).resolves.toMatchObject({ stored: 'key2', usedElsewhere: [] });

    // verify: the stored key works with a signed Blob call; the old key1 still works until retired.
    await expect(rotator.verifyStored()).resolves.toBeUndefined();
    await expect(works(acct, oldKey1)).resolves.toBeUndefined();

    // retire: the slot now stored is refused; the old one is regenerated away.
    const keyBefore = acct.key2;
    await expect(caught(rotator.retire('key2'))).resolves.toBeInstanceOf(RotationRefusedError);
    expect(acct.key2).toBe(keyBefore);
    await rotator.retire('key1');
    expect(acct.key1).not.toBe(oldKey1);
    expect(acct.key2).toBe(keyBefore);
    await expect(caught(works(acct, oldKey1))).resolves.toBeInstanceOf(AuthenticationFailedError);
    await expect(rotator.verifyStored()).resolves.toBeUndefined();
    expect(callsOf('rotstore', 'storageRegenerateKey').map((c) => c.detail)).toEqual(['key2', 'key1']);

    // switch back (step 5 of Azure's documented key rotation procedure): store key1 again, verify, retire key2.
    await rotator.store('key1');
    expect(await storedKey(credentialId)).toBe(acct.key1);
    await rotator.verifyStored();
    await rotator.retire('key2');
    await expect(rotator.inspect()).resolves.toMatchObject({ rotatable: true, stored: 'key1' });
    await rotator.close();
  });

  test('a key another vault credential uses (any workspace) is reported and never regenerated', async () => {
    const acct = accounts.find((a) => a.name === 'sharedstore')!;
    const { rotator } = await setup(acct);
    const other = await env.vault.createWorkspace(`other-${Date.now()}`);
    const otherId = await sharedKey('colleague', 'sharedstore', acct.key2, other.id);
    // A credential of another Storage account is not counted, whatever its key.
    await sharedKey('unrelated', 'rotstore', accounts[0]!.key1);
    try {
      await expect(rotator.inspect()).resolves.toEqual({ rotatable: true, slots: ['key1', 'key2'], stored: 'key1', usedElsewhere: ['key2'], fixedSlots: true });
      const { key1, key2 } = acct;
      for (const p of [rotator.regenerate('key2'), rotator.retire('key2')]) {
        const err = await caught(p);
        expect(err).toBeInstanceOf(RotationRefusedError);
        expect(err.message).toContain('another credential in the vault uses it; nothing was changed');
      }
      expect([acct.key1, acct.key2]).toEqual([key1, key2]);
      expect(callsOf('sharedstore', 'storageRegenerateKey')).toEqual([]);
      // Nothing spare: key1 is the rotated credential's own.
      await expect(caught(rotator.regenerate('key1'))).resolves.toBeInstanceOf(RotationRefusedError);
    } finally {
      await env.vault.deleteCredential(otherId);
    }
  });

  test('allowSharedKeyAccess false: inspect says there is nothing to rotate and why; no step changes anything', async () => {
    const acct = accounts.find((a) => a.name === 'nokeystore')!;
    const { credentialId, rotator } = await setup(acct);
    await expect(rotator.inspect()).resolves.toEqual({
      rotatable: false,
      reason: `Storage account nokeystore (resource group ${RG}, subscription ${SUB}) does not allow shared-key authentication (allowSharedKeyAccess is false): there is nothing to rotate`,
      slots: ['key1', 'key2'],
      stored: null,
      usedElsewhere: [],
      fixedSlots: true,
    });
    const { key1, key2 } = acct;
    for (const p of [rotator.regenerate('key2'), rotator.store('key2'), rotator.retire('key2')]) {
      const err = await caught(p);
      expect(err).toBeInstanceOf(InvalidInputError);
      expect(err.message).toContain('does not allow shared-key authentication (allowSharedKeyAccess is false): there is nothing to rotate');
    }
    expect([acct.key1, acct.key2]).toEqual([key1, key2]);
    expect(await storedKey(credentialId)).toBe(key1);
    // Only the account was read: listKeys and regenerateKey were never sent.
    expect(new Set(fake.calls.filter((c) => c.account === 'nokeystore').map((c) => c.kind))).toEqual(new Set(['storageAccount']));
  });

  test("the fake's own 409 for listKeys on a shared-key-disabled account maps to the same clear error", async () => {
    const { createStorageManagementClient } = await import('../../remote/azure/storage-keys');
    const { ClientSecretCredential } = await import('@azure/identity');
    const cred = new ClientSecretCredential(TENANT, CLIENT_ID, CLIENT_SECRET, { authorityHost: fake.authorityHost, disableInstanceDiscovery: true, tlsOptions: { ca: fake.ca } });
    const client = createStorageManagementClient(cred, SUB, { armEndpoint: fake.url, ca: fake.ca, maxRetries: 0 });
    const before = callsOf('nokeystore', 'storageListKeys').length;
    let raw: unknown;
    await client.storageAccounts.listKeys(RG, 'nokeystore').catch((e: unknown) => (raw = e));
    const ref: StorageAccountRef = { subscriptionId: SUB, resourceGroup: RG, accountName: 'nokeystore' };
    const clean = sanitizeStorageError(raw, 'listKeys', ref);
    expect(clean).toBeInstanceOf(InvalidInputError);
    expect(clean.message).toContain('nokeystore (resource group nf-rg');
    expect(clean.message).toContain('does not allow shared-key authentication');
    expect(callsOf('nokeystore', 'storageListKeys').slice(before).map((c) => c.status)).toEqual([409]);
  });

  test('allowSharedKeyAccess absent (older accounts) means shared keys are allowed', async () => {
    const acct = accounts.find((a) => a.name === 'legacystore')!;
    const { rotator } = await setup(acct, acct.key2);
    await expect(rotator.inspect()).resolves.toMatchObject({ rotatable: true, stored: 'key2' });
    await expect(rotator.verifyStored()).resolves.toBeUndefined();
  });

  test('a regenerate whose answer is lost: ConnectionError, sent once; the retried step is safe', async () => {
    const acct = accounts.find((a) => a.name === 'lostanswer')!;
    const { credentialId, rotator } = await setup(acct);
    const { key1, key2 } = acct;
    fake.failNext(1, { kinds: ['storageRegenerateKey'], afterApply: true, destroy: true });
    const err = await caught(rotator.regenerate('key2'));
    expect(err).toBeInstanceOf(ConnectionError);
    // The change happened, exactly once (the SDK did not send it again), and the stored key is untouched.
    expect(callsOf('lostanswer', 'storageRegenerateKey').map((c) => [c.detail, c.status, c.injected])).toEqual([['key2', -1, true]]);
    expect(acct.key1).toBe(key1);
    expect(acct.key2).not.toBe(key2);
    const afterLost = acct.key2;
    await expect(works(acct, afterLost)).resolves.toBeUndefined();

    // What the workflow does next: the same step again. Still only the spare changes.
    await expect(rotator.inspect()).resolves.toMatchObject({ stored: 'key1' });
    await expect(rotator.regenerate('key2')).resolves.toBe('key2');
    expect(acct.key1).toBe(key1);
    expect(acct.key2).not.toBe(afterLost);
    await rotator.store('key2');
    await rotator.verifyStored();
    expect(await storedKey(credentialId)).toBe(acct.key2);

    // A lost answer to retire, after the switch, is just as safe: the stored key keeps working.
    fake.failNext(1, { kinds: ['storageRegenerateKey'], afterApply: true, destroy: true });
    await expect(caught(rotator.retire('key1'))).resolves.toBeInstanceOf(ConnectionError);
    await rotator.verifyStored();
    await rotator.retire('key1');
    await rotator.verifyStored();
    await expect(caught(works(acct, key1))).resolves.toBeInstanceOf(AuthenticationFailedError);
  });

  test('a 503 to regenerate is not retried by the SDK (one call), and nothing changed', async () => {
    const acct = accounts.find((a) => a.name === 'busystore')!;
    const { rotator } = await setup(acct);
    const { key1, key2 } = acct;
    fake.failNext(1, { kinds: ['storageRegenerateKey'], status: 503, code: 'ServerBusy' });
    const err = await caught(rotator.regenerate('key2'));
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toBe(`regenerateKey key2 on Storage account busystore (resource group ${RG}, subscription ${SUB}): Azure answered HTTP 503 ServerBusy`);
    expect(callsOf('busystore', 'storageRegenerateKey').map((c) => c.status)).toEqual([503]);
    expect([acct.key1, acct.key2]).toEqual([key1, key2]);
  });

  test('verifyStored with a key the account no longer has: AuthenticationFailedError', async () => {
    const acct = accounts.find((a) => a.name === 'stalestore')!;
    const { rotator } = await setup(acct, fake.generateKey());
    await expect(rotator.inspect()).resolves.toMatchObject({ rotatable: true, stored: null });
    const err = await caught(rotator.verifyStored());
    expect(err).toBeInstanceOf(AuthenticationFailedError);
    expect(err.message).toContain('Storage account stalestore at 127.0.0.1:');
    // store repairs it: the slot's current key goes in.
    await rotator.store('key1');
    await rotator.verifyStored();
  });

  test('an account ARM does not know: not found, naming it', async () => {
    const managementCredentialId = await management('ghoststore');
    const credentialId = await sharedKey('ghost', 'ghoststore', fake.generateKey());
    const rotator = await azureStorageRotation.create({ kind: 'azure-storage-key', credentialId, managementCredentialId, resourceGroup: RG }, deps());
    const err = await caught(rotator.inspect());
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err.message).toBe(`get: Storage account ghoststore (resource group ${RG}, subscription ${SUB}) not found (HTTP 404 ResourceNotFound)`);
  });

  test('a wrong management secret: AuthenticationFailedError from Entra ID, no ARM call', async () => {
    const wrong = 'wrong-secret~zyxwvutsrqponmlkjihgfedcba';
    const { id } = await env.vault.createCredential({
      workspaceId: env.workspaceId,
      name: 'bad-mgmt',
      kind: 'azure-entra',
      fields: { subscriptionId: SUB, tenantId: TENANT, clientId: CLIENT_ID, clientSecret: wrong, storageAccountName: 'rotstore' },
    });
    const credentialId = await sharedKey('k', 'rotstore', accounts[0]!.key1);
    const before = fake.calls.filter((c) => c.account === 'rotstore').length;
    const rotator = await azureStorageRotation.create({ kind: 'azure-storage-key', credentialId, managementCredentialId: id, resourceGroup: RG }, deps());
    const err = await caught(rotator.inspect());
    expect(err).toBeInstanceOf(AuthenticationFailedError);
    expect(err.message).toContain('Storage account rotstore');
    expect(err.message).toContain('invalid_client');
    expect(fake.calls.filter((c) => c.account === 'rotstore').length).toBe(before);
    errors.push(wrong); // checked below like a key
  });
});

describe('storage-keys module', () => {
  test('regenerateStorageKey never lets the SDK retry, even when the caller allows retries', async () => {
    const { ClientSecretCredential } = await import('@azure/identity');
    const { regenerateStorageKey, describeStorageKeys } = await import('../../remote/azure/storage-keys');
    const cred = new ClientSecretCredential(TENANT, CLIENT_ID, CLIENT_SECRET, { authorityHost: fake.authorityHost, disableInstanceDiscovery: true, tlsOptions: { ca: fake.ca } });
    const acct = accounts.find((a) => a.name === 'busystore')!;
    const ref: StorageAccountRef = { subscriptionId: SUB, resourceGroup: RG, accountName: acct.name };
    const opts = { armEndpoint: fake.url, ca: fake.ca }; // the SDK's default retries
    const before = callsOf('busystore', 'storageRegenerateKey').length;
    fake.failNext(1, { kinds: ['storageRegenerateKey'], status: 500, code: 'InternalServerError' });
    await expect(caught(regenerateStorageKey(cred, ref, 'key1', opts))).resolves.toBeInstanceOf(ConnectionError);
    expect(callsOf('busystore', 'storageRegenerateKey').slice(before).map((c) => c.status)).toEqual([500]);
    // Reads do retry (a 503 then the answer), and a regenerate answers both current keys.
    fake.failNext(1, { kinds: ['storageListKeys'], status: 503, code: 'ServerBusy' });
    await expect(describeStorageKeys(cred, ref, opts)).resolves.toMatchObject({ sharedKeyAllowed: true, blobEndpoint: 'https://busystore.blob.core.windows.net/', key1: acct.key1, key2: acct.key2 });
    const keys = await regenerateStorageKey(cred, ref, 'key1', opts);
    expect(keys).toEqual({ key1: acct.key1, key2: acct.key2 });
    await expect(regenerateStorageKey(cred, ref, 'kerb1' as 'key1', opts)).rejects.toThrow(new InvalidInputError('keyName: must be key1 or key2'));
  });
});

describe('blobEndpointFor', () => {
  test.each([
    { reason: 'an override wins, {account} replaced', args: ['acct1', 'http://127.0.0.1:1/{account}', 'https://acct1.blob.core.windows.net/'], want: 'http://127.0.0.1:1/acct1' },
    { reason: "else ARM's primaryEndpoints.blob (DNS-zone and sovereign-cloud accounts)", args: ['acct1', undefined, 'https://acct1.z12.blob.storage.azure.net/'], want: 'https://acct1.z12.blob.storage.azure.net/' },
    { reason: 'a non-https ARM endpoint is not used', args: ['acct1', undefined, 'http://acct1.example/'], want: 'https://acct1.blob.core.windows.net' },
    { reason: 'else the public endpoint', args: ['acct1', undefined, undefined], want: 'https://acct1.blob.core.windows.net' },
  ] as Array<{ reason: string; args: [string, string | undefined, string | undefined]; want: string }>)('$reason', ({ args, want }) => {
    expect(blobEndpointFor(...args)).toBe(want);
  });
});

describe('verifyStorageKey', () => {
  test('refuses bad input without a call: non-base64 key, plain http off loopback', async () => {
    await expect(verifyStorageKey(azurite.endpoint('rotstore'), 'rotstore', 'not a key!')).rejects.toThrow(new InvalidInputError('Storage account key: not a base64 string'));
    await expect(verifyStorageKey('http://example.com/rotstore', 'rotstore', fake.generateKey())).rejects.toThrow('blobEndpoint: must use https');
    await expect(verifyStorageKey(azurite.endpoint('rotstore'), 'Bad_Name', fake.generateKey())).rejects.toThrow('accountName: 3 to 24');
  });

  test('https with an extra CA: the CA reaches the Blob client (handshake succeeds); without it, a TLS ConnectionError', async () => {
    // The fake serves no Blob API: a completed handshake shows up as its 404.
    const endpoint = `${fake.url}/blobsvc/rotstore`;
    const e1 = await caught(verifyStorageKey(endpoint, 'rotstore', fake.generateKey(), { ca: fake.ca }));
    expect(e1).toBeInstanceOf(InvalidInputError);
    expect(e1.message).toMatch(/^verify on Storage account rotstore at 127\.0\.0\.1:\d+: not found \(HTTP 404/);
    const e2 = await caught(verifyStorageKey(endpoint, 'rotstore', fake.generateKey()));
    expect(e2).toBeInstanceOf(ConnectionError);
    expect(e2.message).toMatch(/TLS failure \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/);
  });

  test('an unreachable endpoint is a ConnectionError; an account the endpoint does not serve is refused', async () => {
    const e1 = await caught(verifyStorageKey('http://127.0.0.1:1/rotstore', 'rotstore', fake.generateKey()));
    expect(e1).toBeInstanceOf(ConnectionError);
    expect(e1.message).toContain('ECONNREFUSED');
    const e2 = await caught(verifyStorageKey(azurite.endpoint('ghoststore'), 'ghoststore', fake.generateKey()));
    expect(e2).toBeInstanceOf(InvalidInputError);
    expect(e2.message).toMatch(/HTTP 404/);
  });
});

describe('nothing sensitive leaks', () => {
  test('no key, token or client secret in any error or SDK log line', () => {
    const wrongSecrets = errors.filter((e): e is string => typeof e === 'string');
    const errs = errors.filter((e) => typeof e !== 'string') as Error[];
    expect(errs.length).toBeGreaterThanOrEqual(25);
    expect(fake.issuedKeys().length).toBeGreaterThan(20);
    expect(logLines.length).toBeGreaterThan(20);
    const secrets = [CLIENT_SECRET, ...wrongSecrets, ...fake.issuedTokens(), ...fake.issuedKeys()];
    for (const e of errs) {
      expect(leaks(e, secrets)).toBe(false);
      expect(leaks(e.stack ?? '', secrets)).toBe(false);
    }
    for (const line of logLines) expect(leaks(line, secrets)).toBe(false);
    expect(leaks(azurite.output(), secrets)).toBe(false);
  });
});
