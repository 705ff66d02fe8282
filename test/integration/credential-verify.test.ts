/**
 * `POST .../credentials/:name/verify` and `secret-broker credentials verify`: live checks of every
 * kind against real peers (moto for AWS, Debian's docker-registry with htpasswd, Azurite for Blob
 * SharedKey) and the Azure fake (Entra token endpoint, Batch data plane, pools and identities). A
 * working credential passes; a broken one fails with a sanitized reason; no report, log or CLI
 * output carries a secret.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildApiServer } from '../../api/server';
import { BUILT_IN_ROLES } from '../../verifiers/azure-managed-identity';
import type { VerifyReport } from '../../verifiers';
import { FakeRuns, grant, harnessIdentity, type TestIdentity } from '../api/helpers';
import { openVault } from '../../store/vault';
import type { VaultApi } from '../../store/types';
import { AzureFake } from '../harness/azure-fake';
import { AzureIdentityFake } from '../harness/azure-fake-identity';
import { startAzurite, type AzuriteBlob } from '../harness/azurite';
import { DockerRegistry } from '../harness/docker-registry';
import { adminIam, createUser, startMoto, uniqueName, type MotoServer } from '../harness/moto';
import { startSshd, type Sshd } from '../harness/sshd';
import { runCliCaptured } from '../harness/cli';

const SUB = '5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d';
const TENANT = '1f2e3d4c-5b6a-4987-a6b5-c4d3e2f1a0b9';
const CLIENT_ID = '7c6b5a49-3827-4d16-9e05-f4e3d2c1b0a9';
const CLIENT_SECRET = `verify~${randomBytes(18).toString('base64url')}`;
const RG = 'rg-verify';
const STORAGE = 'verifystore';
const STORAGE_KEY = randomBytes(64).toString('base64');
const REG_PASSWORD = `reg-${randomBytes(12).toString('hex')}`;

let fake: AzureFake;
let ids: AzureIdentityFake;
let azurite: AzuriteBlob;
let registry: DockerRegistry;
let moto: MotoServer;
let sshd: Sshd;
/** The real vault with the real credential kinds and platforms (not the API suites' test doubles). */
let tv: { vault: VaultApi; close(): Promise<void> };
let app: ReturnType<typeof buildApiServer>;
let api: string;
const logLines: string[] = [];
const secrets: string[] = [CLIENT_SECRET, STORAGE_KEY, REG_PASSWORD];
let admin: TestIdentity;

