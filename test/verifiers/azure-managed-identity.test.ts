/**
 * verifiers/azure-managed-identity.ts driven through the real @azure/identity, @azure/arm-msi,
 * @azure/arm-batch and @azure/arm-authorization clients against the HTTPS Azure fake with the
 * identity, pool and role-assignment routes of test/harness/azure-fake-identity.ts. The clients trust
 * the fake's runtime CA through core-rest-pipeline's `tlsOptions.ca`.
 *
 * Every test ends with the "zero key fallbacks" check: no listKeys, regenerateKeys or Batch data-plane
 * call ever reached the fake.
 */
import { AzureLogger, setLogLevel } from '@azure/logger';
import { ClientSecretCredential } from '@azure/identity';
import type { AccessToken, TokenCredential } from '@azure/identity';
import {
  BUILT_IN_ROLES,
  IdentityNotAttachedError,
  IdentityNotFoundError,
  IdentityRoleMissingError,
  REQUIRED_ROLES,
  verifyManagedIdentity,
  type ManagedIdentityOptions,
  type ManagedIdentityRef,
} from '../../verifiers/azure-managed-identity';
import { AzureFake } from '../harness/azure-fake';
import { AzureIdentityFake, type FakeIdentity, type FakePool } from '../harness/azure-fake-identity';
import { rejectionCatcher } from '../harness/caught';
import { AuthenticationFailedError, ConnectionError, InvalidInputError, PermissionDeniedError } from '../../domain/errors';

const TENANT = '11111111-2222-3333-4444-555555555555';
const CLIENT_ID = '66666666-7777-8888-9999-000000000000';
const CLIENT_SECRET = 'fake-client-secret~0123456789abcdefABCDEF';
const SUB = '0b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const OTHER_SUB = '7c6b5a49-3827-4160-9f8e-7d6c5b4a3928';
const RG = 'nf-rg';
const ACCOUNT = 'nfbatch';
const STORAGE = 'nfwork';
const CONTRIBUTOR = 'b24988ac-6180-42a0-ab88-20f7382dd24c'; // control plane only: no blob data actions

let fake: AzureFake;
let ids: AzureIdentityFake;
let opts: ManagedIdentityOptions;
const logLines: string[] = [];
const originalLog = AzureLogger.log;
const errors: Error[] = [];

function credential(secret = CLIENT_SECRET): TokenCredential {
  return new ClientSecretCredential(TENANT, CLIENT_ID, secret, {
    authorityHost: fake.authorityHost,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: fake.ca },
    retryOptions: { maxRetries: 0 },
  });
}

const batchScope = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Batch/batchAccounts/${ACCOUNT}`;
const storageScope = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/${STORAGE}`;

interface World {
  identity: FakeIdentity;
  pool: FakePool;
  ref: ManagedIdentityRef;
}

/** A correctly configured identity on its own pool; `roles: false` leaves the role assignments out. */
function world(name: string, o: { roles?: boolean; attach?: boolean } = {}): World {
  const identity = ids.addIdentity({ subscriptionId: SUB, resourceGroup: RG, name: `id-${name}` });
  const pool = ids.addPool({ subscriptionId: SUB, resourceGroup: RG, accountName: ACCOUNT, name: `pool-${name}`, identities: o.attach === false ? [] : [identity] });
  if (o.roles !== false) {
    ids.assignRole({ scope: batchScope, roleDefinitionId: BUILT_IN_ROLES.batchDataContributor.id, principalId: identity.principalId });
    ids.assignRole({ scope: storageScope, roleDefinitionId: BUILT_IN_ROLES.storageBlobDataContributor.id, principalId: identity.principalId });
  }
  const ref: ManagedIdentityRef = { subscriptionId: SUB, resourceGroup: RG, batchAccountName: ACCOUNT, poolName: pool.name, identityClientId: identity.clientId, storageAccountName: STORAGE };
  return { identity, pool, ref };
}

const caught = rejectionCatcher(errors);

/** Calls made since `from` (an index into fake.calls), as [kind, status]. */
function since(from: number): Array<[string, number]> {
  return fake.calls.slice(from).filter((c) => c.kind !== 'token' && c.kind !== 'metadata').map((c) => [c.kind, c.status]);
}

