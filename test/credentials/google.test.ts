/**
 * Google credentials: a service-account JSON key validated on save. Table-driven refusals, each with
 * its reason; nothing is stored when a key is refused; no message carries key material.
 */
import { useCredentialVault } from '../harness/credential-vault';
import { generateKeyPairSync } from 'node:crypto';
import { credentialKind } from '../../credentials';
import { googleCredential, readServiceAccountKey } from '../../credentials/google';
import { platformSpec } from '../../platforms';
import { serviceAccountKey, serviceAccountKeyText, TEST_PROJECT } from '../fixtures/gcp-service-account';

jest.setTimeout(60_000);

const good = serviceAccountKey();
const pem = good.private_key as string;
const pemBody = pem.split('\n')[5];
const ecPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
// Damaged in the middle: the base64 body no longer decodes to a key.
const damaged = pem.replace(pemBody, pemBody.split('').reverse().join(''));

const refusals: Array<{ reason: string; fields: Record<string, unknown>; field: string; rule: RegExp }> = [
  { reason: 'no key at all', fields: {}, field: 'serviceAccountKey', rule: /is required/ },
  { reason: 'an unknown field', fields: { serviceAccountKey: JSON.stringify(good), project: 'x' }, field: 'project', rule: /not a field of google credentials/ },
  { reason: 'text that is not JSON', fields: { serviceAccountKey: '{"type": "service_account",' }, field: 'serviceAccountKey', rule: /not JSON/ },
  { reason: 'a bare PEM key instead of the JSON file', fields: { serviceAccountKey: pem }, field: 'serviceAccountKey', rule: /bare private key/ },
  { reason: 'a JSON array', fields: { serviceAccountKey: '[1,2]' }, field: 'serviceAccountKey', rule: /JSON object/ },
  { reason: 'a number', fields: { serviceAccountKey: 42 }, field: 'serviceAccountKey', rule: /JSON text/ },
  {
    reason: 'a user credential (gcloud auth application-default login)',
    fields: { serviceAccountKey: JSON.stringify({ type: 'authorized_user', client_id: 'x', client_secret: 'y', refresh_token: 'z' }) },
    field: 'serviceAccountKey.type',
    rule: /must be "service_account" \(this is an "authorized_user" credential\)/,
  },
  { reason: 'type missing', fields: { serviceAccountKey: serviceAccountKeyText({ overrides: { type: undefined } }) }, field: 'serviceAccountKey.type', rule: /service_account/ },
  { reason: 'project_id missing', fields: { serviceAccountKey: serviceAccountKeyText({ overrides: { project_id: undefined } }) }, field: 'serviceAccountKey.project_id', rule: /is required/ },
  { reason: 'project_id not a project id', fields: { serviceAccountKey: serviceAccountKeyText({ overrides: { project_id: 'My Project' } }) }, field: 'serviceAccountKey.project_id', rule: /project id/ },
  { reason: 'client_email missing', fields: { serviceAccountKey: serviceAccountKeyText({ overrides: { client_email: '' } }) }, field: 'serviceAccountKey.client_email', rule: /is required/ },
  { reason: 'client_email not an email', fields: { serviceAccountKey: serviceAccountKeyText({ overrides: { client_email: 'broker' } }) }, field: 'serviceAccountKey.client_email', rule: /email/ },
  { reason: 'private_key missing', fields: { serviceAccountKey: serviceAccountKeyText({ overrides: { private_key: undefined } }) }, field: 'serviceAccountKey.private_key', rule: /is required/ },
  { reason: 'private_key not a string', fields: { serviceAccountKey: serviceAccountKeyText({ overrides: { private_key: 123 } }) }, field: 'serviceAccountKey.private_key', rule: /must be a string/ },
  { reason: 'private_key without PEM armour', fields: { serviceAccountKey: serviceAccountKeyText({ overrides: { private_key: pemBody } }) }, field: 'serviceAccountKey.private_key', rule: /not a PEM private key/ },
  {
    reason: 'private_key truncated (no END line)',
    fields: { serviceAccountKey: serviceAccountKeyText({ overrides: { private_key: pem.slice(0, pem.indexOf('-----END')) } }) },
    field: 'serviceAccountKey.private_key',
    rule: /truncated/,
  },
  { reason: 'private_key damaged in the middle', fields: { serviceAccountKey: serviceAccountKeyText({ overrides: { private_key: damaged } }) }, field: 'serviceAccountKey.private_key', rule: /damaged/ },
  { reason: 'private_key is not RSA', fields: { serviceAccountKey: serviceAccountKeyText({ overrides: { private_key: ecPem } }) }, field: 'serviceAccountKey.private_key', rule: /must be an RSA key/ },
  { reason: 'private_key_id not hex', fields: { serviceAccountKey: serviceAccountKeyText({ overrides: { private_key_id: 'zz top' } }) }, field: 'serviceAccountKey.private_key_id', rule: /hexadecimal/ },
  { reason: 'far too long', fields: { serviceAccountKey: JSON.stringify({ ...good, padding: 'x'.repeat(20_000) }) }, field: 'serviceAccountKey', rule: /longer than/ },
];