beforeAll(async () => {
  [fake, azurite, registry, moto, tv, sshd] = await Promise.all([
    AzureFake.start(),
    startAzurite([{ name: STORAGE, key1: STORAGE_KEY }]),
    DockerRegistry.start({ tls: true, users: { puller: REG_PASSWORD } }),
    startMoto(),
    (async () => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-verify-'));
      const vault = await openVault({ dataDir, masterKey: randomBytes(32), env: {} });
      return { vault, close: async () => (await vault.close(), fs.rmSync(dataDir, { recursive: true, force: true })) };
    })(),
    startSshd(),
  ]);
  fake.addClient({ tenantId: TENANT, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
  ids = AzureIdentityFake.install(fake);
  const log = (level: string) => (message: string, fields?: Record<string, unknown>) => void logLines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  app = buildApiServer({
    vault: tv.vault,
    runs: new FakeRuns(tv.vault),
    logger: { info: log('info'), warn: log('warn'), error: log('error') },
    verifyDeps: {
      // One CA bundle: the Azure fake's and the registry's (production trusts the public CAs).
      azure: { authorityHost: fake.url, armEndpoint: fake.url, ca: `${fake.ca}\n${registry.ca!}`, blobEndpoint: azurite.endpointTemplate },
      aws: { endpoint: moto.endpoint },
    },
  });
  api = await app.listen({ host: '127.0.0.1', port: 0 });
  const ws = await tv.vault.createWorkspace('verify');
  // The caller: an admin of the workspace (credentials and their checks are theirs).
  admin = await harnessIdentity(tv.vault);
  await grant(tv.vault, ws.id, admin.id, 'admin');
  await tv.vault.createCredential({
    workspaceId: ws.id,
    name: 'azure-mgmt',
    kind: 'azure-entra',
    fields: { subscriptionId: SUB, tenantId: TENANT, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, storageAccountName: STORAGE },
  });
}, 120_000);

afterAll(async () => {
  await app?.close();
  await Promise.all([fake?.stop(), azurite?.stop(), registry?.close(), moto?.stop(), tv?.close(), sshd?.close()]);
});

afterEach(() => {
  // Nothing secret in any log line of the API.
  const text = logLines.join('\n');
  for (const s of [...secrets, ...fake.issuedTokens(), ...fake.issuedKeys()]) expect(text).not.toContain(s);
});

const SECRET_FIELDS = new Set(['secretAccessKey', 'password', 'storageKey', 'batchKey', 'clientSecret', 'privateKey', 'passphrase']);

async function create(name: string, kind: string, fields: Record<string, unknown>): Promise<void> {
  for (const [k, v] of Object.entries(fields)) if (SECRET_FIELDS.has(k) && typeof v === 'string') secrets.push(v);
  await tv.vault.createCredential({ workspaceId: 'verify', name, kind, fields });
}

async function verify(name: string, body: Record<string, unknown> = {}): Promise<{ status: number; report: VerifyReport & { field?: string } }> {
  const res = await fetch(`${api}/v1/workspaces/verify/credentials/${name}/verify`, { method: 'POST', headers: { 'content-type': 'application/json', ...admin.headers }, body: JSON.stringify(body) });
  const text = await res.text();
  for (const s of [...secrets, ...fake.issuedTokens()]) expect(text).not.toContain(s);
  return { status: res.status, report: JSON.parse(text) as VerifyReport & { field?: string } };
}

const statuses = (r: VerifyReport) => Object.fromEntries(r.checks.map((c) => [c.check, c.status]));

describe('verify per kind', () => {
  test('aws: STS names the user', async () => {
    const user = await createUser(adminIam(moto.endpoint), uniqueName('verify'), {});
    await create('aws-ok', 'aws', { accessKeyId: user.accessKeyId, secretAccessKey: user.secretAccessKey });
    const ok = await verify('aws-ok');
    expect(ok.status).toBe(200);
    expect(ok.report.ok).toBe(true);
    expect(ok.report.checks[0]!.detail).toContain(user.arn);
  });

  test('container-registry: a v2 login passes; a wrong password fails', async () => {
    await create('reg-ok', 'container-registry', { registryServer: registry.host, userName: 'puller', password: REG_PASSWORD });
    await create('reg-bad', 'container-registry', { registryServer: registry.host, userName: 'puller', password: `${REG_PASSWORD}-wrong` });
    const ok = await verify('reg-ok');
    expect(ok.report.checks[0]!.detail).toMatch(/logged in/);
    expect(ok.report).toMatchObject({ ok: true, kind: 'container-registry' });
    const bad = await verify('reg-bad');
    expect(bad.status).toBe(200);
    expect(bad.report.ok).toBe(false);
    expect(bad.report.checks[0]).toMatchObject({ status: 'failed', detail: expect.stringMatching(/AuthenticationFailed/) });
  });

  test('azure-shared-key: Storage SharedKey against Azurite; Batch through ARM + the data plane; skipped without a management credential', async () => {
    const acct = fake.addBatchAccount({ subscriptionId: SUB, resourceGroup: RG, name: 'verifybatch' });
    await create('keys-ok', 'azure-shared-key', { storageAccountName: STORAGE, storageKey: STORAGE_KEY, batchAccountName: acct.name, batchKey: acct.primary });
    await create('keys-bad', 'azure-shared-key', { storageAccountName: STORAGE, storageKey: randomBytes(64).toString('base64'), batchAccountName: acct.name, batchKey: randomBytes(64).toString('base64') });

    const partial = await verify('keys-ok');
    expect(statuses(partial.report)).toEqual({ 'storage SharedKey': 'passed', 'batch SharedKey': 'skipped' });
    expect(partial.report.ok).toBe(true);

    const full = await verify('keys-ok', { managementCredential: 'azure-mgmt', resourceGroup: RG });
    expect(statuses(full.report)).toEqual({ 'storage SharedKey': 'passed', 'batch SharedKey': 'passed' });
    expect(fake.callsOf('dataplane').some((c) => c.account === acct.name && c.detail === 'primary')).toBe(true);

    const bad = await verify('keys-bad', { managementCredential: 'azure-mgmt', resourceGroup: RG });
    expect(statuses(bad.report)).toEqual({ 'storage SharedKey': 'failed', 'batch SharedKey': 'failed' });
    expect(bad.report.ok).toBe(false);
    // Verifying never regenerates or lists keys.
    expect(fake.callsOf('regenerateKeys')).toHaveLength(0);
    expect(fake.callsOf('listKeys')).toHaveLength(0);
  });

  test('azure-entra: Entra issues a token; a wrong secret is refused', async () => {
    await create('entra-bad', 'azure-entra', { subscriptionId: SUB, tenantId: TENANT, clientId: CLIENT_ID, clientSecret: `wrong~${randomBytes(18).toString('base64url')}`, storageAccountName: STORAGE });
    expect((await verify('azure-mgmt')).report).toMatchObject({ ok: true, checks: [{ check: 'entra token', status: 'passed' }] });
    const bad = await verify('entra-bad');
    expect(bad.report.ok).toBe(false);
    expect(bad.report.checks[0]!.detail).toMatch(/AuthenticationFailed.*invalid_client/);
  });

  test('azure-managed-identity: passes when set up; each misconfiguration is its own explicit failure; never a key call', async () => {
    const identity = ids.addIdentity({ subscriptionId: SUB, resourceGroup: RG, name: 'nf-identity' });
    const stray = ids.addIdentity({ subscriptionId: SUB, resourceGroup: RG, name: 'stray-identity' });
    fake.addBatchAccount({ subscriptionId: SUB, resourceGroup: RG, name: 'mibatch' });
    const pool = ids.addPool({ subscriptionId: SUB, resourceGroup: RG, accountName: 'mibatch', name: 'nf-pool', identities: [identity] });
    const batchScope = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Batch/batchAccounts/mibatch`;
    ids.assignRole({ scope: batchScope, roleDefinitionId: BUILT_IN_ROLES.batchDataContributor.id, principalId: identity.principalId });
    ids.assignRole({ scope: `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/${STORAGE}`, roleDefinitionId: BUILT_IN_ROLES.storageBlobDataContributor.id, principalId: identity.principalId });
    const mi = (clientId: string) => ({ poolName: 'nf-pool', identityClientId: clientId, batchAccountName: 'mibatch' });
    await tv.vault.createCredential({ workspaceId: 'verify', name: 'mi-ok', kind: 'azure-managed-identity', fields: mi(identity.clientId) });
    await tv.vault.createCredential({ workspaceId: 'verify', name: 'mi-unknown', kind: 'azure-managed-identity', fields: mi('0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d') });
    await tv.vault.createCredential({ workspaceId: 'verify', name: 'mi-detached', kind: 'azure-managed-identity', fields: mi(stray.clientId) });
    const body = { managementCredential: 'azure-mgmt', resourceGroup: RG, storageAccount: STORAGE };

    expect((await verify('mi-ok')).report.checks[0]).toMatchObject({ status: 'skipped' });
    expect((await verify('mi-ok', body)).report).toMatchObject({ ok: true, checks: [{ status: 'passed', detail: expect.stringContaining(identity.principalId) }] });
    expect((await verify('mi-unknown', body)).report.checks[0]!.detail).toMatch(/^InvalidInputError \(IdentityNotFound\): /);
    expect((await verify('mi-detached', body)).report.checks[0]!.detail).toMatch(/^InvalidInputError \(IdentityNotAttached\): .*not attached/);
    // Attach the stray identity without roles: the role is what is missing now.
    ids.attach(pool, stray);
    const noRole = await verify('mi-detached', body);
    expect(noRole.report.checks[0]!.detail).toMatch(/^PermissionDeniedError \(IdentityRoleMissing\): .*(Azure Batch Data Contributor|Storage Blob Data Contributor)/);
    expect(fake.callsOf('listKeys')).toHaveLength(0);
    expect(fake.callsOf('regenerateKeys')).toHaveLength(0);
  });

  test('ssh: a login to the hpc compute environment\'s host with its pinned host key; a foreign key or a changed host key fails', async () => {
    const cfg = { host: sshd.host, port: sshd.port, user: sshd.user, hostKeyFingerprint: sshd.hostKeyFingerprint, workDir: sshd.makeWorkDir() };
    await create('ssh-ok', 'ssh', { privateKey: sshd.keys.ed25519.privateKey, passphrase: sshd.keys.ed25519.passphrase });
    await tv.vault.createComputeEnv({ workspaceId: 'verify', name: 'cluster', platform: 'hpc', config: cfg, credentialId: 'ssh-ok' });
    await tv.vault.createComputeEnv({ workspaceId: 'verify', name: 'impostor', platform: 'hpc', config: { ...cfg, hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` }, credentialId: 'ssh-ok' });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verify-key-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'not-authorized', '-f', path.join(dir, 'k')]);
    await create('ssh-foreign', 'ssh', { privateKey: fs.readFileSync(path.join(dir, 'k'), 'utf8') });
    fs.rmSync(dir, { recursive: true, force: true });
    expect((await verify('ssh-ok')).report.checks[0]).toMatchObject({ status: 'skipped' });
    const ok = await verify('ssh-ok', { computeEnv: 'cluster' });
    expect(ok.report).toMatchObject({ ok: true, checks: [{ check: 'ssh login', status: 'passed', detail: expect.stringContaining(sshd.hostKeyFingerprint) }] });
    const wrongHost = await verify('ssh-ok', { computeEnv: 'impostor' });
    expect(wrongHost.report.checks[0]!.detail).toMatch(/^HostKeyMismatchError/);
    expect((await verify('ssh-foreign', { computeEnv: 'cluster' })).report.checks[0]!.detail).toMatch(/^AuthenticationFailedError/);
    await create('ssh-rsa', 'ssh', { privateKey: sshd.keys.rsa.privateKey });
    expect((await verify('ssh-rsa', { computeEnv: 'cluster' })).report.ok).toBe(true);
  });

  test('bad requests: 400 naming the field; unknown credential 404; a management credential of the wrong kind', async () => {
    expect((await verify('azure-mgmt', { resourceGroup: 'bad/group' })).report).toMatchObject({ field: 'resourceGroup' });
    expect((await verify('azure-mgmt', { storageAccount: 'Not_A_Name' })).report).toMatchObject({ field: 'storageAccount' });
    expect((await verify('azure-mgmt', { extra: true })).report).toMatchObject({ field: 'extra' });
    expect((await verify('no-such')).status).toBe(404);
    const wrongKind = await verify('azure-mgmt', { managementCredential: 'reg-ok', resourceGroup: RG });
    expect(wrongKind).toMatchObject({ status: 400, report: { field: 'managementCredential' } });
    expect((await verify('azure-mgmt', { computeEnv: 'no-such-ce' })).status).toBe(404);
  });
});

describe('secret-broker credentials verify', () => {
  async function cli(args: string[]) {
    const r = await runCliCaptured(['--api', api, ...args], { BROKER_TOKEN: admin.token });
    for (const s of secrets) expect(r.stdout + r.stderr).not.toContain(s);
    return r;
  }

  test('prints a table of checks; exit 0 when they pass, 1 when one fails', async () => {
    const ok = await cli(['credentials', 'verify', 'reg-ok', '--workspace', 'verify']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/registry v2 login\s+passed/);
    const bad = await cli(['credentials', 'verify', 'reg-bad', '--workspace', 'verify']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/registry v2 login\s+failed/);
    expect(bad.stderr).toMatch(/a check failed/);
  });
});
