/**
 * aws credentials: shape checks on save (field and rule named, never the key), and the live check
 * (STS GetCallerIdentity, after AssumeRole when a role is set) against a real moto server.
 */
import { credentialKind } from '../../credentials';
import { parseAwsCredential } from '../../credentials/aws';
import { verifyAwsCredential } from '../../remote/aws/identity';
import { ValidationError } from '../../domain/errors';
import { freePort } from '../harness/process';
import { MOTO_ACCOUNT, adminIam, createRole, createUser, startMoto, uniqueName, type MotoServer } from '../harness/moto';
import { asPolicy } from '../../targets/aws/policies';

const KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const ROLE = 'arn:aws:iam::123456789012:role/secret-broker';

describe('aws credential shape', () => {
  test('is a registered kind', () => {
    expect(credentialKind('aws').kind).toBe('aws');
  });

  test('splits public and secret fields', () => {
    expect(parseAwsCredential({ accessKeyId: KEY_ID, secretAccessKey: SECRET })).toEqual({
      public: { accessKeyId: KEY_ID },
      secret: { secretAccessKey: SECRET },
    });
    expect(parseAwsCredential({ accessKeyId: KEY_ID, secretAccessKey: SECRET, roleArn: ROLE, externalId: 'tower-ext-42' })).toEqual({
      public: { accessKeyId: KEY_ID, roleArn: ROLE, externalId: 'tower-ext-42' },
      secret: { secretAccessKey: SECRET },
    });
    const temp = parseAwsCredential({ accessKeyId: 'ASIAIOSFODNN7EXAMPLE', secretAccessKey: SECRET, sessionToken: 'FwoGZXIvYXdzEJr' + 'a'.repeat(100) });
    expect(Object.keys(temp.secret).sort()).toEqual(['secretAccessKey', 'sessionToken']);
  });

  test.each([
    { reason: 'no access key id', fields: { secretAccessKey: SECRET }, field: 'accessKeyId' },
    { reason: 'access key id of the wrong shape', fields: { accessKeyId: 'AKIA123', secretAccessKey: SECRET }, field: 'accessKeyId' },
    { reason: 'lower-case access key id', fields: { accessKeyId: KEY_ID.toLowerCase(), secretAccessKey: SECRET }, field: 'accessKeyId' },
    { reason: 'no secret access key', fields: { accessKeyId: KEY_ID }, field: 'secretAccessKey' },
    { reason: 'secret access key too short', fields: { accessKeyId: KEY_ID, secretAccessKey: SECRET.slice(1) }, field: 'secretAccessKey' },
    { reason: 'secret access key with a bad character', fields: { accessKeyId: KEY_ID, secretAccessKey: SECRET.slice(1) + '!' }, field: 'secretAccessKey' },
    { reason: 'temporary key without a session token', fields: { accessKeyId: 'ASIAIOSFODNN7EXAMPLE', secretAccessKey: SECRET }, field: 'sessionToken' },
    { reason: 'session token with a long-term key', fields: { accessKeyId: KEY_ID, secretAccessKey: SECRET, sessionToken: 'a'.repeat(40) }, field: 'sessionToken' },
    { reason: 'role ARN that is not a role', fields: { accessKeyId: KEY_ID, secretAccessKey: SECRET, roleArn: 'arn:aws:iam::123456789012:user/x' }, field: 'roleArn' },
    { reason: 'external id without a role', fields: { accessKeyId: KEY_ID, secretAccessKey: SECRET, externalId: 'abc' }, field: 'externalId' },
    { reason: 'external id too short', fields: { accessKeyId: KEY_ID, secretAccessKey: SECRET, roleArn: ROLE, externalId: 'a' }, field: 'externalId' },
    { reason: 'unknown field', fields: { accessKeyId: KEY_ID, secretAccessKey: SECRET, region: 'eu-west-1' }, field: 'region' },
    { reason: 'non-string', fields: { accessKeyId: KEY_ID, secretAccessKey: 42 }, field: 'secretAccessKey' },
  ])('refuses $reason, naming $field and no key material', ({ fields, field }) => {
    let err: unknown;
    try {
      parseAwsCredential(fields);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe(field);
    const text = JSON.stringify({ message: (err as Error).message, ...(err as object) });
    expect(text).not.toContain(SECRET.slice(1, 30));
  });
});

describe('verifyAwsCredential against moto', () => {
  let moto: MotoServer;
  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(async () => {
    await moto?.stop();
  });

  test('reports the IAM user the key belongs to', async () => {
    const iam = adminIam(moto.endpoint);
    const user = await createUser(iam, uniqueName('cred-user'), {});
    iam.destroy();
    const parsed = parseAwsCredential({ accessKeyId: user.accessKeyId, secretAccessKey: user.secretAccessKey });
    const who = await verifyAwsCredential(parsed, { aws: moto.endpoint });
    expect(who).toMatchObject({ account: MOTO_ACCOUNT, arn: user.arn });
  });

  test('with a role ARN, reports the assumed role', async () => {
    const iam = adminIam(moto.endpoint);
    const user = await createUser(iam, uniqueName('cred-user'), {});
    const roleName = uniqueName('cred-role');
    await createRole(iam, roleName, { trust: asPolicy({ Effect: 'Allow', Principal: { AWS: user.arn }, Action: 'sts:AssumeRole' }) });
    iam.destroy();
    const parsed = parseAwsCredential({
      accessKeyId: user.accessKeyId,
      secretAccessKey: user.secretAccessKey,
      roleArn: `arn:aws:iam::${MOTO_ACCOUNT}:role/${roleName}`,
      externalId: 'ext-77',
    });
    const who = await verifyAwsCredential(parsed, { aws: moto.endpoint });
    expect(who.arn).toBe(`arn:aws:sts::${MOTO_ACCOUNT}:assumed-role/${roleName}/secret-broker`);
  });

  test('an unreachable endpoint is a sanitized ConnectionError', async () => {
    const port = await freePort();
    const parsed = parseAwsCredential({ accessKeyId: KEY_ID, secretAccessKey: SECRET });
    const err = await verifyAwsCredential(parsed, { aws: `http://127.0.0.1:${port}` }).catch((e: Error) => e);
    expect(err).toMatchObject({ name: 'ConnectionError' });
    expect((err as Error).message).toMatch(/^aws sts:GetCallerIdentity failed/);
    expect(JSON.stringify({ m: (err as Error).message, s: (err as Error).stack })).not.toContain(SECRET);
    expect((err as Error).message).not.toContain(KEY_ID);
  });
});
