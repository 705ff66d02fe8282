/**
 * Every refusal the vault makes, table-driven, on both databases. Each case also proves that the
 * refused write changed nothing: the whole vault (listings, versions, timestamps, values) is
 * snapshotted before and compared after.
 */
import { ConflictError, NotFoundError, ValidationError } from '../../domain/errors';
import type { VaultApi } from '../../store/types';
import { openVault } from '../../store/vault';
import { BACKENDS, useBackend, vaultOptions } from './backends';

interface Fixture {
  ws: string;
  other: string;
  user: string;
  sshCred: string;
  tokenCred: string;
  otherWsCred: string;
}

const OLD_VALUE = 'old-value-8c1f0e2a';
const NEW_VALUE = 'refused-value-5b7d93e4';

async function snapshot(v: VaultApi) {
  const workspaces = await v.listWorkspaces();
  const users = await v.listUsers();
  const out: Record<string, unknown> = { workspaces, users };
  for (const w of workspaces) {
    const secrets = await v.listSecrets({ scope: 'workspace', ownerId: w.id });
    out[`secrets:${w.name}`] = await Promise.all(
      secrets.map(async (s) => ({ ...s, value: await v.readSecretValue({ name: s.name, scope: s.scope, secretId: s.id, version: s.version }) })),
    );
    const creds = await v.listCredentials(w.id);
    out[`credentials:${w.name}`] = await Promise.all(creds.map(async (c) => ({ ...c, sealed: await v.readCredential(c.id) })));
    out[`computeEnvs:${w.name}`] = await v.listComputeEnvs(w.id);
  }
  for (const u of users) out[`secrets:user:${u.name}`] = await v.listSecrets({ scope: 'user', ownerId: u.id });
  return out;
}

interface Case {
  reason: string;
  act: (v: VaultApi, f: Fixture) => Promise<unknown>;
  error: typeof ValidationError | typeof NotFoundError | typeof ConflictError;
  field?: string;
  rule?: RegExp;
}

const secret = (name: string, value: string) => (v: VaultApi, f: Fixture) => v.setSecret({ scope: 'workspace', ownerId: f.ws, name, value });

