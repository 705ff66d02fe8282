/**
 * Permissions, against the Secret Manager emulator in IAM_MODE=strict behind the IAM emulator
 * loaded with test/fixtures/gcp-iam-policy.yaml. The broker's principal is the credential's
 * client_email, sent as x-emulator-principal.
 */
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { googleCredential } from '../../credentials/google';
import { createGcpTarget, type GcpTargetOptions } from '../../targets/gcp/target';
import type { RunContext, SecretTarget, TargetDeps } from '../../targets/types';
import type { ComputeEnvRecord } from '../../domain/run';
import { ErrorType } from '../../domain/errors';
import { FIXTURES, startGcpEmulator, type GcpEmulator } from '../harness/gcp-emulator';
import { serviceAccountEmail, serviceAccountKeyText, TEST_PROJECT } from '../fixtures/gcp-service-account';
import { PermissionDeniedError } from '../../domain/errors';

jest.setTimeout(60_000);

let emu: GcpEmulator;
const targets: SecretTarget[] = [];
const OBSERVER = `serviceAccount:${serviceAccountEmail('observer')}`;
const parent = `projects/${TEST_PROJECT}`;

function ceFor(batchServiceAccount = serviceAccountEmail('batch')): ComputeEnvRecord {
  return { id: 'ce-gcp-iam', workspaceId: 'ws-iam', name: 'google-batch', platform: 'gcp', config: { location: 'us-central1', batchServiceAccount }, credentialId: 'cred' };
}

function run(): RunContext {
  return { runId: 'iam' + randomBytes(4).toString('hex'), workspaceId: 'ws-iam', computeEnv: ceFor() };
}

async function targetAs(account: string, options: GcpTargetOptions = {}, ce = ceFor()): Promise<SecretTarget> {
  const stored = googleCredential.parse({ serviceAccountKey: serviceAccountKeyText({ name: account }) });
  const deps: TargetDeps = { localWorkDir: '/nonexistent', endpoints: { gcp: emu.endpoint }, readCredential: async () => ({ kind: 'google', ...stored }) };
  const t = await createGcpTarget(ce, deps, options);
  targets.push(t);
  return t;
}

async function secretIds(): Promise<string[]> {
  const [all] = await emu.client().listSecrets({ parent, pageSize: 1000 }, { ...emu.as(OBSERVER), autoPaginate: false });
  return all.map((s) => s.name!.split('/').pop()!);
}

beforeAll(async () => {
  emu = await startGcpEmulator({ strictIamPolicy: path.join(FIXTURES, 'gcp-iam-policy.yaml') });
});

afterAll(async () => {
  for (const t of targets) await t.close();
  await emu?.stop();
});

test('strict mode is on: a principal the policy does not name is denied', async () => {
  // (A call with no principal at all is allowed by this IAM emulator when any binding grants the
  // permission; the broker always sends one.)
  const stranger = emu.as(`serviceAccount:${serviceAccountEmail('stranger')}`);
  await expect(emu.client().listSecrets({ parent }, { ...stranger, autoPaginate: false })).rejects.toMatchObject({ code: 7 });
  await expect(emu.client().listSecrets({ parent }, { ...emu.as(OBSERVER), autoPaginate: false })).resolves.toBeDefined();
});

test('the broker with roles/secretmanager.admin pushes, verifies (Batch account can read) and deletes', async () => {
  const t = await targetAs('broker', { projectIam: { address: emu.iamAddress! } });
  const r = run();
  const res = await t.push(r, [{ name: 'DB_PASSWORD', value: 'pw-strict-1' }]);
  const [got] = await emu.client().accessSecretVersion({ name: `${res.refs[0].remoteId}/versions/latest` }, emu.as(`serviceAccount:${serviceAccountEmail('batch')}`));
  expect(Buffer.from(got.payload!.data as Uint8Array).toString()).toBe('pw-strict-1');
  expect(await t.verify(r, res.refs)).toEqual({ ok: true });
  expect(await t.delete(r, res.refs)).toEqual(['deleted']);
});

test('push-time denial: a principal without secretmanager.secrets.create gets a non-retryable PermissionDeniedError naming the permission and role', async () => {
  // No project-level check (as against an emulator in the worker): the create call itself is denied.
  const t = await targetAs('readonly', { projectIam: false });
  const r = run();
  const err = await t.push(r, [{ name: 'API_KEY', value: 'never-pushed-value' }]).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(PermissionDeniedError);
  const e = err as PermissionDeniedError;
  expect(e.name).toBe(ErrorType.PermissionDenied);
  expect(e.permission).toBe('secretmanager.secrets.create');
  expect(e.role).toBe('roles/secretmanager.admin');
  expect(e.message).toContain('secretmanager.secrets.create');
  expect(e.message).toContain('roles/secretmanager.admin');
  expect(e.message).toContain(serviceAccountEmail('readonly'));
  expect(e.message).not.toContain('never-pushed-value');
  expect(e.stack ?? '').not.toContain('never-pushed-value');
  expect(await secretIds()).not.toContain(`tower-${r.runId}-API_KEY`);
});

test('preflight denial: with a project IAM service, every missing permission is named before anything is written', async () => {
  const t = await targetAs('readonly', { projectIam: { address: emu.iamAddress! } });
  const r = run();
  const err = (await t.push(r, [{ name: 'API_KEY', value: 'v' }]).catch((e: unknown) => e)) as PermissionDeniedError;
  expect(err).toBeInstanceOf(PermissionDeniedError);
  // roles/viewer has get and list; the rest is missing.
  expect(err.missing.map((m) => m.permission).sort()).toEqual(['secretmanager.secrets.create', 'secretmanager.secrets.delete', 'secretmanager.versions.add'].sort());
  expect(err.missing.every((m) => m.grant.includes('roles/secretmanager.admin') && m.resource === parent)).toBe(true);
  expect(await secretIds()).not.toContain(`tower-${r.runId}-API_KEY`);
});

test('delete denial names secretmanager.secrets.delete, and the secret stays', async () => {
  const broker = await targetAs('broker', { projectIam: false });
  const r = run();
  const res = await broker.push(r, [{ name: 'KEEP', value: 'k' }]);
  const readonly = await targetAs('readonly', { projectIam: false });
  await expect(readonly.delete(r, res.refs)).rejects.toMatchObject({ name: 'PermissionDeniedError', permission: 'secretmanager.secrets.delete' });
  expect(await secretIds()).toContain(`tower-${r.runId}-KEEP`);
  expect(await broker.delete(r, res.refs)).toEqual(['deleted']);
});

test('verify names a Batch service account that cannot read the secrets', async () => {
  const ce = ceFor(serviceAccountEmail('unbound-batch'));
  const t = await targetAs('broker', { projectIam: { address: emu.iamAddress! } }, ce);
  const r = { ...run(), computeEnv: ce };
  const res = await t.push(r, [{ name: 'X_Y', value: 'xy' }]);
  const v = await t.verify(r, res.refs);
  expect(v.ok).toBe(false);
  if (v.ok) return;
  expect(v.missing).toEqual([
    expect.objectContaining({
      principal: `Batch service account ${serviceAccountEmail('unbound-batch')}`,
      permission: 'secretmanager.versions.access',
      grant: expect.stringContaining('roles/secretmanager.secretAccessor'),
    }),
  ]);
  await t.delete(r, res.refs);
});
