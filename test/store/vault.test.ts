/** The vault's behaviour on both databases: records, resolution, listings, persistence, integrity. */
import { openDb } from '../../store/db';
import { MIGRATIONS } from '../../store/migrations';
import { ConflictError, NotFoundError, ValidationError, VaultIntegrityError } from '../../domain/errors';
import type { VaultApi } from '../../store/types';
import { openVault } from '../../store/vault';
import { BACKENDS, useBackend, vaultOptions, type Location } from './backends';

const META_KEYS = ['createdAt', 'id', 'name', 'ownerId', 'scope', 'updatedAt', 'version'];

describe.each(BACKENDS)('vault on %s', (name) => {
  const backend = useBackend(name);
  let loc: Location;
  let vault: VaultApi;

  beforeAll(async () => {
    loc = await backend.fresh();
    vault = await openVault(vaultOptions(loc));
  });
  afterAll(async () => {
    await vault?.close();
  });

  test('workspaces and users: create, get by id or name, list in name order', async () => {
    const b = await vault.createWorkspace('ws-b');
    const a = await vault.createWorkspace('ws-a');
    expect(a.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Date(a.createdAt).toISOString()).toBe(a.createdAt);
    expect(await vault.getWorkspace(a.id)).toEqual(a);
    expect(await vault.getWorkspace('ws-a')).toEqual(a);
    expect((await vault.listWorkspaces()).map((w) => w.name)).toEqual(['ws-a', 'ws-b']);
    await expect(vault.getWorkspace('ws-c')).rejects.toThrow(NotFoundError);
    const u = await vault.createUser('bob');
    expect(await vault.getUser('bob')).toEqual(u);
    expect(await vault.getUser(u.id)).toEqual(u);
    expect(await vault.listUsers()).toEqual([u]);
    await expect(vault.getUser(b.id)).rejects.toThrow(NotFoundError);
  });

  test('setSecret creates, then replaces with a new version under the same id', async () => {
    const ws = await vault.createWorkspace('ws-set');
    const v1 = await vault.setSecret({ scope: 'workspace', ownerId: ws.id, name: 'API_TOKEN', value: 'first-value' });
    expect(v1).toMatchObject({ scope: 'workspace', ownerId: ws.id, name: 'API_TOKEN', version: 1 });
    expect(Object.keys(v1).sort()).toEqual(META_KEYS);
    const v2 = await vault.setSecret({ scope: 'workspace', ownerId: 'ws-set', name: 'API_TOKEN', value: 'second-value' });
    expect(v2).toMatchObject({ id: v1.id, version: 2 });
    expect(await vault.readSecretValue({ name: 'API_TOKEN', scope: 'workspace', secretId: v1.id, version: 2 })).toBe('second-value');
    expect(await vault.listSecrets({ scope: 'workspace', ownerId: ws.id })).toEqual([v2]);
  });

  test('values up to 65,536 bytes, with tabs and non-ASCII, round-trip exactly', async () => {
    const ws = await vault.createWorkspace('ws-bytes');
    const big = 'é'.repeat(32_768); // 65,536 bytes
    const odd = 'tab\there "quoted" \\ back ✓';
    for (const [n, value] of [
      ['BIG', big],
      ['ODD', odd],
    ] as const) {
      const m = await vault.setSecret({ scope: 'workspace', ownerId: ws.id, name: n, value });
      expect(await vault.readSecretValue({ name: n, scope: 'workspace', secretId: m.id, version: m.version })).toBe(value);
    }
  });

  test('listings never carry values', async () => {
    const ws = await vault.createWorkspace('ws-list');
    const user = await vault.createUser('list-user');
    const values = ['listing-value-one', 'listing-value-two', 'listing-user-value'];
    await vault.setSecret({ scope: 'workspace', ownerId: ws.id, name: 'ONE', value: values[0]! });
    await vault.setSecret({ scope: 'workspace', ownerId: ws.id, name: 'TWO', value: values[1]! });
    await vault.setSecret({ scope: 'user', ownerId: user.id, name: 'ONE', value: values[2]! });
    const cred = await vault.createCredential({
      workspaceId: ws.id,
      name: 'ssh-key',
      kind: 'test-ssh',
      fields: { username: 'nextflow', privateKey: 'listing-private-key', passphrase: 'listing-passphrase' },
    });
    const listed = {
      ws: await vault.listSecrets({ scope: 'workspace', ownerId: ws.id }),
      user: await vault.listSecrets({ scope: 'user', ownerId: user.id }),
      creds: await vault.listCredentials(ws.id),
      cred: await vault.getCredential(cred.id),
      created: cred,
      resolved: await vault.resolveSecrets({ workspaceId: ws.id, userId: user.id, names: ['ONE', 'TWO'] }),
    };
    expect(listed.ws.map((s) => s.name)).toEqual(['ONE', 'TWO']);
    for (const s of [...listed.ws, ...listed.user]) expect(Object.keys(s).sort()).toEqual(META_KEYS);
    expect(listed.cred.public).toEqual({ username: 'nextflow' });
    const json = JSON.stringify(listed);
    // Control: the listing does carry the names, so the absence checks below can fail.
    expect(json).toContain('"ONE"');
    expect(json).toContain('nextflow');
    for (const v of [...values, 'listing-private-key', 'listing-passphrase']) expect(json).not.toContain(v);
  });

  test('resolution: user secrets override workspace secrets; duplicates collapse; missing names reported', async () => {
    const ws = await vault.createWorkspace('ws-resolve');
    const alice = await vault.createUser('res-alice');
    const carol = await vault.createUser('res-carol');
    const wsA = await vault.setSecret({ scope: 'workspace', ownerId: ws.id, name: 'SHARED', value: 'workspace-shared' });
    const wsB = await vault.setSecret({ scope: 'workspace', ownerId: ws.id, name: 'ONLY_WS', value: 'workspace-only' });
    const userA = await vault.setSecret({ scope: 'user', ownerId: alice.id, name: 'SHARED', value: 'alice-shared' });
    await vault.setSecret({ scope: 'user', ownerId: alice.id, name: 'SHARED', value: 'alice-shared-v2' });

    const r = await vault.resolveSecrets({ workspaceId: ws.id, userId: alice.id, names: ['SHARED', 'ONLY_WS', 'MISSING_ONE', 'SHARED', 'MISSING_TWO'] });
    expect(r.missing).toEqual(['MISSING_ONE', 'MISSING_TWO']);
    expect(r.found).toEqual([
      { name: 'SHARED', scope: 'user', secretId: userA.id, version: 2 },
      { name: 'ONLY_WS', scope: 'workspace', secretId: wsB.id, version: 1 },
    ]);
    expect(await vault.readSecretValue(r.found[0]!)).toBe('alice-shared-v2');
    expect(await vault.readSecretValue(r.found[1]!)).toBe('workspace-only');

    // Another user of the same workspace gets the workspace value.
    const rc = await vault.resolveSecrets({ workspaceId: 'ws-resolve', userId: 'res-carol', names: ['SHARED'] });
    expect(rc).toEqual({ found: [{ name: 'SHARED', scope: 'workspace', secretId: wsA.id, version: 1 }], missing: [], workspaceName: 'ws-resolve', userName: 'res-carol' });
    expect(await vault.readSecretValue(rc.found[0]!)).toBe('workspace-shared');
    expect(carol.id).not.toBe(alice.id);

    await expect(vault.resolveSecrets({ workspaceId: ws.id, userId: alice.id, names: [] })).resolves.toEqual({ found: [], missing: [], workspaceName: ws.name, userName: alice.name });

    // A run's push reads all its values in one query, in the refs' order; a stale ref is not found.
    expect(await vault.readSecretValues([r.found[1]!, r.found[0]!])).toEqual(['workspace-only', 'alice-shared-v2']);
    await expect(vault.readSecretValues([r.found[0]!, { ...r.found[1]!, name: 'RENAMED' }])).rejects.toThrow(NotFoundError);
    expect(await vault.readSecretValues([])).toEqual([]);
    await expect(vault.resolveSecrets({ workspaceId: 'nope', userId: alice.id, names: ['SHARED'] })).rejects.toThrow(NotFoundError);
    await expect(vault.resolveSecrets({ workspaceId: ws.id, userId: 'nobody', names: ['SHARED'] })).rejects.toThrow(NotFoundError);
  });

  test('readSecretValue: a deleted secret or a ref that does not match its row is NotFoundError', async () => {
    const ws = await vault.createWorkspace('ws-read');
    const m = await vault.setSecret({ scope: 'workspace', ownerId: ws.id, name: 'GONE', value: 'soon-gone' });
    const ref = { name: 'GONE', scope: 'workspace' as const, secretId: m.id, version: 1 };
    await expect(vault.readSecretValue({ ...ref, name: 'OTHER' })).rejects.toThrow(NotFoundError);
    await expect(vault.readSecretValue({ ...ref, scope: 'user' })).rejects.toThrow(NotFoundError);
    await vault.deleteSecret({ scope: 'workspace', ownerId: ws.id, name: 'GONE' });
    await expect(vault.readSecretValue(ref)).rejects.toThrow(NotFoundError);
    expect(await vault.listSecrets({ scope: 'workspace', ownerId: ws.id })).toEqual([]);
    await expect(vault.readSecretValue({ ...ref, secretId: 'no-such-id' })).rejects.toThrow(/secret "GONE" not found/);
  });

  test('credentials: public fields listed, secret fields sealed and read back only by readCredential', async () => {
    const ws = await vault.createWorkspace('ws-cred');
    const ws2 = await vault.createWorkspace('ws-cred-2');
    const c = await vault.createCredential({ workspaceId: ws.id, name: 'cluster-key', kind: 'test-ssh', fields: { username: 'nf', privateKey: 'PEM-DATA', passphrase: 'pp' } });
    expect(c).toMatchObject({ workspaceId: ws.id, name: 'cluster-key', kind: 'test-ssh', public: { username: 'nf' } });
    expect(await vault.getCredential(c.id)).toEqual(c);
    expect(await vault.getCredential('cluster-key', ws.id)).toEqual(c);
    expect(await vault.getCredential('cluster-key', 'ws-cred')).toEqual(c);
    expect(await vault.readCredential(c.id)).toEqual({ kind: 'test-ssh', public: { username: 'nf' }, secret: { privateKey: 'PEM-DATA', passphrase: 'pp' } });
    // Same name in another workspace is fine; then a name alone is ambiguous.
    const c2 = await vault.createCredential({ workspaceId: ws2.id, name: 'cluster-key', kind: 'test-token', fields: { token: 't' } });
    await expect(vault.getCredential('cluster-key')).rejects.toThrow(ValidationError);
    expect(await vault.getCredential('cluster-key', ws2.id)).toEqual(c2);
    await expect(vault.getCredential(c2.id, ws.id)).rejects.toThrow(NotFoundError);
    expect(await vault.listCredentials(ws.id)).toEqual([c]);
    await vault.deleteCredential(c2.id);
    await expect(vault.readCredential(c2.id)).rejects.toThrow(NotFoundError);
    await expect(vault.deleteCredential(c2.id)).rejects.toThrow(NotFoundError);
  });

  test('compute environments: platform config validated and normalised; credential by id or name', async () => {
    const ws = await vault.createWorkspace('ws-ce');
    const local = await vault.createComputeEnv({ workspaceId: ws.id, name: 'here', platform: 'local', config: { workDir: '/tmp/x/../runs' } });
    expect(local).toMatchObject({ workspaceId: ws.id, name: 'here', platform: 'local', config: { workDir: '/tmp/runs' }, credentialId: null });
    const key = await vault.createCredential({ workspaceId: ws.id, name: 'key', kind: 'test-ssh', fields: { username: 'u', privateKey: 'k' } });
    const hpc = await vault.createComputeEnv({ workspaceId: 'ws-ce', name: 'cluster', platform: 'hpc', config: { host: 'login1' }, credentialId: 'key' });
    expect(hpc).toMatchObject({ platform: 'hpc', config: { host: 'login1' }, credentialId: key.id });
    expect(await vault.getComputeEnv(hpc.id)).toEqual(hpc);
    expect(await vault.getComputeEnv('cluster', ws.id)).toEqual(hpc);
    expect((await vault.listComputeEnvs(ws.id)).map((c) => c.name)).toEqual(['cluster', 'here']);
    await expect(vault.deleteCredential(key.id)).rejects.toThrow(ConflictError);
    await vault.deleteComputeEnv(hpc.id);
    await vault.deleteCredential(key.id);
    await expect(vault.getComputeEnv(hpc.id)).rejects.toThrow(NotFoundError);
  });

  test('concurrent writers of one secret each get their own version', async () => {
    const ws = await vault.createWorkspace('ws-race');
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => vault.setSecret({ scope: 'workspace', ownerId: ws.id, name: 'RACE', value: `value-${i}` })),
    );
    expect(results.map((r) => r.version).sort()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    const last = results.find((r) => r.version === 6)!;
    expect(await vault.readSecretValue({ name: 'RACE', scope: 'workspace', secretId: last.id, version: 6 })).toMatch(/^value-\d$/);
  });

  test('everything survives close and reopen; migrations are not applied twice', async () => {
    const l = await backend.fresh();
    let v = await openVault(vaultOptions(l));
    const ws = await v.createWorkspace('persist');
    const m = await v.setSecret({ scope: 'workspace', ownerId: ws.id, name: 'KEPT', value: 'kept-value' });
    const c = await v.createCredential({ workspaceId: ws.id, name: 'tok', kind: 'test-token', fields: { token: 'kept-token' } });
    await v.close();
    v = await openVault(vaultOptions(l));
    try {
      // Rate slots for the fleet only where several processes can share the database.
      expect(v.rateSlots !== undefined).toBe(name === 'postgresql');
      expect(await v.readSecretValue({ name: 'KEPT', scope: 'workspace', secretId: m.id, version: 1 })).toBe('kept-value');
      expect((await v.readCredential(c.id)).secret).toEqual({ token: 'kept-token' });
    } finally {
      await v.close();
    }
    const db = await openDb(l);
    try {
      expect(await db.query('SELECT version FROM schema_migrations ORDER BY version')).toEqual(MIGRATIONS.map((m) => ({ version: m.version })));
    } finally {
      await db.close();
    }
  });

  test('a ciphertext moved to another row does not decrypt there (record identity is bound in)', async () => {
    const l = await backend.fresh();
    let v = await openVault(vaultOptions(l));
    const ws = await v.createWorkspace('swap');
    const a = await v.setSecret({ scope: 'workspace', ownerId: ws.id, name: 'SECRET_A', value: 'value-of-a' });
    const b = await v.setSecret({ scope: 'workspace', ownerId: ws.id, name: 'SECRET_B', value: 'value-of-b' });
    await v.close();
    const db = await openDb(l);
    await db.query(
      `UPDATE secrets SET wrapped_key = src.wrapped_key, ciphertext = src.ciphertext
       FROM (SELECT wrapped_key, ciphertext FROM secrets WHERE id = $1) AS src WHERE secrets.id = $2`,
      [a.id, b.id],
    );
    await db.close();
    v = await openVault(vaultOptions(l));
    try {
      expect(await v.readSecretValue({ name: 'SECRET_A', scope: 'workspace', secretId: a.id, version: 1 })).toBe('value-of-a');
      const err = await v.readSecretValue({ name: 'SECRET_B', scope: 'workspace', secretId: b.id, version: 1 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VaultIntegrityError);
      expect((err as Error).message).toContain(`secret:${b.id}`);
      expect((err as Error).message).not.toContain('value-of');
    } finally {
      await v.close();
    }
  });

  test('a closed vault refuses calls', async () => {
    const v = await openVault(vaultOptions(await backend.fresh()));
    await v.close();
    await expect(v.listWorkspaces()).rejects.toThrow(/closed/);
  });
});