const CASES: Case[] = [
  // secret names
  { reason: 'secret name with a hyphen', act: secret('MY-TOKEN', NEW_VALUE), error: ValidationError, field: 'name', rule: /shell variables/ },
  { reason: 'secret name with a leading digit', act: secret('1TOKEN', NEW_VALUE), error: ValidationError, field: 'name', rule: /start with a letter/ },
  { reason: 'secret name starting with __', act: secret('__x', NEW_VALUE), error: ValidationError, field: 'name', rule: /must not start with "__"/ },
  { reason: 'secret name with a double underscore', act: secret('MY__TOKEN', NEW_VALUE), error: ValidationError, field: 'name', rule: /must not contain "__"/ },
  { reason: 'secret name of 1 character', act: secret('A', NEW_VALUE), error: ValidationError, field: 'name', rule: /2 to 50/ },
  { reason: 'secret name of 51 characters', act: secret('A'.repeat(51), NEW_VALUE), error: ValidationError, field: 'name', rule: /2 to 50/ },
  // secret values, including a refused replacement of an existing secret (old value must survive)
  { reason: 'empty value', act: secret('FRESH', ''), error: ValidationError, field: 'value', rule: /must not be empty/ },
  {
    reason: '65,537-byte value',
    act: secret('FRESH', NEW_VALUE + 'x'.repeat(65_537 - NEW_VALUE.length)),
    error: ValidationError,
    field: 'value',
    rule: /at most 65,536 bytes/,
  },
  { reason: 'value with \\n', act: secret('FRESH', `${NEW_VALUE}\nline2`), error: ValidationError, field: 'value', rule: /multi-line secrets must be base64-encoded/ },
  { reason: 'value with \\r', act: secret('FRESH', `${NEW_VALUE}\rline2`), error: ValidationError, field: 'value', rule: /multi-line secrets must be base64-encoded/ },
  {
    reason: 'replacing an existing secret with a multi-line value',
    act: secret('EXISTING', `${NEW_VALUE}\n`),
    error: ValidationError,
    field: 'value',
    rule: /base64/,
  },
  { reason: 'replacing an existing secret with an empty value', act: secret('EXISTING', ''), error: ValidationError, field: 'value' },
  {
    reason: 'value that is not a string',
    act: (v, f) => v.setSecret({ scope: 'workspace', ownerId: f.ws, name: 'FRESH', value: 42 as unknown as string }),
    error: ValidationError,
    field: 'value',
  },
  {
    reason: 'unknown scope',
    act: (v, f) => v.setSecret({ scope: 'team' as 'user', ownerId: f.ws, name: 'FRESH', value: NEW_VALUE }),
    error: ValidationError,
    field: 'scope',
  },
  {
    reason: 'secret for a workspace that does not exist',
    act: (v) => v.setSecret({ scope: 'workspace', ownerId: 'no-such-ws', name: 'FRESH', value: NEW_VALUE }),
    error: NotFoundError,
    rule: /workspace "no-such-ws" not found/,
  },
  {
    reason: 'user secret owned by a workspace id',
    act: (v, f) => v.setSecret({ scope: 'user', ownerId: f.ws, name: 'FRESH', value: NEW_VALUE }),
    error: NotFoundError,
    rule: /user/,
  },
  {
    reason: 'deleting a secret that does not exist',
    act: (v, f) => v.deleteSecret({ scope: 'workspace', ownerId: f.ws, name: 'NOT_THERE' }),
    error: NotFoundError,
  },
  {
    reason: 'resolving a hyphenated name',
    act: (v, f) => v.resolveSecrets({ workspaceId: f.ws, userId: f.user, names: ['EXISTING', 'BAD-NAME'] }),
    error: ValidationError,
    field: 'names[1]',
    rule: /shell variables/,
  },
  // workspaces and users
  { reason: 'workspace name with a space', act: (v) => v.createWorkspace('my team'), error: ValidationError, field: 'name', rule: /letters, digits, dashes/ },
  { reason: 'empty workspace name', act: (v) => v.createWorkspace(''), error: ValidationError, field: 'name' },
  { reason: 'workspace name of 101 characters', act: (v) => v.createWorkspace('w'.repeat(101)), error: ValidationError, field: 'name', rule: /1 to 100/ },
  {
    reason: 'workspace name shaped like an id',
    act: (v) => v.createWorkspace('0f8fad5b-d9cb-469f-a165-70867728950e'),
    error: ValidationError,
    field: 'name',
    rule: /form of an id/,
  },
  { reason: 'duplicate workspace name', act: (v) => v.createWorkspace('team'), error: ConflictError, rule: /workspace "team" already exists/ },
  { reason: 'user name with a slash', act: (v) => v.createUser('a/b'), error: ValidationError, field: 'name' },
  { reason: 'duplicate user name', act: (v) => v.createUser('alice'), error: ConflictError, rule: /user "alice" already exists/ },
  // credentials
  {
    reason: 'credential name with a dot',
    act: (v, f) => v.createCredential({ workspaceId: f.ws, name: 'a.b', kind: 'test-ssh', fields: { username: 'u', privateKey: NEW_VALUE } }),
    error: ValidationError,
    field: 'name',
  },
  {
    reason: 'unknown credential kind',
    act: (v, f) => v.createCredential({ workspaceId: f.ws, name: 'c2', kind: 'nope', fields: { token: NEW_VALUE } }),
    error: ValidationError,
    field: 'kind',
  },
  {
    reason: 'credential missing a field its kind requires',
    act: (v, f) => v.createCredential({ workspaceId: f.ws, name: 'c2', kind: 'test-ssh', fields: { privateKey: NEW_VALUE } }),
    error: ValidationError,
    field: 'fields.username',
  },
  {
    reason: 'credential fields that are not an object',
    act: (v, f) => v.createCredential({ workspaceId: f.ws, name: 'c2', kind: 'test-ssh', fields: [NEW_VALUE] as unknown as Record<string, unknown> }),
    error: ValidationError,
    field: 'fields',
  },
  {
    reason: 'duplicate credential name in the workspace',
    act: (v, f) => v.createCredential({ workspaceId: f.ws, name: 'ssh', kind: 'test-ssh', fields: { username: 'u', privateKey: NEW_VALUE } }),
    error: ConflictError,
    rule: /credential "ssh" already exists in workspace "team"/,
  },
  {
    reason: 'credential in a workspace that does not exist',
    act: (v) => v.createCredential({ workspaceId: 'ghost', name: 'c2', kind: 'test-token', fields: { token: NEW_VALUE } }),
    error: NotFoundError,
  },
  {
    reason: 'deleting a credential a compute environment uses',
    act: (v, f) => v.deleteCredential(f.sshCred),
    error: ConflictError,
    rule: /used by compute environment "cluster"/,
  },
  // compute environments
  {
    reason: 'unknown platform',
    act: (v, f) => v.createComputeEnv({ workspaceId: f.ws, name: 'k8s', platform: 'kubernetes' as 'local', config: {} }),
    error: ValidationError,
    field: 'platform',
  },
  {
    reason: 'missing credential for a platform that needs one',
    act: (v, f) => v.createComputeEnv({ workspaceId: f.ws, name: 'hpc2', platform: 'hpc', config: { host: 'h' } }),
    error: ValidationError,
    field: 'credentialId',
    rule: /required: hpc compute environments need a "test-ssh" credential/,
  },
  {
    reason: 'credential that does not exist',
    act: (v, f) => v.createComputeEnv({ workspaceId: f.ws, name: 'hpc2', platform: 'hpc', config: { host: 'h' }, credentialId: 'nope' }),
    error: ValidationError,
    field: 'credentialId',
  },
  {
    reason: 'credential from another workspace',
    act: (v, f) => v.createComputeEnv({ workspaceId: f.ws, name: 'hpc2', platform: 'hpc', config: { host: 'h' }, credentialId: f.otherWsCred }),
    error: ValidationError,
    field: 'credentialId',
    rule: /no such credential in workspace "team"/,
  },
  {
    reason: 'credential of the wrong kind',
    act: (v, f) => v.createComputeEnv({ workspaceId: f.ws, name: 'hpc2', platform: 'hpc', config: { host: 'h' }, credentialId: f.tokenCred }),
    error: ValidationError,
    field: 'credentialId',
    rule: /must be a "test-ssh" credential, not "test-token"/,
  },
  {
    reason: 'credential for a platform that takes none',
    act: (v, f) => v.createComputeEnv({ workspaceId: f.ws, name: 'local2', platform: 'local', config: {}, credentialId: f.sshCred }),
    error: ValidationError,
    field: 'credentialId',
  },
  {
    reason: 'platform config the platform refuses',
    act: (v, f) => v.createComputeEnv({ workspaceId: f.ws, name: 'local2', platform: 'local', config: { workDir: 'relative/dir' } }),
    error: ValidationError,
    field: 'config.workDir',
  },
  {
    reason: 'compute environment name with a space',
    act: (v, f) => v.createComputeEnv({ workspaceId: f.ws, name: 'my env', platform: 'local', config: {} }),
    error: ValidationError,
    field: 'name',
  },
  {
    reason: 'duplicate compute environment name',
    act: (v, f) => v.createComputeEnv({ workspaceId: f.ws, name: 'cluster', platform: 'local', config: {} }),
    error: ConflictError,
    rule: /compute environment "cluster" already exists/,
  },
  {
    reason: 'deleting a compute environment that does not exist',
    act: (v) => v.deleteComputeEnv('ghost'),
    error: NotFoundError,
  },
  // compute environment updates: each refused update leaves the row (config, credential, updatedAt) as it was
  {
    reason: 'updating a compute environment that does not exist',
    act: (v, f) => v.updateComputeEnv('ghost', f.ws, { config: { host: 'h' } }),
    error: NotFoundError,
    rule: /compute environment "ghost" not found/,
  },
  {
    reason: 'updating a compute environment by name in another workspace',
    act: (v, f) => v.updateComputeEnv('cluster', f.other, { config: { host: 'h' } }),
    error: NotFoundError,
    rule: /compute environment "cluster" not found/,
  },
  {
    reason: 'updating a compute environment of a workspace that does not exist',
    act: (v) => v.updateComputeEnv('cluster', 'ghost-ws', { config: { host: 'h' } }),
    error: NotFoundError,
    rule: /workspace "ghost-ws" not found/,
  },
  {
    reason: 'update with config the platform refuses',
    act: (v, f) => v.updateComputeEnv('cluster', f.ws, { config: { host: '' } }),
    error: ValidationError,
    field: 'config.host',
  },
  {
    reason: 'update with config that is not an object',
    act: (v, f) => v.updateComputeEnv('cluster', f.ws, { config: ['login2'] as unknown as Record<string, unknown> }),
    error: ValidationError,
    field: 'config',
  },
  {
    reason: 'update with a credential of the wrong kind',
    act: (v, f) => v.updateComputeEnv('cluster', f.ws, { credentialId: f.tokenCred }),
    error: ValidationError,
    field: 'credentialId',
    rule: /must be a "test-ssh" credential, not "test-token"/,
  },
  {
    reason: 'update with a credential from another workspace',
    act: (v, f) => v.updateComputeEnv('cluster', f.ws, { credentialId: f.otherWsCred }),
    error: ValidationError,
    field: 'credentialId',
    rule: /no such credential in workspace "team"/,
  },
  {
    reason: 'update with valid config and a credential of the wrong kind (the config is not written either)',
    act: (v, f) => v.updateComputeEnv('cluster', f.ws, { config: { host: 'changed-host' }, credentialId: f.tokenCred }),
    error: ValidationError,
    field: 'credentialId',
  },
  {
    reason: 'update with valid config and a credential from another workspace (the config is not written either)',
    act: (v, f) => v.updateComputeEnv('cluster', f.ws, { config: { host: 'changed-host' }, credentialId: f.otherWsCred }),
    error: ValidationError,
    field: 'credentialId',
  },
  {
    reason: 'update clearing the credential of a platform that needs one',
    act: (v, f) => v.updateComputeEnv('cluster', f.ws, { config: { host: 'changed-host' }, credentialId: null }),
    error: ValidationError,
    field: 'credentialId',
    rule: /required: hpc compute environments need a "test-ssh" credential/,
  },
  {
    reason: 'update giving a credential to a platform that takes none',
    act: (v, f) => v.updateComputeEnv('laptop', f.other, { credentialId: f.otherWsCred }),
    error: ValidationError,
    field: 'credentialId',
    rule: /local compute environments take no credential/,
  },
  {
    reason: 'update changing the platform',
    act: (v, f) => v.updateComputeEnv('cluster', f.ws, { platform: 'local', config: {} } as unknown as { config: Record<string, unknown> }),
    error: ValidationError,
    field: 'platform',
    rule: /cannot be changed/,
  },
  {
    reason: 'update changing nothing',
    act: (v, f) => v.updateComputeEnv('cluster', f.ws, {}),
    error: ValidationError,
    field: 'patch',
  },
];

