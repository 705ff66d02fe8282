/**
 * VaultApi.replaceCredentialSecret on both databases, with the real `aws` kind: secret fields
 * replaced, public fields only where `publicFields` names them (an access key id changing with its
 * secret), the merged fields re-validated by the kind, `expect` as compare-and-swap over secret and
 * public fields, and every refusal leaving the record exactly as it was.
 */
import { credentialKind } from '../../credentials';
import { ConflictError, ValidationError } from '../../domain/errors';
import type { CredentialMeta, VaultApi } from '../../store/types';
import { openVault } from '../../store/vault';
import { BACKENDS, useBackend, vaultOptions } from './backends';

const KEY_1 = 'AKIAREPLACETEST00001';
const SECRET_1 = 'replaceTestSecretOne/0000000000000000000';
const KEY_2 = 'AKIAREPLACETEST00002';
const SECRET_2 = 'replaceTestSecretTwo+1111111111111111111';
const ROLE = 'arn:aws:iam::123456789012:role/ci-deployer';

describe.each(BACKENDS)('replaceCredentialSecret on %s', (name) => {
  const backend = useBackend(name);
  let vault: VaultApi;
  let workspaceId: string;
  let n = 0;

  beforeAll(async () => {
    vault = await openVault(vaultOptions(await backend.fresh(), { credentialKinds: credentialKind }));
    workspaceId = (await vault.createWorkspace('ws-replace')).id;
  });
  afterAll(async () => {
    await vault?.close();
  });

  function awsCred(fields: Record<string, unknown> = {}): Promise<CredentialMeta> {
    return vault.createCredential({ workspaceId, name: `aws-${++n}`, kind: 'aws', fields: { accessKeyId: KEY_1, secretAccessKey: SECRET_1, ...fields } });
  }

  /** The whole record, metadata (with updatedAt) and sealed fields. */
  async function snapshot(id: string) {
    return { meta: await vault.getCredential(id), fields: await vault.readCredential(id) };
  }

  async function refused(p: Promise<unknown>): Promise<Error> {
    const err = await p.then(
      () => new Error('expected a refusal'),
      (e: Error) => e,
    );
    expect(JSON.stringify({ ...err, message: err.message })).not.toMatch(/replaceTestSecret|SecretOne|SecretTwo/);
    return err;
  }

  test('the existing form replaces secret fields only, and leaves public ones (in any jsonb key order) alone', async () => {
    const c = await awsCred({ roleArn: ROLE, externalId: 'ext-12' });
    const updated = await vault.replaceCredentialSecret(c.id, { secretAccessKey: SECRET_2 }, { secretAccessKey: SECRET_1 });
    expect(updated.public).toEqual({ accessKeyId: KEY_1, roleArn: ROLE, externalId: 'ext-12' });
    expect(await vault.readCredential(c.id)).toEqual({ kind: 'aws', public: updated.public, secret: { secretAccessKey: SECRET_2 } });
  });

  test('a public field changes only when publicFields names it; then id and secret change together', async () => {
    const c = await awsCred();
    const before = await snapshot(c.id);

    const notNamed = await refused(vault.replaceCredentialSecret(c.id, { accessKeyId: KEY_2, secretAccessKey: SECRET_2 }));
    expect(notNamed).toBeInstanceOf(ValidationError);
    expect((notNamed as ValidationError).field).toBe('patch.accessKeyId');
    expect(notNamed.message).toMatch(/public field .* publicFields/);
    expect(await snapshot(c.id)).toEqual(before);

    // Naming one public field does not open the others.
    const other = await refused(vault.replaceCredentialSecret(c.id, { accessKeyId: KEY_2, secretAccessKey: SECRET_2 }, undefined, { publicFields: ['roleArn'] }));
    expect((other as ValidationError).field).toBe('patch.accessKeyId');
    expect(await snapshot(c.id)).toEqual(before);

    // A field the credential lacks is not added, even when named.
    const absent = await refused(vault.replaceCredentialSecret(c.id, { externalId: 'ext-99' }, undefined, { publicFields: ['externalId'] }));
    expect((absent as ValidationError).field).toBe('patch.externalId');
    expect(await snapshot(c.id)).toEqual(before);

    const updated = await vault.replaceCredentialSecret(
      c.id,
      { accessKeyId: KEY_2, secretAccessKey: SECRET_2 },
      { accessKeyId: KEY_1, secretAccessKey: SECRET_1 },
      { publicFields: ['accessKeyId'] },
    );
    expect(updated.public).toEqual({ accessKeyId: KEY_2 });
    expect(await vault.getCredential(c.id)).toEqual(updated);
    expect((await vault.listCredentialsOfKind('aws')).find((m) => m.id === c.id)?.public).toEqual({ accessKeyId: KEY_2 });
    expect(await vault.readCredential(c.id)).toEqual({ kind: 'aws', public: { accessKeyId: KEY_2 }, secret: { secretAccessKey: SECRET_2 } });
    expect(Date.parse(updated.updatedAt)).toBeGreaterThanOrEqual(Date.parse(before.meta.updatedAt));
  });

  test.each<{ reason: string; expect: Record<string, string>; field: string }>([
    { reason: 'stale public field', expect: { accessKeyId: KEY_2, secretAccessKey: SECRET_1 }, field: 'accessKeyId' },
    { reason: 'stale secret field', expect: { accessKeyId: KEY_1, secretAccessKey: SECRET_2 }, field: 'secretAccessKey' },
    { reason: 'a field the credential lacks', expect: { roleArn: ROLE }, field: 'roleArn' },
  ])('expect: $reason is a ConflictError and nothing changes', async ({ expect: stale, field }) => {
    const c = await awsCred();
    const before = await snapshot(c.id);
    const err = await refused(
      vault.replaceCredentialSecret(c.id, { accessKeyId: KEY_2, secretAccessKey: SECRET_2 }, stale, { publicFields: ['accessKeyId'] }),
    );
    expect(err).toBeInstanceOf(ConflictError);
    expect(err.message).toContain(`field ${field}`);
    expect(await snapshot(c.id)).toEqual(before);
  });

  test.each([
    { reason: 'a malformed secret beside a valid new id', patch: { accessKeyId: KEY_2, secretAccessKey: 'too-short' }, field: 'secretAccessKey' },
    { reason: 'a malformed id beside a valid new secret', patch: { accessKeyId: 'AKIA-not-a-key', secretAccessKey: SECRET_2 }, field: 'accessKeyId' },
    { reason: 'a temporary id without its session token', patch: { accessKeyId: 'ASIAREPLACETEST00003', secretAccessKey: SECRET_2 }, field: 'sessionToken' },
  ])("the kind's validation refuses $reason, naming the field; nothing is stored", async ({ patch, field }) => {
    const c = await awsCred();
    const before = await snapshot(c.id);
    const err = await refused(vault.replaceCredentialSecret(c.id, patch, { accessKeyId: KEY_1, secretAccessKey: SECRET_1 }, { publicFields: ['accessKeyId'] }));
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe(field);
    expect(await snapshot(c.id)).toEqual(before);
  });

  test('atomic compare-and-swap: of concurrent replacements expecting the same key, exactly one wins, whole', async () => {
    const c = await awsCred();
    const pairs = Array.from({ length: 6 }, (_, i) => ({
      accessKeyId: `AKIAREPLACERACE0000${i}`,
      secretAccessKey: `raceSecret${i}`.padEnd(40, String(i)),
    }));
    const results = await Promise.allSettled(
      pairs.map((p) => vault.replaceCredentialSecret(c.id, p, { accessKeyId: KEY_1, secretAccessKey: SECRET_1 }, { publicFields: ['accessKeyId'] })),
    );
    const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConflictError);
    const winner = pairs[won[0]!]!;
    // The id and the secret come from the same replacement.
    expect(await vault.readCredential(c.id)).toEqual({ kind: 'aws', public: { accessKeyId: winner.accessKeyId }, secret: { secretAccessKey: winner.secretAccessKey } });
  });
});
