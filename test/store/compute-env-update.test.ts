/**
 * updateComputeEnv on both databases: settings and credential changes, what stays, updatedAt, and
 * the case it exists for (an HPC cluster's host key changed). Refusals, each proven to change
 * nothing, are in refusals.test.ts.
 */
import { ConflictError, ValidationError } from '../../domain/errors';
import type { ComputeEnv, VaultApi } from '../../store/types';
import { openVault } from '../../store/vault';
import { hpcPlatform } from '../../platforms/hpc';
import { platformSpec } from '../../platforms';
import { BACKENDS, testSshKind, useBackend, vaultOptions } from './backends';

/** Two host key fingerprints as `ssh-keygen -lf` prints them (SHA256: + 43 base64 characters). */
const OLD_FINGERPRINT = 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';
const NEW_FINGERPRINT = 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU';

const HPC_CONFIG = { host: 'login.hpc.example.org', user: 'alice', hostKeyFingerprint: OLD_FINGERPRINT, workDir: '/shared/scratch/alice' };

describe.each(BACKENDS)('updateComputeEnv on %s', (name) => {
  const backend = useBackend(name);
  let vault: VaultApi;
  let n = 0;

  beforeAll(async () => {
    // The real hpc settings parser (host key pin and all), with the test SSH credential kind.
    vault = await openVault(
      vaultOptions(await backend.fresh(), {
        platformSpecs: (p) => (p === 'hpc' ? { ...hpcPlatform, credentialKind: testSshKind.kind } : platformSpec(p)),
      }),
    );
  });
  afterAll(async () => {
    await vault?.close();
  });

  /** A workspace with two SSH credentials and an hpc compute environment using the first. */
  async function seed(): Promise<{ ws: string; key1: string; key2: string; ce: ComputeEnv }> {
    const ws = await vault.createWorkspace(`ws-${++n}`);
    const key1 = await vault.createCredential({ workspaceId: ws.id, name: 'key1', kind: 'test-ssh', fields: { username: 'alice', privateKey: 'PEM-1' } });
    const key2 = await vault.createCredential({ workspaceId: ws.id, name: 'key2', kind: 'test-ssh', fields: { username: 'alice', privateKey: 'PEM-2' } });
    const ce = await vault.createComputeEnv({ workspaceId: ws.id, name: 'cluster', platform: 'hpc', config: HPC_CONFIG, credentialId: key1.id });
    return { ws: ws.id, key1: key1.id, key2: key2.id, ce };
  }

  test('a new host key fingerprint: config replaced and normalised, credential and identity kept, updatedAt moves', async () => {
    const { ws, key1, ce } = await seed();
    expect(ce.config).toEqual({ ...HPC_CONFIG, port: 22 });
    // `ssh-keygen -lf` may print a trailing "=": the parser drops it, as on create.
    const updated = await vault.updateComputeEnv('cluster', ws, { config: { ...HPC_CONFIG, hostKeyFingerprint: `${NEW_FINGERPRINT}=` } });
    expect(updated).toEqual({
      ...ce,
      config: { ...HPC_CONFIG, port: 22, hostKeyFingerprint: NEW_FINGERPRINT },
      credentialId: key1,
      updatedAt: expect.any(String),
    });
    expect(Date.parse(updated.updatedAt)).toBeGreaterThan(Date.parse(ce.updatedAt));
    expect(updated.createdAt).toBe(ce.createdAt);
    // What activities read on their next attempt (they load the environment by id each time).
    expect(await vault.getComputeEnv(ce.id)).toEqual(updated);
  });

  test('a bad fingerprint is refused by the platform parser, naming the field, and the pin stays', async () => {
    const { ws, ce } = await seed();
    const err = await vault.updateComputeEnv('cluster', ws, { config: { ...HPC_CONFIG, hostKeyFingerprint: 'SHA256:short' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe('config.hostKeyFingerprint');
    expect((err as ValidationError).rule).toMatch(/ssh-keygen -lf/);
    expect(await vault.getComputeEnv(ce.id)).toEqual(ce);
  });

  test('config is a full replacement: settings left out are gone (or back to their defaults)', async () => {
    const { ws, ce } = await seed();
    const withPort = await vault.updateComputeEnv(ce.id, ws, { config: { ...HPC_CONFIG, port: 2222, maxConnections: 8 } });
    expect(withPort.config).toEqual({ ...HPC_CONFIG, port: 2222, maxConnections: 8 });
    const plain = await vault.updateComputeEnv(ce.id, ws, { config: HPC_CONFIG });
    expect(plain.config).toEqual({ ...HPC_CONFIG, port: 22 });
    const local = await vault.createComputeEnv({ workspaceId: ws, name: 'laptop', platform: 'local', config: { workDir: '/srv/nf' } });
    const moved = await vault.updateComputeEnv('laptop', ws, { config: { workDir: '/data/x/../runs' } });
    expect(moved.config).toEqual({ workDir: '/data/runs' });
    expect((await vault.updateComputeEnv(local.id, undefined, { config: {} })).config).toEqual({});
  });

  test('a rotated credential: by name or id; the config stays; the old credential can then be deleted', async () => {
    const { ws, key1, key2, ce } = await seed();
    const byName = await vault.updateComputeEnv('cluster', ws, { credentialId: 'key2' });
    expect(byName).toEqual({ ...ce, credentialId: key2, updatedAt: expect.any(String) });
    expect(Date.parse(byName.updatedAt)).toBeGreaterThan(Date.parse(ce.updatedAt));
    // key2 is in use now, key1 no longer.
    await expect(vault.deleteCredential(key2)).rejects.toThrow(ConflictError);
    await vault.deleteCredential(key1);
    const byId = await vault.updateComputeEnv(ce.id, undefined, { credentialId: key2 });
    expect(byId.credentialId).toBe(key2);
    expect(byId.config).toEqual(ce.config);
  });

  test('config and credential together', async () => {
    const { ws, key2, ce } = await seed();
    const both = await vault.updateComputeEnv('cluster', ws, { config: { ...HPC_CONFIG, workDir: '/scratch/moved' }, credentialId: key2 });
    expect(both).toMatchObject({ id: ce.id, name: 'cluster', platform: 'hpc', config: { workDir: '/scratch/moved' }, credentialId: key2 });
  });

  test('null credential on a platform that takes none is accepted and stays null', async () => {
    const ws = await vault.createWorkspace(`ws-${++n}`);
    const local = await vault.createComputeEnv({ workspaceId: ws.id, name: 'laptop', platform: 'local', config: {} });
    expect(await vault.updateComputeEnv('laptop', ws.id, { credentialId: null })).toMatchObject({ id: local.id, credentialId: null, config: {} });
  });

  test('only the named environment changes, even where another workspace has one of the same name', async () => {
    const a = await seed();
    const b = await seed();
    await vault.updateComputeEnv('cluster', a.ws, { config: { ...HPC_CONFIG, hostKeyFingerprint: NEW_FINGERPRINT } });
    expect(await vault.getComputeEnv(b.ce.id)).toEqual(b.ce);
    // Without a workspace the name alone is ambiguous; the id is not.
    const err = await vault.updateComputeEnv('cluster', undefined, { config: HPC_CONFIG }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe('workspaceId');
    expect(await vault.getComputeEnv(b.ce.id)).toEqual(b.ce);
  });

  test('concurrent updates of one environment all apply, in some order, each with a later updatedAt', async () => {
    const { ws, ce } = await seed();
    const dirs = Array.from({ length: 5 }, (_, i) => `/scratch/run-${i}`);
    const results = await Promise.all(dirs.map((workDir) => vault.updateComputeEnv('cluster', ws, { config: { ...HPC_CONFIG, workDir } })));
    const stamps = results.map((r) => Date.parse(r.updatedAt));
    expect(new Set(stamps).size).toBe(5);
    for (const t of stamps) expect(t).toBeGreaterThan(Date.parse(ce.updatedAt));
    const last = results[stamps.indexOf(Math.max(...stamps))]!;
    expect(await vault.getComputeEnv(ce.id)).toEqual(last);
  });
});
