/**
 * rotators/aws-access-key.ts through the real @aws-sdk/client-iam and client-sts against
 * moto, with a temporary vault. Each test makes its own IAM user (with the policy a user needs to
 * manage its own keys) and stores its first key as an `aws` credential.
 *
 * moto neither checks signatures nor enforces IAM policies, and STS GetCallerIdentity with a key it
 * does not know answers with a default identity (arn:aws:sts::<account>:user/moto) instead of
 * refusing. So "the deleted key no longer works" is asserted as: ListAccessKeys lacks it, and STS no
 * longer names the user for it. moto does enforce the two-keys-per-user limit (LimitExceeded), which
 * the crash-recovery test relies on.
 */
import type { IAM } from '@aws-sdk/client-iam';
import { STS } from '@aws-sdk/client-sts';
import { verifyAwsCredential } from '../../remote/aws/identity';
import { asPolicy } from '../../targets/aws/policies';
import { createRotator, rotationKind } from '../../rotators';

/** The kind as the services describe it, and its rotator as the worker builds it. */
const awsAccessKeyRotation = { ...rotationKind('aws-access-key'), create: createRotator };
import type { RotatorDeps, TwoSlotRotator } from '../../rotators/types';
import { ConflictError, ValidationError, AuthenticationFailedError, ConnectionError, InvalidInputError, RotationRefusedError } from '../../domain/errors';
import type { CredentialMeta } from '../../store/types';
import { ROTATION_WORKFLOW_ID_RE, rotationWorkflowId, type RotationTarget } from '../../domain/rotation';
import { leaks, useCredentialVault } from '../harness/credential-vault';
import { freePort } from '../harness/process';
import { adminIam, createUser, startMoto, uniqueName, type BrokerUser, type MotoServer } from '../harness/moto';
import { startFaultProxy } from '../harness/fault-proxy';
import { rejectionCatcher } from '../harness/caught';

/** What a user needs to rotate its own keys (moto does not enforce it; real IAM does). */
const SELF_KEYS_POLICY = asPolicy({
  Effect: 'Allow',
  Action: ['iam:GetUser', 'iam:ListAccessKeys', 'iam:CreateAccessKey', 'iam:UpdateAccessKey', 'iam:DeleteAccessKey'],
  Resource: 'arn:aws:iam::*:user/${aws:username}',
});

let moto: MotoServer;
let iam: IAM;
const cv = useCredentialVault('aws-rotation');
const rotators: TwoSlotRotator[] = [];
/** Every secret access key a test saw, and every error it caught: checked for leaks at the end. */
const secrets: string[] = [];
const errors: unknown[] = [];

beforeAll(async () => {
  moto = await startMoto();
  iam = adminIam(moto.endpoint);
});

afterAll(async () => {
  for (const r of rotators) await r.close();
  iam?.destroy();
  await moto?.stop();
});

function deps(endpoint = moto.endpoint): RotatorDeps {
  return { vault: cv.vault, aws: { endpoint } };
}

function target(cred: CredentialMeta | string): RotationTarget {
  return { kind: 'aws-access-key', credentialId: typeof cred === 'string' ? cred : cred.id };
}

async function rotator(cred: CredentialMeta, d = deps()): Promise<TwoSlotRotator> {
  const r = await awsAccessKeyRotation.create(target(cred), d);
  rotators.push(r);
  return r;
}

const caught = rejectionCatcher(errors);

interface Setup {
  user: BrokerUser;
  cred: CredentialMeta;
}

/** An IAM user with its first key, stored as an aws credential. */
async function userWithKey(): Promise<Setup> {
  const user = await createUser(iam, uniqueName('rot'), { inline: { 'own-access-keys': SELF_KEYS_POLICY } });
  secrets.push(user.secretAccessKey);
  const cred = await cv.vault.createCredential({
    workspaceId: cv.workspaceId,
    name: uniqueName('aws'),
    kind: 'aws',
    fields: { accessKeyId: user.accessKeyId, secretAccessKey: user.secretAccessKey },
  });
  return { user, cred };
}

async function keyIds(user: BrokerUser): Promise<string[]> {
  const out = await iam.listAccessKeys({ UserName: user.name });
  return (out.AccessKeyMetadata ?? []).map((k) => k.AccessKeyId!).sort();
}

async function stored(cred: CredentialMeta) {
  const c = await cv.vault.readCredential(cred.id);
  if (c.secret.secretAccessKey) secrets.push(c.secret.secretAccessKey);
  return c;
}

