/**
 * Azure credentials (shared keys, Entra service principal, managed identity): shapes checked on save.
 * Table-driven refusals, each with its reason, naming the field and the rule and never a key or
 * secret value; each refusal also tried through the real vault, which then holds nothing.
 */
import { leaks, useCredentialVault } from '../harness/credential-vault';
import { randomBytes } from 'node:crypto';
import { credentialKind } from '../../credentials';
import {
  azureEntraCredential,
  azureManagedIdentityCredential,
  azureSharedKeyCredential,
  parseAzureEntra,
  parseAzureManagedIdentity,
  parseAzureSharedKey,
} from '../../credentials/azure';
import { ValidationError } from '../../domain/errors';

jest.setTimeout(60_000);

/** A 512-bit account key, as the portal shows it: 88 base64 characters ending in ==. */
const newKey = () => randomBytes(64).toString('base64');
const BATCH_KEY = newKey();
const STORAGE_KEY = newKey();
/** Azurite's documented development key: a real-world key of the right shape. */
const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const SUB = '9b7f1a3c-2d4e-4f60-8a1b-3c5d7e9f0a12';
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT = 'c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f';
const CLIENT_SECRET = `Xq8~${randomBytes(27).toString('base64url')}`; // 40 characters, like Entra's
const MI_CLIENT = '5e2a9c41-7b3d-4f18-9a6e-0c1d2e3f4a5b';
const MI_RESOURCE = `/subscriptions/${SUB}/resourceGroups/nextflow-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/nf-pool-identity`;

const sharedKey = (over: Record<string, unknown> = {}) => ({
  batchAccountName: 'nfbatch01',
  batchKey: BATCH_KEY,
  storageAccountName: 'nfstorage01',
  storageKey: STORAGE_KEY,
  ...over,
});
const entra = (over: Record<string, unknown> = {}) => ({
  subscriptionId: SUB,
  tenantId: TENANT,
  clientId: CLIENT,
  clientSecret: CLIENT_SECRET,
  batchAccountName: 'nfbatch01',
  storageAccountName: 'nfstorage01',
  ...over,
});
const managed = (over: Record<string, unknown> = {}) => ({
  poolName: 'nf-pool_01',
  identityClientId: MI_CLIENT,
  identityResourceId: MI_RESOURCE,
  batchAccountName: 'nfbatch01',
  ...over,
});

const SECRET_FIELDS = ['batchKey', 'storageKey', 'clientSecret'];
const secretValues = (fields: Record<string, unknown>) => SECRET_FIELDS.map((f) => fields[f]);


type Refusal = { kind: string; reason: string; fields: Record<string, unknown>; field: string; rule: RegExp };

const GUID_RULE = /must be a GUID like 00000000-0000-0000-0000-000000000000/;

