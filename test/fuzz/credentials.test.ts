/**
 * Credential fields of every kind (aws, the three azure kinds, google, container-registry) and the
 * settings of every platform (local, hpc, aws, gcp), through the vault: a valid set with one field
 * set to any JSON value, edited as a paste goes wrong (whitespace, a character changed or lost, cut
 * short), removed, or joined by a field the kind does not take. (SSH keys have a suite of their own.)
 *
 * The property: each is accepted or refused with a ValidationError naming the field and a rule that
 * carries none of the secret values; never another error. A refusal stores nothing. An accepted
 * credential's secret fields are the pasted values (less surrounding whitespace; a key file's JSON
 * without its layout); accepted settings are stored as the platform reads them, so reading them
 * again changes nothing.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { ValidationError } from '../../domain/errors';
import type { Platform } from '../../domain/run';
import { platformSpec } from '../../platforms';
import { serviceAccountKeyText } from '../fixtures/gcp-service-account';
import { leaks, useCredentialVault } from '../harness/credential-vault';
import { fuzz, mutated, thrown } from './fuzz';

const GUID = '9b7f1a3c-2d4e-4f60-8a1b-3c5d7e9f0a12';
const VALID: Record<string, Record<string, unknown>> = {
  aws: { accessKeyId: 'AKIAABCDEFGHIJKLMNOP', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', roleArn: 'arn:aws:iam::123456789012:role/nf', externalId: 'ext-id-1' },
  'aws-temporary': { accessKeyId: 'ASIAABCDEFGHIJKLMNOP', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', sessionToken: 'FwoGZXIvYXdzEBYaDH7b3c9d0e1f2a3b4c5d6e7f8' },
  'azure-shared-key': {
    batchAccountName: 'nfbatch01',
    batchKey: randomBytes(64).toString('base64'),
    storageAccountName: 'nfstorage01',
    storageKey: randomBytes(64).toString('base64'),
  },
  'azure-entra': {
    subscriptionId: GUID,
    tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
    clientId: 'c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f',
    clientSecret: `Xq8~${randomBytes(27).toString('base64url')}`,
    batchAccountName: 'nfbatch01',
    storageAccountName: 'nfstorage01',
  },
  'azure-managed-identity': {
    poolName: 'nf-pool',
    identityClientId: '5e2a9c41-7b3d-4f18-9a6e-0c1d2e3f4a5b',
    identityResourceId: `/subscriptions/${GUID}/resourceGroups/nextflow-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/nf-pool-identity`,
    batchAccountName: 'nfbatch01',
  },
  google: { serviceAccountKey: serviceAccountKeyText() },
  'container-registry': { userName: 'nf-token', password: randomBytes(24).toString('base64'), registryServer: 'myregistry.azurecr.io', tokenPasswordSlot: 'password1' },
};
const kindOf = (name: string) => (name === 'aws-temporary' ? 'aws' : name);

/** The fields that are secret; a google key's secret is the private key inside it. */
const SECRET_FIELDS = ['secretAccessKey', 'sessionToken', 'batchKey', 'storageKey', 'clientSecret', 'password'];
const pemBody = (pem: string) => pem.split('\n').filter((l) => l.length > 16 && !l.startsWith('-----'));
/** Every secret value of the valid sets: none may appear in a refusal. */
const SECRETS = [
  ...SECRET_FIELDS.flatMap((f) => Object.values(VALID).flatMap((v) => (typeof v[f] === 'string' ? [v[f] as string] : []))),
  ...pemBody((JSON.parse(VALID.google!.serviceAccountKey as string) as { private_key: string }).private_key),
];