beforeAll(async () => {
  fake = await AzureFake.start();
  fake.addClient({ tenantId: TENANT, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
  fake.addBatchAccount({ subscriptionId: SUB, resourceGroup: RG, name: ACCOUNT });
  // Two per page, so the subscription listing needs nextLink to reach later identities.
  ids = AzureIdentityFake.install(fake, { identityPageSize: 2 });
  for (let i = 0; i < 3; i++) ids.addIdentity({ subscriptionId: SUB, resourceGroup: RG, name: `unrelated-${i}` });
  opts = { armEndpoint: fake.url, ca: fake.ca, maxRetries: 0 };
  setLogLevel('verbose');
  AzureLogger.log = (...args: unknown[]) => {
    logLines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
  };
});

afterEach(() => {
  // Zero key fallbacks, whatever the test did.
  expect(fake.callsOf('listKeys')).toEqual([]);
  expect(fake.callsOf('regenerateKeys')).toEqual([]);
  expect(fake.callsOf('dataplane')).toEqual([]);
  expect(fake.calls.filter((c) => /listKeys|regenerateKey|\/keys\b/i.test(c.path))).toEqual([]);
});

afterAll(async () => {
  setLogLevel();
  AzureLogger.log = originalLog;
  await fake?.stop();
});

describe('a correctly configured identity', () => {
  test('found by client id through the paged subscription listing: resolves with principal id and roles', async () => {
    const w = world('ok');
    const from = fake.calls.length;
    const facts = await verifyManagedIdentity(credential(), w.ref, opts);
    expect(facts).toEqual({
      identityClientId: w.identity.clientId,
      identityResourceId: w.identity.resourceId,
      principalId: w.identity.principalId,
      poolName: w.pool.name,
      batchAccountName: ACCOUNT,
      roles: [
        { target: 'batch', role: BUILT_IN_ROLES.batchDataContributor, scope: batchScope, conditional: false },
        { target: 'storage', role: BUILT_IN_ROLES.storageBlobDataContributor, scope: storageScope, conditional: false },
      ],
      skipped: [],
    });
    const calls = fake.calls.slice(from).filter((c) => c.kind !== 'token' && c.kind !== 'metadata');
    // Three unrelated identities, then this one, at two per page: it is on page 2 (reached via nextLink).
    expect(calls.map((c) => [c.kind, c.status])).toEqual([
      ['identityList', 200],
      ['identityList', 200],
      ['pool', 200],
      ['roleAssignments', 200],
      ['roleAssignments', 200],
    ]);
    expect(calls.filter((c) => c.kind === 'identityList').map((c) => c.query['api-version'])).toEqual(['2024-11-30', '2024-11-30']);
    expect(calls.filter((c) => c.kind === 'identityList').map((c) => c.query.$skiptoken)).toEqual([undefined, '2']);
    expect(calls.find((c) => c.kind === 'pool')?.query['api-version']).toBe('2023-11-01');
    const ra = calls.filter((c) => c.kind === 'roleAssignments');
    expect(ra.map((c) => c.path)).toEqual([`${batchScope}/providers/Microsoft.Authorization/roleAssignments`, `${storageScope}/providers/Microsoft.Authorization/roleAssignments`]);
    for (const c of ra) {
      expect(c.query['api-version']).toBe('2022-04-01');
      expect(c.query.$filter).toBe(`principalId eq '${w.identity.principalId}'`);
    }
  });

  test('with identityResourceId: one get instead of the listing', async () => {
    const w = world('byrid');
    const from = fake.calls.length;
    const facts = await verifyManagedIdentity(credential(), { ...w.ref, identityResourceId: w.identity.resourceId }, opts);
    expect(facts.principalId).toBe(w.identity.principalId);
    expect(since(from)).toEqual([
      ['identity', 200],
      ['pool', 200],
      ['roleAssignments', 200],
      ['roleAssignments', 200],
    ]);
  });

  test('an identity in another subscription, given by resource id', async () => {
    const identity = ids.addIdentity({ subscriptionId: OTHER_SUB, resourceGroup: 'shared-ids', name: 'crosssub' });
    const pool = ids.addPool({ subscriptionId: SUB, resourceGroup: RG, accountName: ACCOUNT, name: 'pool-crosssub', identities: [identity] });
    ids.assignRole({ scope: `/subscriptions/${SUB}`, roleDefinitionId: BUILT_IN_ROLES.batchJobSubmitter.id, principalId: identity.principalId });
    const facts = await verifyManagedIdentity(
      credential(),
      { subscriptionId: SUB, resourceGroup: RG, batchAccountName: ACCOUNT, poolName: pool.name, identityClientId: identity.clientId, identityResourceId: identity.resourceId },
      opts,
    );
    expect(facts).toMatchObject({ principalId: identity.principalId, roles: [{ target: 'batch', role: BUILT_IN_ROLES.batchJobSubmitter, scope: `/subscriptions/${SUB}` }], skipped: ['storage'] });
  });

  test.each([
    { reason: 'roles inherited from the resource group', scope: `/subscriptions/${SUB}/resourceGroups/${RG}`, storageRole: BUILT_IN_ROLES.storageBlobDataContributor },
    { reason: 'Storage Blob Data Owner satisfies the storage requirement', scope: undefined, storageRole: BUILT_IN_ROLES.storageBlobDataOwner },
  ])('$reason', async ({ scope, storageRole }) => {
    const w = world(`alt${storageRole.id.slice(0, 4)}${scope ? 'rg' : ''}`, { roles: false });
    ids.assignRole({ scope: scope ?? batchScope, roleDefinitionId: BUILT_IN_ROLES.batchAccountContributor.id, principalId: w.identity.principalId });
    ids.assignRole({ scope: scope ?? storageScope, roleDefinitionId: storageRole.id, principalId: w.identity.principalId });
    const facts = await verifyManagedIdentity(credential(), w.ref, opts);
    expect(facts.roles.map((r) => [r.target, r.role.name, r.scope])).toEqual([
      ['batch', 'Azure Batch Account Contributor', scope ?? batchScope],
      ['storage', storageRole.name, scope ?? storageScope],
    ]);
  });

  test('requireBatchRole false and no storage account: nothing to check, both skipped', async () => {
    const w = world('skipall', { roles: false });
    const { storageAccountName: _s, ...ref } = w.ref;
    const from = fake.calls.length;
    await expect(verifyManagedIdentity(credential(), ref, { ...opts, requireBatchRole: false })).resolves.toMatchObject({ roles: [], skipped: ['batch', 'storage'] });
    expect(since(from).map(([k]) => k)).not.toContain('roleAssignments');
  });

  test('a conditional assignment is reported as such; an unconditional one is preferred', async () => {
    const w = world('abac', { roles: false });
    ids.assignRole({ scope: batchScope, roleDefinitionId: BUILT_IN_ROLES.batchDataContributor.id, principalId: w.identity.principalId });
    ids.assignRole({ scope: storageScope, roleDefinitionId: BUILT_IN_ROLES.storageBlobDataContributor.id, principalId: w.identity.principalId, condition: "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'work'" });
    const facts = await verifyManagedIdentity(credential(), w.ref, opts);
    expect(facts.roles.find((r) => r.target === 'storage')).toMatchObject({ conditional: true });
    ids.assignRole({ scope: `/subscriptions/${SUB}/resourceGroups/${RG}`, roleDefinitionId: BUILT_IN_ROLES.storageBlobDataOwner.id, principalId: w.identity.principalId });
    const again = await verifyManagedIdentity(credential(), w.ref, opts);
    expect(again.roles.find((r) => r.target === 'storage')).toMatchObject({ conditional: false, role: BUILT_IN_ROLES.storageBlobDataOwner });
  });
});

describe('three misconfigurations, three explicit errors', () => {
  const cases = [
    {
      reason: 'unknown identity client id',
      setup: (): ManagedIdentityRef => ({ ...world('nf-decoy').ref, identityClientId: 'deadbeef-0000-4000-8000-00000000abcd' }),
      cls: IdentityNotFoundError,
      parent: InvalidInputError,
      code: 'IdentityNotFound',
      says: ['deadbeef-0000-4000-8000-00000000abcd', 'pool-nf-decoy', `subscription ${SUB}`, 'az identity list', 'identityResourceId'],
    },
    {
      reason: 'identity not attached to the pool',
      setup: (): ManagedIdentityRef => world('na', { attach: false }).ref,
      cls: IdentityNotAttachedError,
      parent: InvalidInputError,
      code: 'IdentityNotAttached',
      says: ['is not attached to Batch pool pool-na', `Batch account ${ACCOUNT}`, 'it has no user-assigned identity', 'id-na', 'Identity'],
    },
    {
      reason: 'identity attached but without the storage role',
      setup: (): ManagedIdentityRef => {
        const w = world('nr', { roles: false });
        ids.assignRole({ scope: batchScope, roleDefinitionId: BUILT_IN_ROLES.batchDataContributor.id, principalId: w.identity.principalId });
        return w.ref;
      },
      cls: IdentityRoleMissingError,
      parent: PermissionDeniedError,
      code: 'IdentityRoleMissing',
      says: ['on Batch pool pool-nr', 'lacks role "Storage Blob Data Contributor" on storage account nfwork', 'or Storage Blob Data Owner', 'az role assignment create', `--scope ${storageScope}`],
    },
  ];

  test.each(cases)('$reason: $code', async ({ setup, cls, parent, code, says }) => {
    const ref = setup();
    const err = await caught(verifyManagedIdentity(credential(), ref, opts));
    expect(err).toBeInstanceOf(cls);
    expect(err).toBeInstanceOf(parent);
    // The failure type the activity layer hands to Temporal stays the parent's (non-retryable).
    expect(err.name).toBe(parent.name);
    expect((err as unknown as { code: string }).code).toBe(code);
    expect((err as unknown as { identityClientId: string }).identityClientId).toBe(ref.identityClientId);
    expect(err.message).toContain(ref.identityClientId);
    for (const s of says) expect(err.message).toContain(s);
    // The other two classes do not match: each case is distinguishable.
    for (const other of cases.filter((c) => c.cls !== cls)) expect(err).not.toBeInstanceOf(other.cls);
  });

  test('the three codes are distinct', () => {
    expect(new Set(cases.map((c) => c.code)).size).toBe(3);
  });

  test('unknown client id: the check stops there (no pool or role call)', async () => {
    const from = fake.calls.length;
    const err = await caught(verifyManagedIdentity(credential(), { ...world('stop').ref, identityClientId: 'feedface-1111-4222-8333-444455556666' }, opts));
    expect(err).toBeInstanceOf(IdentityNotFoundError);
    // Every page of the listing was read (the fake's nextLink chain to its end), then nothing else.
    const kinds = since(from).map(([k]) => k);
    expect(kinds.length).toBeGreaterThan(3);
    expect(new Set(kinds)).toEqual(new Set(['identityList']));
    expect(fake.calls.filter((c) => c.kind === 'identityList').at(-1)?.query.$skiptoken).toBe(String((kinds.length - 1) * 2));
  });

  test('identityResourceId that does not exist: IdentityNotFound naming the resource id', async () => {
    const w = world('ghostrid');
    const rid = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/no-such-id`;
    const err = await caught(verifyManagedIdentity(credential(), { ...w.ref, identityResourceId: rid }, opts));
    expect(err).toBeInstanceOf(IdentityNotFoundError);
    expect(err.message).toContain(`no user-assigned identity exists at identityResourceId ${rid} (HTTP 404 ResourceNotFound)`);
    expect(err.message).toContain('pool-ghostrid');
  });

  test('identityResourceId of another identity: IdentityNotFound naming both client ids', async () => {
    const w = world('mismatch');
    const other = ids.addIdentity({ subscriptionId: SUB, resourceGroup: RG, name: 'someone-else' });
    const err = await caught(verifyManagedIdentity(credential(), { ...w.ref, identityResourceId: other.resourceId }, opts));
    expect(err).toBeInstanceOf(IdentityNotFoundError);
    expect(err.message).toContain(`managed identity ${w.identity.clientId} not found at identityResourceId ${other.resourceId}: that identity's client id is ${other.clientId}`);
  });

  test('attached to a pool carrying another identity: the message names what the pool carries', async () => {
    const w = world('wrongid', { attach: false });
    const other = ids.addIdentity({ subscriptionId: SUB, resourceGroup: RG, name: 'other-pool-id' });
    ids.attach(w.pool, other);
    const err = await caught(verifyManagedIdentity(credential(), w.ref, opts));
    expect(err).toBeInstanceOf(IdentityNotAttachedError);
    expect(err.message).toContain('it carries other-pool-id');
    expect(err.message).toContain(w.identity.resourceId);
    expect((err as IdentityNotAttachedError).poolName).toBe('pool-wrongid');
  });

  test('both roles missing: one error listing both, each with its az command', async () => {
    const w = world('noroles', { roles: false });
    const err = await caught(verifyManagedIdentity(credential(), w.ref, opts));
    expect(err).toBeInstanceOf(IdentityRoleMissingError);
    const missing = (err as IdentityRoleMissingError).roles;
    expect(missing.map((m) => [m.requirement, m.scope])).toEqual([
      [REQUIRED_ROLES.batch, batchScope],
      [REQUIRED_ROLES.storage, storageScope],
    ]);
    expect(missing[0]!.fix).toBe(`az role assignment create --assignee-object-id ${w.identity.principalId} --assignee-principal-type ServicePrincipal --role "Azure Batch Data Contributor" --scope ${batchScope}`);
    expect(err.message).toContain('lacks role "Azure Batch Data Contributor" on Batch account nfbatch');
    expect(err.message).toContain('Storage Blob Data Contributor');
    for (const m of missing) expect(err.message).toContain(m.fix);
  });

  test.each([
    { reason: 'Storage Blob Data Reader cannot write the work directory', role: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1', scope: storageScope, narrower: false },
    { reason: 'Contributor on the account grants no blob data actions (only keys)', role: CONTRIBUTOR, scope: storageScope, narrower: false },
    { reason: 'a container-scoped assignment does not cover the account', role: BUILT_IN_ROLES.storageBlobDataContributor.id, scope: `${storageScope}/blobServices/default/containers/work`, narrower: true },
    { reason: 'the right role on another storage account', role: BUILT_IN_ROLES.storageBlobDataContributor.id, scope: `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/otheracct`, narrower: false },
  ])('storage role missing: $reason', async ({ role, scope, narrower }) => {
    const w = world(`st${fake.calls.length}`, { roles: false });
    ids.assignRole({ scope: batchScope, roleDefinitionId: BUILT_IN_ROLES.batchDataContributor.id, principalId: w.identity.principalId });
    ids.assignRole({ scope, roleDefinitionId: role, principalId: w.identity.principalId });
    const err = await caught(verifyManagedIdentity(credential(), w.ref, opts));
    expect(err).toBeInstanceOf(IdentityRoleMissingError);
    expect((err as IdentityRoleMissingError).roles.map((m) => m.requirement.target)).toEqual(['storage']);
    expect(err.message.includes('was found but does not cover it')).toBe(narrower);
  });

  test('the role held by another principal does not count', async () => {
    const w = world('otherprincipal', { roles: false });
    const stranger = ids.addIdentity({ subscriptionId: SUB, resourceGroup: RG, name: 'stranger' });
    ids.assignRole({ scope: batchScope, roleDefinitionId: BUILT_IN_ROLES.batchDataContributor.id, principalId: stranger.principalId });
    ids.assignRole({ scope: storageScope, roleDefinitionId: BUILT_IN_ROLES.storageBlobDataContributor.id, principalId: stranger.principalId });
    const err = await caught(verifyManagedIdentity(credential(), w.ref, opts));
    expect((err as IdentityRoleMissingError).roles).toHaveLength(2);
  });

  test('a missing pool is an InvalidInputError of its own, not one of the three', async () => {
    const w = world('poolgone');
    const err = await caught(verifyManagedIdentity(credential(), { ...w.ref, poolName: 'no-such-pool' }, opts));
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as unknown as { code?: unknown }).code).toBeUndefined();
    expect(err.message).toBe(`Batch pool no-such-pool (Batch account ${ACCOUNT}, resource group ${RG}, subscription ${SUB}) not found (HTTP 404 ResourceNotFound): check poolName and batchAccountName`);
  });
});

describe('the broker itself refused: sanitized errors, distinct from the misconfigurations', () => {
  test.each([
    { reason: 'listing identities', kind: 'identityList' },
    { reason: 'reading the pool', kind: 'pool' },
    { reason: 'listing role assignments', kind: 'roleAssignments' },
  ])('403 AuthorizationFailed while $reason: PermissionDeniedError without a code', async ({ kind }) => {
    const w = world(`deny${kind}`);
    fake.failNext(1, { kinds: [kind], status: 403, code: 'AuthorizationFailed' });
    const err = await caught(verifyManagedIdentity(credential(), w.ref, opts));
    expect(err).toBeInstanceOf(PermissionDeniedError);
    expect(err).not.toBeInstanceOf(IdentityRoleMissingError);
    expect((err as unknown as { code?: unknown }).code).toBeUndefined();
    expect(err.message).toContain("the broker's identity is not allowed to do this (HTTP 403 AuthorizationFailed)");
    expect(err.message).not.toContain('injected failure');
  });

  test('ARM refuses the token: AuthenticationFailedError; the token is not in the message', async () => {
    const w = world('badtoken');
    const bogus = 'eyJhbGciOi.bogus-token-value.sig';
    const cred: TokenCredential = { getToken: async (): Promise<AccessToken> => ({ token: bogus, expiresOnTimestamp: Date.now() + 3_600_000 }) };
    const err = await caught(verifyManagedIdentity(cred, w.ref, opts));
    expect(err).toBeInstanceOf(AuthenticationFailedError);
    expect(err.message).toContain("Azure refused the broker's token (HTTP 401 InvalidAuthenticationToken)");
    expect(`${err.message}\n${err.stack ?? ''}`).not.toContain(bogus);
    expect(fake.calls.filter((c) => c.kind === 'identityList').at(-1)?.status).toBe(401);
  });

  test('Entra refuses the client secret: AuthenticationFailedError, no ARM call', async () => {
    const w = world('badsecret');
    const wrong = 'wrong-secret~zyxwvutsrqponmlkjihgfedcba';
    const from = fake.calls.length;
    const err = await caught(verifyManagedIdentity(credential(wrong), w.ref, opts));
    expect(err).toBeInstanceOf(AuthenticationFailedError);
    expect(err.message).toContain('invalid_client');
    expect(since(from)).toEqual([]);
  });

  test('ARM busy (503) on the pool: retryable ConnectionError', async () => {
    const w = world('busy');
    fake.failNext(1, { kinds: ['pool'] });
    const err = await caught(verifyManagedIdentity(credential(), w.ref, opts));
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toContain('HTTP 503 ServerBusy');
  });
});

describe('no way to a key', () => {
  test('a ref carrying a key is refused before any call, naming the field, not the value', async () => {
    const w = world('withkey');
    const key = fake.generateKey();
    const from = fake.calls.length;
    const err = await caught(verifyManagedIdentity(credential(), { ...w.ref, batchKey: key } as ManagedIdentityRef, opts));
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err.message).toMatch(/^batchKey: not a field of a managed-identity verification \(it takes no key or secret/);
    expect(err.message).not.toContain(key);
    expect(fake.calls.length).toBe(from);
  });

  test('malformed refs are refused before any call', async () => {
    const w = world('malformed');
    const from = fake.calls.length;
    await expect(verifyManagedIdentity(credential(), { ...w.ref, identityClientId: 'not-a-guid' }, opts)).rejects.toThrow('identityClientId: must be a GUID');
    await expect(verifyManagedIdentity(credential(), { ...w.ref, poolName: 'bad pool' }, opts)).rejects.toThrow('poolName:');
    await expect(verifyManagedIdentity(credential(), { ...w.ref, identityResourceId: '/subscriptions/x' }, opts)).rejects.toThrow('identityResourceId:');
    expect(fake.calls.length).toBe(from);
  });
});

describe('nothing sensitive leaks', () => {
  test('no token, client secret or key in any error message or SDK log line', () => {
    expect(errors.length).toBeGreaterThanOrEqual(15);
    expect(logLines.length).toBeGreaterThan(20);
    expect(fake.issuedTokens().length).toBeGreaterThan(0);
    const secrets = [CLIENT_SECRET, 'wrong-secret~zyxwvutsrqponmlkjihgfedcba', 'eyJhbGciOi.bogus-token-value.sig', ...fake.issuedTokens(), ...fake.issuedKeys()];
    const haystacks = [...errors.map((e) => `${e.message}\n${e.stack ?? ''}`), ...logLines];
    for (const s of secrets) for (const h of haystacks) expect(h.includes(s)).toBe(false);
  });
});