const refusals: Refusal[] = [
  // azure-shared-key
  { kind: 'azure-shared-key', reason: 'no storage account name', fields: sharedKey({ storageAccountName: undefined }), field: 'storageAccountName', rule: /is required/ },
  { kind: 'azure-shared-key', reason: 'an upper-case storage account name', fields: sharedKey({ storageAccountName: 'NFStorage' }), field: 'storageAccountName', rule: /3 to 24 lower-case letters and digits/ },
  { kind: 'azure-shared-key', reason: 'a storage account name with a hyphen', fields: sharedKey({ storageAccountName: 'nf-storage' }), field: 'storageAccountName', rule: /3 to 24 lower-case/ },
  { kind: 'azure-shared-key', reason: 'a two-character storage account name', fields: sharedKey({ storageAccountName: 'nf' }), field: 'storageAccountName', rule: /3 to 24/ },
  { kind: 'azure-shared-key', reason: 'the blob endpoint instead of the account name', fields: sharedKey({ storageAccountName: 'nfstorage01.blob.core.windows.net' }), field: 'storageAccountName', rule: /account name alone, not its endpoint/ },
  { kind: 'azure-shared-key', reason: 'a 25-character Batch account name', fields: sharedKey({ batchAccountName: 'a'.repeat(25) }), field: 'batchAccountName', rule: /Batch account name: 3 to 24/ },
  { kind: 'azure-shared-key', reason: 'a Batch account without its key', fields: sharedKey({ batchKey: undefined }), field: 'batchKey', rule: /is required: Batch account > Keys/ },
  { kind: 'azure-shared-key', reason: 'a Batch key without a Batch account', fields: sharedKey({ batchAccountName: undefined }), field: 'batchKey', rule: /only goes with batchAccountName/ },
  { kind: 'azure-shared-key', reason: 'no storage key', fields: sharedKey({ storageKey: '' }), field: 'storageKey', rule: /is required: Storage account > Access keys/ },
  { kind: 'azure-shared-key', reason: 'a key with characters outside base64', fields: sharedKey({ storageKey: STORAGE_KEY.slice(0, 40) + '!-_' + STORAGE_KEY.slice(43) }), field: 'storageKey', rule: /is not base64 \(only letters/ },
  { kind: 'azure-shared-key', reason: 'a key missing its last characters', fields: sharedKey({ batchKey: BATCH_KEY.slice(0, 85) }), field: 'batchKey', rule: /not a multiple of 4 \(truncated\?\)/ },
  { kind: 'azure-shared-key', reason: 'a key of 63 bytes', fields: sharedKey({ storageKey: randomBytes(63).toString('base64') }), field: 'storageKey', rule: /decodes to 63 bytes; must be a Storage account key: base64 of 64 bytes \(88 characters/ },
  { kind: 'azure-shared-key', reason: 'a 256-bit key (a SAS signing key, not an account key)', fields: sharedKey({ batchKey: randomBytes(32).toString('base64') }), field: 'batchKey', rule: /decodes to 32 bytes; must be a Batch account key: base64 of 64 bytes/ },
  { kind: 'azure-shared-key', reason: 'a key whose padding bits are not zero', fields: sharedKey({ storageKey: STORAGE_KEY.slice(0, 85) + 'B==' }), field: 'storageKey', rule: /not canonical base64/ },
  { kind: 'azure-shared-key', reason: 'a whole connection string', fields: sharedKey({ storageKey: `DefaultEndpointsProtocol=https;AccountName=nfstorage01;AccountKey=${STORAGE_KEY};EndpointSuffix=core.windows.net` }), field: 'storageKey', rule: /connection string; paste only the key/ },
  { kind: 'azure-shared-key', reason: 'a key broken over two lines', fields: sharedKey({ batchKey: `${BATCH_KEY.slice(0, 44)}\n${BATCH_KEY.slice(44)}` }), field: 'batchKey', rule: /whitespace/ },
  { kind: 'azure-shared-key', reason: 'the Batch key pasted as the storage key', fields: sharedKey({ storageKey: BATCH_KEY }), field: 'storageKey', rule: /same as batchKey/ },
  { kind: 'azure-shared-key', reason: 'a key that is not text', fields: sharedKey({ storageKey: 42 }), field: 'storageKey', rule: /must be a string/ },
  { kind: 'azure-shared-key', reason: 'a field shared keys do not have', fields: sharedKey({ accountKey: STORAGE_KEY }), field: 'accountKey', rule: /not a field of azure-shared-key credentials/ },
  // azure-entra
  { kind: 'azure-entra', reason: 'no subscription id', fields: entra({ subscriptionId: undefined }), field: 'subscriptionId', rule: /is required: the Subscription ID/ },
  { kind: 'azure-entra', reason: 'a tenant domain instead of the tenant id', fields: entra({ tenantId: 'contoso.onmicrosoft.com' }), field: 'tenantId', rule: GUID_RULE },
  { kind: 'azure-entra', reason: 'a client id in braces', fields: entra({ clientId: `{${CLIENT}}` }), field: 'clientId', rule: /GUID like .*, without braces/ },
  { kind: 'azure-entra', reason: 'a client id one digit short', fields: entra({ clientId: CLIENT.slice(0, -1) }), field: 'clientId', rule: GUID_RULE },
  { kind: 'azure-entra', reason: 'a subscription id with a non-hex digit', fields: entra({ subscriptionId: SUB.replace('9b', 'g9') }), field: 'subscriptionId', rule: GUID_RULE },
  { kind: 'azure-entra', reason: 'the all-zero GUID', fields: entra({ subscriptionId: '00000000-0000-0000-0000-000000000000' }), field: 'subscriptionId', rule: /not the all-zero GUID/ },
  { kind: 'azure-entra', reason: 'the tenant id pasted as the client id', fields: entra({ clientId: TENANT.toUpperCase() }), field: 'clientId', rule: /same as tenantId/ },
  { kind: 'azure-entra', reason: 'no client secret', fields: entra({ clientSecret: '   ' }), field: 'clientSecret', rule: /is required: the Value of a client secret/ },
  { kind: 'azure-entra', reason: 'the Secret ID instead of its value', fields: entra({ clientSecret: '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0' }), field: 'clientSecret', rule: /Secret ID; paste the Value/ },
  { kind: 'azure-entra', reason: 'a client secret with a space inside', fields: entra({ clientSecret: `${CLIENT_SECRET.slice(0, 20)} ${CLIENT_SECRET.slice(20)}` }), field: 'clientSecret', rule: /contains whitespace/ },
  { kind: 'azure-entra', reason: 'a client secret too short to be one', fields: entra({ clientSecret: 'Qz7~kP2.wX9' }), field: 'clientSecret', rule: /must be 16 to 256 characters .* this one is 11$/ },
  { kind: 'azure-entra', reason: 'a client secret far too long', fields: entra({ clientSecret: randomBytes(300).toString('base64url') }), field: 'clientSecret', rule: /must be 16 to 256 characters/ },
  { kind: 'azure-entra', reason: 'a client secret with typographic quotes', fields: entra({ clientSecret: `\u201c${CLIENT_SECRET}\u201d` }), field: 'clientSecret', rule: /printable ASCII/ },
  { kind: 'azure-entra', reason: 'no storage account name', fields: entra({ storageAccountName: undefined }), field: 'storageAccountName', rule: /is required/ },
  { kind: 'azure-entra', reason: 'a Batch account URL instead of its name', fields: entra({ batchAccountName: 'https://nfbatch01.westeurope.batch.azure.com' }), field: 'batchAccountName', rule: /not its endpoint or URL/ },
  { kind: 'azure-entra', reason: 'a tenant id that is not text', fields: entra({ tenantId: 7 }), field: 'tenantId', rule: /must be a string/ },
  { kind: 'azure-entra', reason: 'a field service principals do not have here', fields: entra({ clientCertificate: 'x' }), field: 'clientCertificate', rule: /not a field of azure-entra credentials/ },
  // azure-managed-identity
  { kind: 'azure-managed-identity', reason: 'no pool name', fields: managed({ poolName: undefined }), field: 'poolName', rule: /is required: the id of the Batch pool/ },
  { kind: 'azure-managed-identity', reason: 'a pool name with a dot', fields: managed({ poolName: 'nf.pool' }), field: 'poolName', rule: /Batch pool id: 1 to 64 letters, digits, hyphens and underscores/ },
  { kind: 'azure-managed-identity', reason: 'a 65-character pool name', fields: managed({ poolName: 'p'.repeat(65) }), field: 'poolName', rule: /1 to 64/ },
  { kind: 'azure-managed-identity', reason: 'an identity client id that is not a GUID', fields: managed({ identityClientId: 'nf-pool-identity' }), field: 'identityClientId', rule: GUID_RULE },
  { kind: 'azure-managed-identity', reason: 'no identity client id (the resource id alone is not enough)', fields: managed({ identityClientId: undefined }), field: 'identityClientId', rule: /is required/ },
  {
    kind: 'azure-managed-identity',
    reason: 'a virtual machine resource id instead of an identity',
    fields: managed({ identityResourceId: `/subscriptions/${SUB}/resourceGroups/nextflow-rg/providers/Microsoft.Compute/virtualMachines/vm1` }),
    field: 'identityResourceId',
    rule: /user-assigned identity's resource id: \/subscriptions\/<subscription GUID>\/resourceGroups\/<resource group>\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/<name>/,
  },
  { kind: 'azure-managed-identity', reason: 'a resource id whose subscription is not a GUID', fields: managed({ identityResourceId: MI_RESOURCE.replace(SUB, 'my-subscription') }), field: 'identityResourceId', rule: /user-assigned identity's resource id/ },
  { kind: 'azure-managed-identity', reason: 'a resource id with a trailing slash', fields: managed({ identityResourceId: `${MI_RESOURCE}/` }), field: 'identityResourceId', rule: /user-assigned identity's resource id/ },
  { kind: 'azure-managed-identity', reason: 'a resource id without its leading slash', fields: managed({ identityResourceId: MI_RESOURCE.slice(1) }), field: 'identityResourceId', rule: /user-assigned identity's resource id/ },
  { kind: 'azure-managed-identity', reason: 'a resource id in the all-zero subscription', fields: managed({ identityResourceId: MI_RESOURCE.replace(SUB, '00000000-0000-0000-0000-000000000000') }), field: 'identityResourceId', rule: /not the all-zero GUID/ },
  { kind: 'azure-managed-identity', reason: 'no Batch account name', fields: managed({ batchAccountName: undefined }), field: 'batchAccountName', rule: /is required/ },
  { kind: 'azure-managed-identity', reason: 'an access key offered as a fallback', fields: managed({ batchKey: BATCH_KEY }), field: 'batchKey', rule: /not a field of azure-managed-identity credentials/ },
];

const PARSE: Record<string, (fields: Record<string, unknown>) => unknown> = {
  'azure-shared-key': parseAzureSharedKey,
  'azure-entra': parseAzureEntra,
  'azure-managed-identity': parseAzureManagedIdentity,
};

function refusalOf(r: Refusal): unknown {
  try {
    PARSE[r.kind]!(r.fields);
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('azure credential kinds', () => {
  test('are registered', () => {
    expect(credentialKind('azure-shared-key')).toBe(azureSharedKeyCredential);
    expect(credentialKind('azure-entra')).toBe(azureEntraCredential);
    expect(credentialKind('azure-managed-identity')).toBe(azureManagedIdentityCredential);
  });

  test('the managed identity kind says the broker never falls back to access keys', () => {
    expect(azureManagedIdentityCredential.description).toMatch(/never falls back to access keys/);
  });

  test('shared keys: account names public, keys sealed; storage-only leaves the Batch pair out', () => {
    expect(azureSharedKeyCredential.parse(sharedKey())).toEqual({
      public: { batchAccountName: 'nfbatch01', storageAccountName: 'nfstorage01' },
      secret: { batchKey: BATCH_KEY, storageKey: STORAGE_KEY },
    });
    expect(azureSharedKeyCredential.parse({ storageAccountName: 'devstoreaccount1', storageKey: AZURITE_KEY })).toEqual({
      public: { storageAccountName: 'devstoreaccount1' },
      secret: { storageKey: AZURITE_KEY },
    });
    // A key pasted with a trailing newline is stored without it.
    const pasted = azureSharedKeyCredential.parse(sharedKey({ storageKey: `  ${STORAGE_KEY}\n` })) as { secret: Record<string, string> };
    expect(pasted.secret.storageKey === STORAGE_KEY).toBe(true);
  });

  test('Entra service principal: ids (lower-cased) and names public, the client secret sealed; the Batch account is optional', () => {
    expect(azureEntraCredential.parse(entra({ tenantId: TENANT.toUpperCase() }))).toEqual({
      public: { subscriptionId: SUB, tenantId: TENANT, clientId: CLIENT, batchAccountName: 'nfbatch01', storageAccountName: 'nfstorage01' },
      secret: { clientSecret: CLIENT_SECRET },
    });
    const storageOnly = azureEntraCredential.parse(entra({ batchAccountName: undefined })) as { public: Record<string, unknown> };
    expect(storageOnly.public).toEqual({ subscriptionId: SUB, tenantId: TENANT, clientId: CLIENT, storageAccountName: 'nfstorage01' });
  });

  test('managed identity: everything public, nothing secret; the resource id is optional and its fixed segments match without case', () => {
    expect(azureManagedIdentityCredential.parse(managed())).toEqual({
      public: { poolName: 'nf-pool_01', identityClientId: MI_CLIENT, identityResourceId: MI_RESOURCE, batchAccountName: 'nfbatch01' },
      secret: {},
    });
    expect(azureManagedIdentityCredential.parse(managed({ identityResourceId: undefined }))).toEqual({
      public: { poolName: 'nf-pool_01', identityClientId: MI_CLIENT, batchAccountName: 'nfbatch01' },
      secret: {},
    });
    // `az identity show` prints "resourcegroups"; resource groups may hold dots and parentheses.
    const cli = `/subscriptions/${SUB}/resourcegroups/rg.nextflow(eu)/providers/Microsoft.ManagedIdentity/userAssignedIdentities/nf-pool-identity`;
    expect((azureManagedIdentityCredential.parse(managed({ identityResourceId: cli })) as { public: Record<string, unknown> }).public.identityResourceId).toBe(cli);
  });

  test('the leak check finds a secret value, whole or in part, in an error', () => {
    const fields = sharedKey();
    expect(leaks(new ValidationError('storageKey', `decodes wrongly: ${STORAGE_KEY}`), secretValues(fields))).toBe(true);
    expect(leaks(new ValidationError('batchKey', `starts with ${BATCH_KEY.slice(10, 30)}`), secretValues(fields))).toBe(true);
    expect(leaks(new ValidationError('storageKey', 'decodes to 63 bytes'), secretValues(fields))).toBe(false);
    expect(leaks(`{"listed":"${STORAGE_KEY}"}`, secretValues(fields))).toBe(true);
  });

  test.each(refusals)('$kind refuses $reason, naming $field and no secret value', (r) => {
    const err = refusalOf(r);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err).toMatchObject({ name: 'ValidationError', field: r.field });
    expect((err as ValidationError).rule).toMatch(r.rule);
    expect(leaks(err, secretValues(r.fields))).toBe(false);
  });
});

describe('in the vault', () => {
  const ctx = useCredentialVault('azure-ws');

  test.each(refusals)('$kind stores nothing when refusing $reason', async (r) => {
    const err = await ctx.vault.createCredential({ workspaceId: ctx.workspaceId, name: 'azure-creds', kind: r.kind, fields: r.fields }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ValidationError', field: r.field, rule: expect.stringMatching(r.rule) });
    expect(leaks(err, secretValues(r.fields))).toBe(false);
    expect(await ctx.vault.listCredentials(ctx.workspaceId)).toEqual([]);
  });

  test.each([
    { kind: 'azure-shared-key', fields: sharedKey(), secret: { batchKey: BATCH_KEY, storageKey: STORAGE_KEY } },
    { kind: 'azure-entra', fields: entra(), secret: { clientSecret: CLIENT_SECRET } },
    { kind: 'azure-managed-identity', fields: managed(), secret: {} },
  ])('stores a good $kind credential: listings show public fields only, providers read the secret back', async ({ kind, fields, secret }) => {
    const meta = await ctx.vault.createCredential({ workspaceId: ctx.workspaceId, name: `${kind}-ok`, kind, fields });
    const expected = credentialKind(kind).parse(fields) as { public: Record<string, unknown> };
    expect(meta.public).toEqual(expected.public);
    const listed = JSON.stringify(await ctx.vault.listCredentials(ctx.workspaceId));
    expect(listed).toContain(`${kind}-ok`);
    expect(leaks(listed, secretValues(fields))).toBe(false);
    for (const v of Object.values(secret)) expect(listed.includes(v)).toBe(false);
    const read = await ctx.vault.readCredential(meta.id);
    expect(read.kind).toBe(kind);
    expect(read.public).toEqual(expected.public);
    expect(JSON.stringify(read.secret) === JSON.stringify(secret)).toBe(true);
    await ctx.vault.deleteCredential(meta.id);
    expect(await ctx.vault.listCredentials(ctx.workspaceId)).toEqual([]);
  });
});