describe.each(BACKENDS)('vault refusals on %s', (name) => {
  const backend = useBackend(name);
  let vault: VaultApi;
  let f: Fixture;

  beforeAll(async () => {
    vault = await openVault(vaultOptions(await backend.fresh()));
    const ws = await vault.createWorkspace('team');
    const other = await vault.createWorkspace('other-team');
    const user = await vault.createUser('alice');
    await vault.setSecret({ scope: 'workspace', ownerId: ws.id, name: 'EXISTING', value: OLD_VALUE });
    await vault.setSecret({ scope: 'user', ownerId: user.id, name: 'EXISTING', value: `${OLD_VALUE}-user` });
    const ssh = await vault.createCredential({ workspaceId: ws.id, name: 'ssh', kind: 'test-ssh', fields: { username: 'nf', privateKey: 'PRIVATE-KEY-1' } });
    const token = await vault.createCredential({ workspaceId: ws.id, name: 'token', kind: 'test-token', fields: { token: 'TOKEN-1' } });
    const otherSsh = await vault.createCredential({ workspaceId: other.id, name: 'ssh', kind: 'test-ssh', fields: { username: 'nf', privateKey: 'PRIVATE-KEY-2' } });
    await vault.createComputeEnv({ workspaceId: ws.id, name: 'cluster', platform: 'hpc', config: { host: 'login' }, credentialId: ssh.id });
    await vault.createComputeEnv({ workspaceId: other.id, name: 'laptop', platform: 'local', config: { workDir: '/srv/nf' } });
    f = { ws: ws.id, other: other.id, user: user.id, sshCred: ssh.id, tokenCred: token.id, otherWsCred: otherSsh.id };
  });

  afterAll(async () => {
    await vault?.close();
  });

  test.each(CASES)('refuses $reason and changes nothing', async ({ act, error, field, rule }) => {
    const before = await snapshot(vault);
    const err = await act(vault, f).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(error);
    if (field) expect((err as ValidationError).field).toBe(field);
    if (rule) expect((err as Error).message).toMatch(rule);
    expect(String((err as Error).message)).not.toContain(NEW_VALUE);
    expect(await snapshot(vault)).toEqual(before);
  });

  test('the fixture is what the cases assume (so a refusal cannot pass for the wrong reason)', async () => {
    const s = await snapshot(vault);
    expect(s[`secrets:team`]).toEqual([expect.objectContaining({ name: 'EXISTING', version: 1, value: OLD_VALUE })]);
    expect((s[`computeEnvs:team`] as { name: string }[]).map((c) => c.name)).toEqual(['cluster']);
    expect(s[`computeEnvs:team`]).toEqual([expect.objectContaining({ name: 'cluster', config: { host: 'login' }, credentialId: f.sshCred })]);
    expect(s[`computeEnvs:other-team`]).toEqual([expect.objectContaining({ name: 'laptop', credentialId: null })]);
    // The same writes with valid input succeed, so the cases above fail only on what they vary.
    await expect(vault.updateComputeEnv('cluster', f.ws, { config: { host: 'changed-host' }, credentialId: 'ssh' })).resolves.toMatchObject({
      config: { host: 'changed-host' },
      credentialId: f.sshCred,
    });
    await expect(vault.updateComputeEnv('laptop', f.other, { config: {}, credentialId: null })).resolves.toMatchObject({ config: {}, credentialId: null });
    await expect(vault.createComputeEnv({ workspaceId: f.ws, name: 'hpc2', platform: 'hpc', config: { host: 'h' }, credentialId: f.sshCred })).resolves.toMatchObject({
      credentialId: f.sshCred,
    });
    await expect(vault.setSecret({ scope: 'workspace', ownerId: f.ws, name: 'FRESH', value: 'x'.repeat(65_536) })).resolves.toMatchObject({ version: 1 });
    await expect(vault.setSecret({ scope: 'workspace', ownerId: f.ws, name: 'EXISTING', value: 'replaced' })).resolves.toMatchObject({ version: 2 });
  });
});