/** The ARN STS names for a key pair (moto: a default identity for keys it does not know). */
async function callerArn(accessKeyId: string, secretAccessKey: string): Promise<string> {
  const sts = new STS({ region: 'us-east-1', endpoint: moto.endpoint, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
  try {
    return (await sts.getCallerIdentity({})).Arn ?? '';
  } finally {
    sts.destroy();
  }
}

describe('aws-access-key rotation against moto', () => {
  test('describe: the account is the credential (the key id changes with every rotation); no network needed', async () => {
    const { cred } = await userWithKey();
    const d = await awsAccessKeyRotation.describe(target(cred), cv.vault);
    expect(d.account).toBe(`aws-access-key:${cred.id}`);
    expect(rotationWorkflowId(d.account)).toMatch(ROTATION_WORKFLOW_ID_RE);
    expect(d.label).toContain(cred.name);
    expect(awsAccessKeyRotation.kind).toBe('aws-access-key');
  });

  test('full flow: inspect, regenerate (stored at once), verify, retire the old key', async () => {
    const { user, cred } = await userWithKey();
    const r = await rotator(cred);
    const k0 = user.accessKeyId;

    expect(await r.inspect()).toEqual({ rotatable: true, slots: [k0], stored: k0, usedElsewhere: [], fixedSlots: false });

    const k1 = await r.regenerate(null);
    expect(k1).toMatch(/^AKIA[A-Z0-9]{16}$/);
    expect(k1).not.toBe(k0);
    expect(await keyIds(user)).toEqual([k0, k1].sort());
    const after = await stored(cred);
    expect(after.public).toEqual({ accessKeyId: k1 });
    expect(after.secret.secretAccessKey).not.toBe(user.secretAccessKey);
    expect((await cv.vault.getCredential(cred.id)).public).toEqual({ accessKeyId: k1 });
    // The returned slot is a key id and nothing else.
    expect(JSON.stringify(k1)).not.toContain(after.secret.secretAccessKey);

    const snap = await r.inspect();
    expect(snap).toMatchObject({ stored: k1, usedElsewhere: [], fixedSlots: false });
    expect([...snap.slots].sort()).toEqual([k0, k1].sort());

    // store: already holds it, nothing is written; the old key's secret cannot be read back.
    const before = await cv.vault.getCredential(cred.id);
    await r.store(k1);
    expect(await cv.vault.getCredential(cred.id)).toEqual(before);
    const back = await caught(r.store(k0));
    expect(back).toBeInstanceOf(InvalidInputError);
    expect(back.message).toMatch(/shows a secret access key only when the key is created/);
    expect(await cv.vault.getCredential(cred.id)).toEqual(before);

    await r.verifyStored();
    expect(await callerArn(k1, after.secret.secretAccessKey!)).toBe(user.arn);
    expect((await verifyAwsCredential(after, { aws: moto.endpoint })).arn).toBe(user.arn);

    // The stored key is never retired.
    const own = await caught(r.retire(k1));
    expect(own).toBeInstanceOf(RotationRefusedError);
    expect(await keyIds(user)).toEqual([k0, k1].sort());

    await r.retire(k0);
    expect(await keyIds(user)).toEqual([k1]);
    expect(await callerArn(k0, user.secretAccessKey)).not.toBe(user.arn);
    // Gone is done.
    await r.retire(k0);

    // A second rotation starts from the new key, in a fresh rotator (as each workflow step is).
    const r2 = await rotator(cred);
    const k2 = await r2.regenerate(null);
    await r2.verifyStored();
    await r2.retire(k1);
    expect(await keyIds(user)).toEqual([k2]);
    expect((await stored(cred)).public).toEqual({ accessKeyId: k2 });
  });

  test('a rotation that starts with two keys deletes the spare before creating', async () => {
    const { user, cred } = await userWithKey();
    const extra = await iam.createAccessKey({ UserName: user.name });
    const spare = extra.AccessKey!.AccessKeyId!;
    secrets.push(extra.AccessKey!.SecretAccessKey!);
    const r = await rotator(cred);
    const snap = await r.inspect();
    expect(snap.stored).toBe(user.accessKeyId);
    expect([...snap.slots].sort()).toEqual([user.accessKeyId, spare].sort());
    const k1 = await r.regenerate(spare);
    expect(await keyIds(user)).toEqual([user.accessKeyId, k1].sort());
    expect((await stored(cred)).public.accessKeyId).toBe(k1);
    // Retried with the same spare (gone now) after a lost answer: the work is done, nothing more changes.
    expect(await r.regenerate(spare)).toBe(k1);
    expect(await keyIds(user)).toEqual([user.accessKeyId, k1].sort());
  });

  test('crash between CreateAccessKey and storing: the next regenerate deletes the orphan, never exceeding two keys', async () => {
    const { user, cred } = await userWithKey();
    // What a crashed regenerate leaves: a key no vault credential holds (its secret is lost).
    const orphan = (await iam.createAccessKey({ UserName: user.name })).AccessKey!;
    secrets.push(orphan.SecretAccessKey!);
    // moto enforces the limit: a third key is refused.
    await expect(iam.createAccessKey({ UserName: user.name })).rejects.toMatchObject({ name: expect.stringMatching(/^LimitExceeded/) });

    const r = await rotator(cred);
    const snap = await r.inspect();
    expect(snap).toMatchObject({ stored: user.accessKeyId, usedElsewhere: [] });
    expect([...snap.slots].sort()).toEqual([user.accessKeyId, orphan.AccessKeyId!].sort());

    // The workflow saw one key at its own inspect (before the crash): spare null.
    const k1 = await r.regenerate(null);
    const ids = await keyIds(user);
    expect(ids).toEqual([user.accessKeyId, k1].sort());
    expect(ids).not.toContain(orphan.AccessKeyId);
    expect((await stored(cred)).public.accessKeyId).toBe(k1);
    await r.verifyStored();
  });

  test('a retry after a lost answer returns the stored key and leaves the old one for its grace period', async () => {
    const { user, cred } = await userWithKey();
    // Real IAM gives CreateDate to the second: make the first key clearly older than the next.
    await new Promise((res) => setTimeout(res, 1100));
    const r = await rotator(cred);
    const k1 = await r.regenerate(null);
    expect(await r.regenerate(null)).toBe(k1);
    expect(await keyIds(user)).toEqual([user.accessKeyId, k1].sort());
    expect((await stored(cred)).public.accessKeyId).toBe(k1);
  });

  test('a failed store deletes the new key and leaves the vault as it was', async () => {
    const { user, cred } = await userWithKey();
    const before = await stored(cred);
    const r = await rotator(cred);
    const spy = jest.spyOn(cv.vault, 'replaceCredentialSecret').mockRejectedValueOnce(new ConflictError('credential changed since it was read'));
    try {
      const err = await caught(r.regenerate(null));
      expect(err).toBeInstanceOf(ConflictError);
    } finally {
      spy.mockRestore();
    }
    expect(await keyIds(user)).toEqual([user.accessKeyId]);
    expect(await cv.vault.readCredential(cred.id)).toEqual(before);
  });

  test('a spare another vault credential uses is refused, and nothing changes', async () => {
    const { user, cred } = await userWithKey();
    const second = (await iam.createAccessKey({ UserName: user.name })).AccessKey!;
    secrets.push(second.SecretAccessKey!);
    const other = await cv.vault.createCredential({
      workspaceId: cv.workspaceId,
      name: uniqueName('aws-other'),
      kind: 'aws',
      fields: { accessKeyId: second.AccessKeyId!, secretAccessKey: second.SecretAccessKey! },
    });
    const before = { mine: await cv.vault.readCredential(cred.id), theirs: await cv.vault.readCredential(other.id), keys: await keyIds(user) };
    const r = await rotator(cred);

    expect(await r.inspect()).toMatchObject({ stored: user.accessKeyId, usedElsewhere: [second.AccessKeyId] });

    const spareErr = await caught(r.regenerate(second.AccessKeyId!));
    expect(spareErr).toBeInstanceOf(RotationRefusedError);
    expect(spareErr.message).toMatch(/another credential in the vault uses it; nothing was changed/);
    // Both keys held by the vault: no spare to make room for a new one.
    const nullErr = await caught(r.regenerate(null));
    expect(nullErr).toBeInstanceOf(RotationRefusedError);
    expect(nullErr.message).toMatch(/both access keys .* are used by vault credentials/);
    const ownErr = await caught(r.regenerate(user.accessKeyId));
    expect(ownErr).toBeInstanceOf(RotationRefusedError);
    expect(ownErr.message).toMatch(/the rotated credential uses it/);
    const retireErr = await caught(r.retire(second.AccessKeyId!));
    expect(retireErr).toBeInstanceOf(RotationRefusedError);

    expect({ mine: await cv.vault.readCredential(cred.id), theirs: await cv.vault.readCredential(other.id), keys: await keyIds(user) }).toEqual(before);
  });

  test.each([
    {
      reason: 'a role to assume',
      fields: { roleArn: 'arn:aws:iam::123456789012:role/ci-deployer' },
      field: 'roleArn',
      message: /assumed role, whose credentials are temporary and have no access key to rotate/,
    },
    {
      reason: 'temporary STS credentials',
      fields: { accessKeyId: 'ASIAROTATIONTEST0001', sessionToken: 'FwoGZXIvYXdzEBYaDHRlbXBvcmFyeXRva2Vu' },
      field: 'sessionToken',
      message: /temporary \(ASIA\.\.\.\) STS credentials/,
    },
  ])('a credential with $reason is refused by describe and create, naming $field', async ({ fields, field, message }) => {
    const cred = await cv.vault.createCredential({
      workspaceId: cv.workspaceId,
      name: uniqueName('aws-temp'),
      kind: 'aws',
      fields: { accessKeyId: 'AKIAROTATIONTEST0001', secretAccessKey: 'rotationTestSecretKey/000000000000000000', ...fields },
    });
    for (const p of [awsAccessKeyRotation.describe(target(cred), cv.vault), awsAccessKeyRotation.create(target(cred), deps())]) {
      const err = await caught(p);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).field).toBe(field);
      expect(err.message).toMatch(message);
    }
  });

  test('a credential of another kind is refused, naming credentialId', async () => {
    const cred = await cv.vault.createCredential({
      workspaceId: cv.workspaceId,
      name: uniqueName('azure'),
      kind: 'azure-shared-key',
      // Azurite's published development key.
      fields: { storageAccountName: 'nfstorage01', storageKey: 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==' },
    });
    const err = await caught(awsAccessKeyRotation.describe(target(cred), cv.vault));
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe('credentialId');
  });

  test('a stored key STS does not tie to an IAM user fails verification (AuthenticationFailedError)', async () => {
    const { user, cred } = await userWithKey();
    const r = await rotator(cred);
    await iam.deleteAccessKey({ UserName: user.name, AccessKeyId: user.accessKeyId });
    const err = await caught(r.verifyStored());
    expect(err).toBeInstanceOf(AuthenticationFailedError);
    // And nothing else proceeds with it.
    expect(await caught(r.inspect())).toBeInstanceOf(InvalidInputError);
  });

  test('a freshly stored key refused (IAM still propagating it) is a retryable ConnectionError; an old refused key stays AuthenticationFailedError', async () => {
    const proxy = await startFaultProxy({ target: moto.endpoint, share: 0, eligible: () => false });
    try {
      const { user, cred } = await userWithKey();
      const r = await rotator(cred, deps(proxy.endpoint));
      // Never replaced: a refusal is the credential's fault.
      proxy.revoke(user.accessKeyId);
      expect(await caught(r.inspect())).toBeInstanceOf(AuthenticationFailedError);

      const { user: u2, cred: c2 } = await userWithKey();
      const r2 = await rotator(c2, deps(proxy.endpoint));
      await new Promise((res) => setTimeout(res, 5));
      const k1 = await r2.regenerate(null);
      expect(k1).not.toBe(u2.accessKeyId);
      // The retried step signs with the key stored a moment ago, which AWS may not know yet everywhere.
      proxy.revoke(k1);
      const err = await caught(r2.inspect());
      expect(err).toBeInstanceOf(ConnectionError);
      expect(err.message).toMatch(/may still be propagating/);
    } finally {
      await proxy.stop();
    }
  });

  test('an unreachable endpoint is a sanitized ConnectionError', async () => {
    const { cred } = await userWithKey();
    const r = await rotator(cred, deps(`http://127.0.0.1:${await freePort()}`));
    const err = await caught(r.regenerate(null));
    expect(err.name).toBe('ConnectionError');
    expect(err.message).toMatch(/^aws sts:GetCallerIdentity failed/);
  });

  test('no error carries a secret access key', () => {
    expect(errors.length).toBeGreaterThan(10);
    expect(secrets.length).toBeGreaterThan(5);
    for (const e of errors) {
      expect(leaks(e, secrets)).toBe(false);
      expect(leaks(String((e as Error).stack ?? ''), secrets)).toBe(false);
    }
  });
});