describe('google credential kind', () => {
  test('is registered, and gcp compute environments ask for it', () => {
    expect(credentialKind('google')).toBe(googleCredential);
    expect(platformSpec('gcp').credentialKind).toBe('google');
  });

  test('accepts a service-account key file: public fields from the key, the JSON sealed', () => {
    const text = serviceAccountKeyText({ name: 'broker' });
    const parsed = googleCredential.parse({ serviceAccountKey: text }) as { public: Record<string, unknown>; secret: Record<string, string> };
    expect(parsed.public).toEqual({ projectId: TEST_PROJECT, clientEmail: `broker@${TEST_PROJECT}.iam.gserviceaccount.com`, privateKeyId: JSON.parse(text).private_key_id });
    expect(JSON.stringify(parsed.public)).not.toContain('PRIVATE KEY');
    expect(Object.keys(parsed.secret)).toEqual(['serviceAccountKey']);
    expect(JSON.parse(parsed.secret.serviceAccountKey)).toEqual(JSON.parse(text));
    expect(readServiceAccountKey(parsed.secret)).toMatchObject({ projectId: TEST_PROJECT, privateKey: pem });
    // The parsed object is accepted too (an API client sending the JSON itself).
    expect(googleCredential.parse({ serviceAccountKey: JSON.parse(text) })).toEqual(parsed);
  });

  test.each(refusals)('refuses $reason', ({ fields, field, rule }) => {
    let err: unknown;
    try {
      googleCredential.parse(fields);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ name: 'ValidationError', field });
    expect((err as { rule: string }).rule).toMatch(rule);
    const msg = (err as Error).message;
    expect(msg).not.toContain(pemBody);
    expect(msg).not.toContain('PRIVATE KEY-----\n');
  });
});

describe('in the vault', () => {
  const ctx = useCredentialVault('gcp-ws');

  test.each(refusals.slice(0, 8))('stores nothing when refusing $reason', async ({ fields, field }) => {
    await expect(ctx.vault.createCredential({ workspaceId: ctx.workspaceId, name: 'gcp-key', kind: 'google', fields })).rejects.toMatchObject({ name: 'ValidationError', field });
    expect(await ctx.vault.listCredentials(ctx.workspaceId)).toEqual([]);
  });

  test('stores a good key, lists public fields only, and a gcp compute environment takes the key project by default', async () => {
    const text = serviceAccountKeyText({ name: 'broker' });
    const meta = await ctx.vault.createCredential({ workspaceId: ctx.workspaceId, name: 'gcp-key-ok', kind: 'google', fields: { serviceAccountKey: text } });
    expect(meta.public).toMatchObject({ projectId: TEST_PROJECT });
    expect(JSON.stringify(await ctx.vault.listCredentials(ctx.workspaceId))).not.toContain('PRIVATE KEY');
    const read = await ctx.vault.readCredential(meta.id);
    expect(readServiceAccountKey(read.secret).clientEmail).toBe(`broker@${TEST_PROJECT}.iam.gserviceaccount.com`);
    const ce = await ctx.vault.createComputeEnv({ workspaceId: ctx.workspaceId, name: 'gcp-ce', platform: 'gcp', config: { region: 'europe-west4' }, credentialId: meta.id });
    expect(ce.config).toEqual({ location: 'europe-west4' });
    await ctx.vault.deleteComputeEnv(ce.id);
    await ctx.vault.deleteCredential(meta.id);
  });
});

describe('gcp compute environment settings', () => {
  const parse = (config: Record<string, unknown>) => platformSpec('gcp').parseConfig(config);
  test('location (or region), optional project and Batch service account', () => {
    expect(parse({ location: 'us-central1' })).toEqual({ location: 'us-central1' });
    expect(parse({ region: 'northamerica-northeast2', project: 'other-project', batchServiceAccount: '123-compute@developer.gserviceaccount.com' })).toEqual({
      location: 'northamerica-northeast2',
      project: 'other-project',
      batchServiceAccount: '123-compute@developer.gserviceaccount.com',
    });
  });
  test.each([
    { reason: 'no location', config: {}, field: 'config.location' },
    { reason: 'a multi-region is not a region', config: { location: 'global' }, field: 'config.location' },
    { reason: 'location and region disagree', config: { location: 'us-east1', region: 'us-east4' }, field: 'config.region' },
    { reason: 'a bad project id', config: { location: 'us-east1', project: 'Bad_Project' }, field: 'config.project' },
    { reason: 'a bad service account', config: { location: 'us-east1', batchServiceAccount: 'not an email' }, field: 'config.batchServiceAccount' },
    { reason: 'an unknown setting', config: { location: 'us-east1', zone: 'us-east1-b' }, field: 'config.zone' },
  ])('refuses $reason', ({ config, field }) => {
    expect(() => parse(config)).toThrow(expect.objectContaining({ name: 'ValidationError', field }));
  });
});