describe('credential fields and compute environment settings through the vault', () => {
  const ctx = useCredentialVault('fuzz-fields');
  let n = 0;

  /**
   * A refusal is a ValidationError naming one of the fields given or of the valid set (one left out),
   * or a part of one, and saying nothing secret; the vault is unchanged.
   */
  async function expectRefusal(err: unknown, fields: Record<string, unknown>, valid: Record<string, unknown>, before: string, prefix = ''): Promise<void> {
    if (!(err instanceof ValidationError)) throw err;
    expect(err.field.startsWith(prefix)).toBe(true);
    const named = err.field.slice(prefix.length);
    expect([...Object.keys(fields), ...Object.keys(valid)].filter((k) => named === k || named.startsWith(`${k}.`))).not.toEqual([]);
    const pasted = SECRET_FIELDS.map((f) => fields[f]);
    expect(leaks(err, [...SECRETS, ...pasted])).toBe(false);
    expect(await snapshot()).toBe(before);
  }

  const snapshot = async () => JSON.stringify([await ctx.vault.listCredentials(ctx.workspaceId), await ctx.vault.listComputeEnvs(ctx.workspaceId)]);

  test.each(Object.keys(VALID))('%s credentials: accepted as pasted, or refused naming the field', async (name) => {
    const kind = kindOf(name);
    // The valid set is accepted as it is.
    const meta = await ctx.vault.createCredential({ workspaceId: ctx.workspaceId, name: `valid-${++n}`, kind, fields: VALID[name]! });
    await ctx.vault.deleteCredential(meta.id);
    await fc.assert(
      fc.asyncProperty(
        mutated(VALID[name]!, { whole: false }).filter((f): f is Record<string, unknown> => f !== null && typeof f === 'object' && !Array.isArray(f)),
        async (fields) => {
          const before = await snapshot();
          const credName = `cred-${++n}`;
          const err = await thrown(() => ctx.vault.createCredential({ workspaceId: ctx.workspaceId, name: credName, kind, fields }));
          if (err !== undefined) return expectRefusal(err, fields, VALID[name]!, before);
          const stored = (await ctx.vault.listCredentials(ctx.workspaceId)).find((c) => c.name === credName)!;
          const { secret } = await ctx.vault.readCredential(stored.id);
          await ctx.vault.deleteCredential(stored.id);
          for (const [k, v] of Object.entries(secret)) {
            const pasted = fields[k];
            if (typeof pasted !== 'string') continue;
            // A JSON key file is stored as its JSON, without the pasted layout.
            if (v.startsWith('{')) expect(JSON.parse(v)).toEqual(JSON.parse(pasted.trim()));
            else expect([pasted, pasted.trim()]).toContain(v);
          }
        },
      ),
      fuzz(80),
    );
  });

  const SETTINGS: Record<Platform, { config: Record<string, unknown>; kind: string | null }> = {
    local: { config: { workDir: '/tmp/fuzz-local' }, kind: null },
    hpc: {
      config: { host: 'login.hpc.example.org', port: 22, user: 'nf_user', hostKeyFingerprint: `SHA256:${'A'.repeat(43)}`, workDir: '/scratch/nf', maxConnections: 4 },
      kind: 'ssh',
    },
    aws: {
      config: {
        region: 'eu-west-1',
        headJobRoleArn: 'arn:aws:iam::123456789012:role/head',
        executionRoleArn: 'arn:aws:iam::123456789012:role/exec',
        customRole: false,
        perRunResourcePolicy: true,
      },
      kind: 'aws',
    },
    gcp: { config: { project: 'sb-test-project', location: 'europe-west4', batchServiceAccount: '123456789-compute@developer.gserviceaccount.com' }, kind: 'google' },
  };

  test.each(Object.keys(SETTINGS) as Platform[])('%s compute environment settings: stored as the platform reads them, or refused naming the setting', async (platform) => {
    const { config, kind } = SETTINGS[platform]!;
    const cred = kind === null ? null : await credentialOf(kind);
    await fc.assert(
      fc.asyncProperty(
        mutated(config, { whole: false }).filter((c): c is Record<string, unknown> => c !== null && typeof c === 'object' && !Array.isArray(c)),
        async (settings) => {
          const before = await snapshot();
          const ceName = `ce-${++n}`;
          const err = await thrown(() => ctx.vault.createComputeEnv({ workspaceId: ctx.workspaceId, name: ceName, platform, config: settings, credentialId: cred }));
          if (err !== undefined) return expectRefusal(err, settings, config, before, 'config.');
          const ce = await ctx.vault.getComputeEnv(ceName, ctx.workspaceId);
          await ctx.vault.deleteComputeEnv(ce.id);
          expect(platformSpec(platform).parseConfig(ce.config)).toEqual(ce.config);
        },
      ),
      fuzz(80),
    );
  });

  test('a work directory holding a lone surrogate or a NUL is refused naming config.workDir, not a database error (found by fuzzing)', async () => {
    const ssh = await credentialOf('ssh');
    const cases = [
      { platform: 'local' as const, config: { workDir: '/\ud800mp/fuzz-local' }, credentialId: null, rule: /lone UTF-16 surrogate/ },
      { platform: 'hpc' as const, config: { ...SETTINGS.hpc.config, workDir: '/scratch/nf\u0000' }, credentialId: ssh, rule: /NUL character/ },
    ];
    for (const { platform, config, credentialId, rule } of cases) {
      const err = await thrown(() => ctx.vault.createComputeEnv({ workspaceId: ctx.workspaceId, name: `ce-${++n}`, platform, config, credentialId }));
      expect(err).toMatchObject({ name: 'ValidationError', field: 'config.workDir', rule: expect.stringMatching(rule) });
    }
    const ce = await ctx.vault.createComputeEnv({ workspaceId: ctx.workspaceId, name: `ce-${++n}`, platform: 'local', config: {}, credentialId: null });
    const err = await thrown(() => ctx.vault.updateComputeEnv(ce.id, ctx.workspaceId, { config: { workDir: '/tmp/\udc00' } }));
    expect(err).toMatchObject({ name: 'ValidationError', field: 'config.workDir' });
  });

  test('a secret credential field holding a lone surrogate is refused, not sealed as U+FFFD', async () => {
    const fields = { ...VALID['container-registry'], password: 'pass\ud800word' };
    const err = await thrown(() => ctx.vault.createCredential({ workspaceId: ctx.workspaceId, name: `cred-${++n}`, kind: 'container-registry', fields }));
    expect(err).toMatchObject({ name: 'ValidationError', field: 'password', rule: expect.stringMatching(/lone UTF-16 surrogate/) });
  });

  /** A credential of `kind` in the workspace (a fresh ssh key for ssh), by id. */
  async function credentialOf(kind: string): Promise<string> {
    const fields = kind === 'ssh' ? { privateKey: sshKey() } : VALID[kind]!;
    const created = await ctx.vault.createCredential({ workspaceId: ctx.workspaceId, name: `for-${kind}-${++n}`, kind, fields });
    return created.id;
  }
});

/** A fresh ed25519 private key from ssh-keygen. */
function sshKey(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-fuzz-key-'));
  try {
    const file = path.join(dir, 'key');
    const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
    if (r.status !== 0) throw new Error(`ssh-keygen: ${String(r.stderr)}`);
    return fs.readFileSync(file, 'utf8');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
