/**
 * acrTokenRotation (rotators/acr-token.ts) step by step through the real
 * @azure/identity and @azure/arm-containerregistry clients against the HTTPS Azure fake with its ACR
 * routes (test/harness/azure-fake-acr.ts), a real vault, and a real registry as the login server:
 * docker-registry with token auth whose realm is the fake's token service, so verifyStored is a real
 * Registry API v2 login (Bearer challenge, Basic to the realm, Bearer to /v2/) that refuses a password
 * as soon as ACR regenerated it. Every error is checked for passwords, tokens and the client secret.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AzureLogger, setLogLevel } from '@azure/logger';
import { verifyRegistryCredential } from '../../remote/registry/login';
import { createRotator, rotationKind } from '../../rotators';

/** The kind as the services describe it, and its rotator as the worker builds it. */
const acrTokenRotation = { ...rotationKind('acr-token-password'), create: createRotator };
import type { RotatorDeps, TwoSlotRotator } from '../../rotators/types';
import { ValidationError, AuthenticationFailedError, ConnectionError, InvalidInputError, RotationRefusedError } from '../../domain/errors';
import type { VaultApi } from '../../store/types';
import { openVault } from '../../store/vault';
import type { RotationTarget } from '../../domain/rotation';
import { AzureFake } from '../harness/azure-fake';
import { AcrFake, type FakeAcrRegistry } from '../harness/azure-fake-acr';
import { leaks } from '../harness/credential-vault';
import { DockerRegistry } from '../harness/docker-registry';
import { rejectionCatcher } from '../harness/caught';

jest.setTimeout(60_000);

const SUB = '5d6e7f80-91a2-4b3c-8d4e-5f6a7b8c9d0e';
const TENANT = '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
const CLIENT_ID = '9f8e7d6c-5b4a-4c3d-9e2f-1a0b9c8d7e6f';
const CLIENT_SECRET = `acr-mgmt~${randomBytes(18).toString('base64url')}`;
const RG = 'rg-registry';
const REGISTRY = 'sbregistry01';

let fake: AzureFake;
let acr: AcrFake;
let login: DockerRegistry;
let registry: FakeAcrRegistry;
let vault: VaultApi;
let vaultDir: string;
let workspaceId: string;
let mgmtId: string;
let deps: RotatorDeps;
let seq = 0;
const errors: Error[] = [];
const logLines: string[] = [];
const originalLog = AzureLogger.log;

const caught = rejectionCatcher(errors);

beforeAll(async () => {
  fake = await AzureFake.start();
  fake.addClient({ tenantId: TENANT, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
  acr = AcrFake.install(fake);
  login = await DockerRegistry.start({ tls: true, token: acr.tokenAuth(REGISTRY, `${REGISTRY}.azurecr.io`) });
  registry = acr.addRegistry({ subscriptionId: SUB, resourceGroup: RG, name: REGISTRY, loginServer: login.host });
  vaultDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-acr-rotation-'));
  vault = await openVault({ dataDir: vaultDir, masterKey: randomBytes(32) });
  workspaceId = (await vault.createWorkspace('acr-ws')).id;
  mgmtId = (
    await vault.createCredential({
      workspaceId,
      name: 'azure-mgmt',
      kind: 'azure-entra',
      fields: { subscriptionId: SUB, tenantId: TENANT, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, storageAccountName: 'mgmtstore' },
    })
  ).id;
  // One CA bundle for the fake's ARM, Entra and token service and the registry's TLS.
  deps = { vault, azure: { authorityHost: fake.url, armEndpoint: fake.url, ca: `${fake.ca}\n${login.ca!}` } };
  setLogLevel('verbose');
  AzureLogger.log = (...args: unknown[]) => {
    logLines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
  };
}, 60_000);

afterAll(async () => {
  setLogLevel();
  AzureLogger.log = originalLog;
  const secrets = [...acr.issuedPasswords(), ...acr.issuedJwts(), ...fake.issuedTokens(), CLIENT_SECRET];
  expect(errors.length).toBeGreaterThan(10);
  for (const e of errors) expect(leaks(e, secrets)).toBe(false);
  // The SDKs logged (verbose) every request; no password, token or secret in any line.
  expect(logLines.length).toBeGreaterThan(0);
  expect(leaks(logLines.join('\n'), secrets)).toBe(false);
  await vault?.close();
  if (vaultDir) fs.rmSync(vaultDir, { recursive: true, force: true });
  await login?.close();
  await fake?.stop();
});

/** A token of the fake registry and a credential holding `slot`'s password (marker as given). */
async function setup(opts: { slot?: 'password1' | 'password2'; marker?: string | null; passwords?: Array<'password1' | 'password2'>; status?: 'enabled' | 'disabled' } = {}) {
  const tokenName = `nf-pull-${++seq}`;
  const token = acr.addToken(registry, tokenName, { passwords: opts.passwords, status: opts.status });
  const slot = opts.slot ?? 'password1';
  const marker = opts.marker === undefined ? slot : opts.marker;
  const cred = await vault.createCredential({
    workspaceId,
    name: `acr-${tokenName}`,
    kind: 'container-registry',
    fields: { userName: tokenName, password: token.passwords[slot]?.value ?? 'not-a-current-password-000', registryServer: login.host, ...(marker ? { tokenPasswordSlot: marker } : {}) },
  });
  const target: RotationTarget = { kind: 'acr-token-password', credentialId: cred.id, managementCredentialId: mgmtId, resourceGroup: RG, registryName: REGISTRY, tokenName };
  const rotator = await acrTokenRotation.create(target, deps);
  return { token, tokenName, credId: cred.id, target, rotator };
}

function callsOf(kind: string, tokenOrRegistry?: string) {
  return fake.calls.filter((c) => c.kind === kind && (tokenOrRegistry === undefined || c.account === tokenOrRegistry));
}

async function stored(id: string): Promise<{ password: string; slot: unknown }> {
  const c = await vault.readCredential(id);
  return { password: c.secret.password!, slot: c.public.tokenPasswordSlot };
}

describe('describe: target checks', () => {
  let base: RotationTarget;
  beforeAll(async () => {
    base = (await setup()).target;
  });

  test('account and label name subscription, group, registry and token', async () => {
    await expect(acrTokenRotation.describe(base, vault)).resolves.toEqual({
      account: `acr-token-password:${SUB}:${RG}:${REGISTRY}:${base.tokenName}`,
      label: `token ${base.tokenName} of container registry ${REGISTRY} (resource group ${RG}, subscription ${SUB})`,
    });
  });

  test.each([
    { reason: 'no registry name', over: { registryName: undefined }, field: 'registryName', rule: /is required for acr-token-password rotation/ },
    { reason: 'the login server instead of the registry name', over: { registryName: 'sbregistry01.azurecr.io' }, field: 'registryName', rule: /5 to 50 letters and digits \(the registry resource name, not its login server\)/ },
    { reason: 'no token name', over: { tokenName: '' }, field: 'tokenName', rule: /is required/ },
    { reason: 'a token name too short', over: { tokenName: 'tok' }, field: 'tokenName', rule: /5 to 50 letters, digits and hyphens/ },
    { reason: 'another token than the credential’s user', over: { tokenName: 'someone-else' }, field: 'tokenName', rule: /must be the credential's userName/ },
    { reason: 'no resource group', over: { resourceGroup: undefined }, field: 'resourceGroup', rule: /is required/ },
    { reason: 'no management credential', over: { managementCredentialId: undefined }, field: 'managementCredentialId', rule: /is required for Azure rotations/ },
    { reason: 'a credential of another kind', over: { credentialId: 'MGMT' }, field: 'credentialId', rule: /must be a container-registry credential for acr-token-password rotation; "azure-mgmt" is azure-entra/ },
  ])('$reason: ValidationError naming $field', async ({ over, field, rule }) => {
    const target = { ...base, ...over, ...(over.credentialId === 'MGMT' ? { credentialId: mgmtId } : {}) } as RotationTarget;
    const err = await caught(acrTokenRotation.describe(target, vault));
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe(field);
    expect((err as ValidationError).rule).toMatch(rule);
    await expect(acrTokenRotation.create(target, deps)).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('a full rotation through the real SDK', () => {
  test.each([{ lro: 'sync' as const }, { lro: 'location' as const }])('generateCredentials answered $lro: inspect, regenerate (stored at once), store, verify, retire', async ({ lro }) => {
    acr.lro = lro;
    try {
      const { token, tokenName, credId, rotator } = await setup();
      const first = token.passwords.password1!.value;
      await expect(rotator.inspect()).resolves.toEqual({ rotatable: true, slots: ['password1', 'password2'], stored: 'password1', usedElsewhere: [], fixedSlots: false });
      await rotator.verifyStored();

      const oldSpare = token.passwords.password2!.value;
      await expect(rotator.regenerate('password2')).resolves.toBe('password2');
      const now = await stored(credId);
      expect(now.slot).toBe('password2');
      expect(now.password === token.passwords.password2!.value).toBe(true);
      expect(now.password === oldSpare).toBe(false);
      await rotator.store('password2');
      await rotator.verifyStored();
      expect(callsOf('acrToken', REGISTRY).at(-1)).toMatchObject({ status: 200, detail: 'password2' });
      // The old password still works during the grace period.
      await verifyRegistryCredential(login.host, tokenName, first, { ca: deps.azure!.ca });

      await rotator.retire('password1');
      expect(token.passwords.password1!.value === first).toBe(false);
      const err = await caught(verifyRegistryCredential(login.host, tokenName, first, { ca: deps.azure!.ca }));
      expect(err).toBeInstanceOf(AuthenticationFailedError);
      await rotator.verifyStored();
      await expect(rotator.inspect()).resolves.toMatchObject({ stored: 'password2', usedElsewhere: [] });

      const gen = callsOf('generateCredentials', REGISTRY).slice(-2);
      expect(gen.map((c) => [c.method, c.status, c.detail])).toEqual([
        ['POST', lro === 'sync' ? 200 : 202, 'password2'],
        ['POST', lro === 'sync' ? 200 : 202, 'password1'],
      ]);
      for (const c of gen) expect(c.query['api-version']).toMatch(/^\d{4}-\d{2}-\d{2}/);
      if (lro === 'location') expect(callsOf('operationResult', REGISTRY).slice(-2).map((c) => c.status)).toEqual([200, 200]);
    } finally {
      acr.lro = 'sync';
    }
  });

  test('the next rotation moves back: the rotator works from either slot', async () => {
    const { token, credId, rotator } = await setup({ slot: 'password2' });
    await expect(rotator.inspect()).resolves.toMatchObject({ stored: 'password2' });
    await rotator.regenerate('password1');
    expect((await stored(credId)).password === token.passwords.password1!.value).toBe(true);
    await rotator.verifyStored();
    await rotator.retire('password2');
    await rotator.verifyStored();
  });
});

describe('lost answers and retried steps', () => {
  test('generateCredentials applied but its answer lost: ConnectionError, credential unchanged and working; the retry generates again', async () => {
    const { token, credId, rotator } = await setup();
    const before = await stored(credId);
    const spareBefore = token.passwords.password2!.value;
    fake.failNext(1, { kinds: ['generateCredentials'], destroy: true, afterApply: true });
    const err = await caught(rotator.regenerate('password2'));
    expect(err).toBeInstanceOf(ConnectionError);
    expect(callsOf('generateCredentials').at(-1)).toMatchObject({ injected: true, status: -1 });
    // ACR did regenerate the spare; nobody has that value, and nobody used the slot.
    expect(token.passwords.password2!.value === spareBefore).toBe(false);
    expect(await stored(credId)).toEqual(before);
    await rotator.verifyStored();
    await expect(rotator.inspect()).resolves.toMatchObject({ stored: 'password1' });

    await expect(rotator.regenerate('password2')).resolves.toBe('password2');
    expect((await stored(credId)).password === token.passwords.password2!.value).toBe(true);
    await rotator.verifyStored();
  });

  test('a busy ARM on generate: ConnectionError (retryable), nothing changed', async () => {
    const { token, credId, rotator } = await setup();
    const spare = token.passwords.password2!.value;
    fake.failNext(1, { kinds: ['generateCredentials'], status: 503, code: 'ServerBusy' });
    const err = await caught(rotator.regenerate('password2'));
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toMatch(/^generateCredentials password2 on token nf-pull-\d+ of container registry sbregistry01 .*: Azure answered HTTP 503 ServerBusy$/);
    expect(token.passwords.password2!.value === spare).toBe(true);
    expect((await stored(credId)).slot).toBe('password1');
  });

  test('regenerate retried after its vault write went through: returns the slot, generates nothing', async () => {
    const { rotator } = await setup();
    await rotator.regenerate('password2');
    const n = callsOf('generateCredentials').length;
    await expect(rotator.regenerate('password2')).resolves.toBe('password2');
    expect(callsOf('generateCredentials').length).toBe(n);
  });

  test('store can only confirm: no-op on the recorded slot, RotationRefusedError on the other', async () => {
    const { credId, rotator } = await setup();
    const before = await vault.getCredential(credId);
    await rotator.store('password1');
    const err = await caught(rotator.store('password2'));
    expect(err).toBeInstanceOf(RotationRefusedError);
    expect(err.message).toMatch(/ACR shows a token password only when it is generated, so password2's value cannot be read back .* the credential holds password1\. Nothing was changed$/);
    expect((await vault.getCredential(credId)).updatedAt).toBe(before.updatedAt);
  });
});

describe('refusals: a slot in use is never regenerated', () => {
  test('retire of the slot the credential uses: RotationRefusedError, nothing sent to ACR', async () => {
    const { token, rotator } = await setup();
    const n = callsOf('generateCredentials').length;
    const value = token.passwords.password1!.value;
    const err = await caught(rotator.retire('password1'));
    expect(err).toBeInstanceOf(RotationRefusedError);
    expect(err.message).toMatch(/^retire \(regenerate\) password1 of token nf-pull-\d+ .*: the rotated credential uses it; nothing was changed$/);
    expect(callsOf('generateCredentials').length).toBe(n);
    expect(token.passwords.password1!.value === value).toBe(true);
  });

  test('another credential of the same token records the spare: regenerate refused, usedElsewhere says so', async () => {
    const { token, tokenName, rotator } = await setup();
    await vault.createCredential({
      workspaceId,
      name: `acr-${tokenName}-other`,
      kind: 'container-registry',
      fields: { userName: tokenName, password: token.passwords.password2!.value, registryServer: login.host, tokenPasswordSlot: 'password2' },
    });
    await expect(rotator.inspect()).resolves.toMatchObject({ stored: 'password1', usedElsewhere: ['password2'] });
    const n = callsOf('generateCredentials').length;
    const err = await caught(rotator.regenerate('password2'));
    expect(err).toBeInstanceOf(RotationRefusedError);
    expect(err.message).toMatch(/another credential in the vault uses it; nothing was changed$/);
    expect(callsOf('generateCredentials').length).toBe(n);
  });

  test('another credential without a marker: the same password counts as the same slot; a different one refuses', async () => {
    const { token, tokenName, rotator } = await setup();
    const same = await vault.createCredential({
      workspaceId,
      name: `acr-${tokenName}-copy`,
      kind: 'container-registry',
      fields: { userName: tokenName, password: token.passwords.password1!.value, registryServer: login.host },
    });
    await expect(rotator.inspect()).resolves.toMatchObject({ stored: 'password1', usedElsewhere: ['password1'] });
    await vault.deleteCredential(same.id);
    const unknown = await vault.createCredential({
      workspaceId,
      name: `acr-${tokenName}-unknown`,
      kind: 'container-registry',
      fields: { userName: tokenName, password: token.passwords.password2!.value, registryServer: login.host },
    });
    const err = await caught(rotator.inspect());
    expect(err).toBeInstanceOf(RotationRefusedError);
    expect(err.message).toContain(`credential "acr-${tokenName}-unknown" (${unknown.id}) holds a password of the same token but does not record which (tokenPasswordSlot)`);
    expect(await caught(rotator.regenerate('password2'))).toBeInstanceOf(RotationRefusedError);
  });

  test('a credential without tokenPasswordSlot: InvalidInputError saying how to fix it, nothing changed', async () => {
    const { rotator } = await setup({ marker: null });
    const n = callsOf('generateCredentials').length;
    for (const step of [() => rotator.inspect(), () => rotator.regenerate('password2'), () => rotator.retire('password2')]) {
      const err = await caught(step());
      expect(err).toBeInstanceOf(InvalidInputError);
      expect(err.message).toMatch(/does not record which of the token's passwords it holds \(tokenPasswordSlot, password1 or password2\); ACR cannot tell by value/);
    }
    expect(callsOf('generateCredentials').length).toBe(n);
  });

  test('a slot name ACR does not have: InvalidInputError', async () => {
    const { rotator } = await setup();
    expect(await caught(rotator.regenerate('Secondary'))).toBeInstanceOf(InvalidInputError);
    expect(await caught(rotator.retire('password3'))).toBeInstanceOf(InvalidInputError);
  });
});

describe('what inspect finds', () => {
  test('a disabled token: nothing to rotate, with the reason', async () => {
    const { tokenName, rotator } = await setup({ status: 'disabled' });
    await expect(rotator.inspect()).resolves.toEqual({
      rotatable: false,
      reason: `token ${tokenName} of container registry ${REGISTRY} (resource group ${RG}, subscription ${SUB}) is disabled: its passwords do not work, there is nothing to rotate`,
      slots: ['password1', 'password2'],
      stored: null,
      usedElsewhere: [],
      fixedSlots: false,
    });
  });

  test('the recorded slot holds no password at ACR: stored null', async () => {
    const { rotator } = await setup({ passwords: ['password1'], slot: 'password1', marker: 'password2' });
    await expect(rotator.inspect()).resolves.toMatchObject({ rotatable: true, stored: null });
  });

  test('a credential for another registry’s login server: InvalidInputError', async () => {
    const tokenName = `nf-pull-${++seq}`;
    const token = acr.addToken(registry, tokenName);
    const cred = await vault.createCredential({
      workspaceId,
      name: `acr-${tokenName}`,
      kind: 'container-registry',
      fields: { userName: tokenName, password: token.passwords.password1!.value, registryServer: 'otherregistry.azurecr.io', tokenPasswordSlot: 'password1' },
    });
    const rotator: TwoSlotRotator = await acrTokenRotation.create({ kind: 'acr-token-password', credentialId: cred.id, managementCredentialId: mgmtId, resourceGroup: RG, registryName: REGISTRY, tokenName }, deps);
    const err = await caught(rotator.inspect());
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err.message).toContain(`the credential's registryServer otherregistry.azurecr.io is not the registry's login server ${login.host}`);
  });

  test('an unknown registry and an unknown token: not found, naming them', async () => {
    const { target } = await setup();
    const noReg = await acrTokenRotation.create({ ...target, registryName: 'nosuchregistry' }, deps);
    expect((await caught(noReg.inspect())).message).toBe(`registries.get: container registry nosuchregistry (resource group ${RG}, subscription ${SUB}) not found (HTTP 404 ResourceNotFound)`);
    registry.tokens.delete(target.tokenName!.toLowerCase());
    const rotator = await acrTokenRotation.create(target, deps);
    const err = await caught(rotator.inspect());
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err.message).toBe(`tokens.get: token ${target.tokenName} of container registry ${REGISTRY} (resource group ${RG}, subscription ${SUB}) not found (HTTP 404 ResourceNotFound)`);
  });

  test('verifyStored with a password ACR no longer accepts: AuthenticationFailedError from the real registry login', async () => {
    const { token, rotator } = await setup();
    token.passwords.password1 = { value: randomBytes(39).toString('base64'), creationTime: new Date().toISOString() };
    const err = await caught(rotator.verifyStored());
    expect(err).toBeInstanceOf(AuthenticationFailedError);
    expect(err.message).toMatch(/refused the user name and password \(HTTP 401\)$/);
  });
});

