/**
 * remote/azure/batch-keys.ts driven through the real @azure/arm-batch and @azure/identity clients
 * against the HTTPS Azure fake. The credential trusts the fake's runtime CA through
 * core-rest-pipeline's `tlsOptions.ca`; instance discovery is off (the fake is not a known cloud).
 */
import { execFile } from 'node:child_process';
import * as https from 'node:https';
import { AzureLogger, setLogLevel } from '@azure/logger';
import { ClientSecretCredential } from '@azure/identity';
import type { TokenCredential } from '@azure/identity';
import {
  describeBatchKeys,
  regenerateBatchKey,
  sanitizeAzureError,
  verifyBatchKey,
  type BatchAccountRef,
  type BatchKeysOptions,
} from '../../remote/azure/batch-keys';
import { AzureFake, type FakeBatchAccount } from '../harness/azure-fake';
import { rejectionCatcher } from '../harness/caught';
import { AuthenticationFailedError, ConnectionError, InvalidInputError } from '../../domain/errors';

const TENANT = '11111111-2222-3333-4444-555555555555';
const CLIENT_ID = '66666666-7777-8888-9999-000000000000';
const CLIENT_SECRET = 'fake-client-secret~0123456789abcdefABCDEF';
const SUB = '0b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const RG = 'nf-rg';

let fake: AzureFake;
let opts: BatchKeysOptions;
const logLines: string[] = [];
const consoleLines: string[] = [];
const originalLog = AzureLogger.log;
const errors: Error[] = [];

function credential(secret = CLIENT_SECRET, clientId = CLIENT_ID): TokenCredential {
  return new ClientSecretCredential(TENANT, clientId, secret, {
    authorityHost: fake.authorityHost,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: fake.ca },
    retryOptions: { maxRetries: 0 },
  });
}

function ref(acct: FakeBatchAccount | string): BatchAccountRef {
  return { subscriptionId: SUB, resourceGroup: RG, accountName: typeof acct === 'string' ? acct : acct.name };
}

/** The raw SDK error (not one of ours: not checked for leaks). */
async function rawError(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

const caught = rejectionCatcher(errors);

beforeAll(async () => {
  fake = await AzureFake.start();
  fake.addClient({ tenantId: TENANT, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
  opts = { armEndpoint: fake.url, ca: fake.ca, maxRetries: 0 };
  // Capture everything the Azure SDKs log, at the most verbose level, to prove nothing leaks.
  setLogLevel('verbose');
  AzureLogger.log = (...args: unknown[]) => {
    logLines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
  };
  for (const m of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    jest.spyOn(console, m).mockImplementation((...args: unknown[]) => {
      consoleLines.push(args.map(String).join(' '));
    });
  }
});

afterAll(async () => {
  setLogLevel();
  AzureLogger.log = originalLog;
  jest.restoreAllMocks();
  await fake?.stop();
});

function postJson(path: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    https
      .request(`${fake.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, ca: fake.ca }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') }));
      })
      .on('error', reject)
      .end(body);
  });
}

describe('describeBatchKeys', () => {
  test('returns both keys and the endpoint through the real clients; bearer token and api-version on the wire', async () => {
    const acct = fake.addBatchAccount({ subscriptionId: SUB, resourceGroup: RG, name: 'describeacct' });
    const d = await describeBatchKeys(credential(), ref(acct), opts);
    expect(d).toEqual({ accountName: 'describeacct', sharedKeyAllowed: true, accountEndpoint: fake.batchEndpoint('describeacct').replace('https://', ''), primary: acct.primary, secondary: acct.secondary });
    const arm = fake.calls.filter((c) => c.account === 'describeacct');
    expect(arm.map((c) => [c.kind, c.method, c.status])).toEqual([
      ['account', 'GET', 200],
      ['listKeys', 'POST', 200],
    ]);
    for (const c of arm) expect(c.query['api-version']).toBe('2023-11-01');
    expect(fake.callsOf('token').some((c) => c.status === 200 && c.path === `/${TENANT}/oauth2/v2.0/token`)).toBe(true);
  });

  test('shared key disabled: sharedKeyAllowed false, no keys, listKeys never called', async () => {
    const acct = fake.addBatchAccount({ subscriptionId: SUB, resourceGroup: RG, name: 'aadonly', allowedAuthenticationModes: ['AAD'] });
    const d = await describeBatchKeys(credential(), ref(acct), opts);
    expect(d).toEqual({ accountName: 'aadonly', sharedKeyAllowed: false, accountEndpoint: expect.any(String) });
    expect(fake.calls.filter((c) => c.account === 'aadonly').map((c) => c.kind)).toEqual(['account']);
  });

  test('unknown account: a clear not-found InvalidInputError', async () => {
    const err = await caught(describeBatchKeys(credential(), ref('nosuchacct'), opts));
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err.message).toBe(`get: Batch account nosuchacct (resource group ${RG}, subscription ${SUB}) not found (HTTP 404 ResourceNotFound)`);
  });

  test('wrong client secret: AuthenticationFailedError, and no ARM call was made', async () => {
    const acct = fake.addBatchAccount({ subscriptionId: SUB, resourceGroup: RG, name: 'wrongsecret' });
    const wrong = 'wrong-secret~zyxwvutsrqponmlkjihgfedcba';
    const err = await caught(describeBatchKeys(credential(wrong), ref(acct), opts));
    expect(err).toBeInstanceOf(AuthenticationFailedError);
    expect(err.message).toContain('Entra ID refused');
    expect(err.message).toContain('invalid_client');
    expect(err.message).not.toContain(wrong);
    expect(fake.calls.filter((c) => c.account === 'wrongsecret')).toEqual([]);
    expect(fake.callsOf('token').some((c) => c.status === 401)).toBe(true);
  });

  test('a failing token endpoint is a retryable ConnectionError', async () => {
    fake.failNext(1, { kinds: ['token'], status: 503, code: 'temporarily_unavailable' });
    const err = await caught(describeBatchKeys(credential(), ref('describeacct'), opts));
    expect(err).toBeInstanceOf(ConnectionError);
    expect(fake.callsOf('token').filter((c) => c.injected).map((c) => c.status)).toEqual([503]);
  });

  test('an unreachable token endpoint, or one whose certificate is not trusted, is a ConnectionError', async () => {
    const unreachable = new ClientSecretCredential(TENANT, CLIENT_ID, CLIENT_SECRET, { authorityHost: 'https://127.0.0.1:1', disableInstanceDiscovery: true, retryOptions: { maxRetries: 0 } });
    const e1 = await caught(describeBatchKeys(unreachable, ref('describeacct'), opts));
    expect(e1).toBeInstanceOf(ConnectionError);
    const untrusted = new ClientSecretCredential(TENANT, CLIENT_ID, CLIENT_SECRET, { authorityHost: fake.authorityHost, disableInstanceDiscovery: true, retryOptions: { maxRetries: 0 } });
    const e2 = await caught(describeBatchKeys(untrusted, ref('describeacct'), opts));
    expect(e2).toBeInstanceOf(ConnectionError);
  });

  test('the SDK refusing its own input is a non-retryable InvalidInputError naming only the class', () => {
    const e = sanitizeAzureError(Object.assign(new Error(`keyName "Tertiary" is not one of Primary, Secondary; key ${CLIENT_SECRET}`), { name: 'Error' }), 'regenerateKeys', ref('x1x'));
    expect(e).toBeInstanceOf(InvalidInputError);
    expect(e.message).toBe(`regenerateKeys on Batch account x1x (resource group ${RG}, subscription ${SUB}): the request could not be made (Error)`);
  });

  test('unknown client id: AuthenticationFailedError', async () => {
    const err = await caught(describeBatchKeys(credential(CLIENT_SECRET, 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee'), ref('describeacct'), opts));
    expect(err).toBeInstanceOf(AuthenticationFailedError);
  });

  test('malformed references are refused before any call', async () => {
    const before = fake.calls.length;
    await expect(describeBatchKeys(credential(), { ...ref('x'), accountName: 'Bad_Name' }, opts)).rejects.toThrow(new InvalidInputError('accountName: 3 to 24 lower-case letters and digits'));
    await expect(describeBatchKeys(credential(), { ...ref('okname'), subscriptionId: 'not-a-guid' }, opts)).rejects.toThrow('subscriptionId: must be a GUID');
    expect(fake.calls.length).toBe(before);
  });

  test('a 503 from ARM (failNext) becomes a retryable ConnectionError; the next call works', async () => {
    const acct = fake.addBatchAccount({ subscriptionId: SUB, resourceGroup: RG, name: 'busyacct' });
    fake.failNext(1, { kinds: ['listKeys'] });
    const err = await caught(describeBatchKeys(credential(), ref(acct), opts));
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toContain('HTTP 503 ServerBusy');
    expect(fake.callsOf('listKeys').filter((c) => c.account === 'busyacct').map((c) => [c.status, c.injected])).toEqual([[503, true]]);
    await expect(describeBatchKeys(credential(), ref(acct), opts)).resolves.toMatchObject({ primary: acct.primary });
  });

  test('a dropped connection is a ConnectionError', async () => {
    const acct = fake.addBatchAccount({ subscriptionId: SUB, resourceGroup: RG, name: 'dropacct' });
    fake.failNext(1, { kinds: ['account'], destroy: true });
    const err = await caught(describeBatchKeys(credential(), ref(acct), opts));
    expect(err).toBeInstanceOf(ConnectionError);
  });

  test('without the test CA the TLS failure is a ConnectionError naming the TLS code', async () => {
    const acct = fake.addBatchAccount({ subscriptionId: SUB, resourceGroup: RG, name: 'tlsacct' });
    const err = await caught(describeBatchKeys(credential(), ref(acct), { armEndpoint: fake.url, maxRetries: 0 }));
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toMatch(/TLS failure \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/);
  });
});

describe('regenerateBatchKey', () => {
  test('regenerate Secondary: primary unchanged, secondary new; verify passes with the new key and fails with the old', async () => {
    const acct = fake.addBatchAccount({ subscriptionId: SUB, resourceGroup: RG, name: 'rotateacct' });
    const before = await describeBatchKeys(credential(), ref(acct), opts);
    const after = await regenerateBatchKey(credential(), ref(acct), 'Secondary', opts);
    expect(after.primary).toBe(before.primary);
    expect(after.secondary).not.toBe(before.secondary);
    expect(Buffer.from(after.secondary, 'base64')).toHaveLength(64);
    expect(after).toEqual({ primary: acct.primary, secondary: acct.secondary });
    expect(fake.callsOf('regenerateKeys').filter((c) => c.account === 'rotateacct').map((c) => c.detail)).toEqual(['Secondary']);

    const endpoint = before.accountEndpoint ?? '';
    await verifyBatchKey(endpoint, 'rotateacct', after.secondary, { ca: fake.ca });
    await verifyBatchKey(endpoint, 'rotateacct', after.primary, { ca: fake.ca });
    const old = before.secondary ?? '';
    const err = await caught(verifyBatchKey(endpoint, 'rotateacct', old, { ca: fake.ca }));
    expect(err).toBeInstanceOf(AuthenticationFailedError);
    expect(err.message).toBe(`verify on Batch account rotateacct at ${new URL(`https://${endpoint}`).host}: the data plane refused the shared key (HTTP 403)`);
    expect(fake.callsOf('dataplane').filter((c) => c.account === 'rotateacct').map((c) => [c.status, c.detail])).toEqual([
      [200, 'secondary'],
      [200, 'primary'],
      [403, 'none'],
    ]);
  });

  test('regenerate Primary changes only the primary', async () => {
    const acct = fake.addBatchAccount({ subscriptionId: SUB, resourceGroup: RG, name: 'primaryacct' });
    const { primary, secondary } = acct;
    const after = await regenerateBatchKey(credential(), ref(acct), 'Primary', opts);
    expect(after.primary).not.toBe(primary);
    expect(after.secondary).toBe(secondary);
  });

  test('shared key disabled: the clear error, and regenerateKeys is never sent', async () => {
    fake.addBatchAccount({ subscriptionId: SUB, resourceGroup: RG, name: 'noshared', allowedAuthenticationModes: ['AAD', 'TaskAuthenticationToken'] });
    const err = await caught(regenerateBatchKey(credential(), ref('noshared'), 'Secondary', opts));
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err.message).toMatch(/^account noshared does not allow shared-key authentication; there is nothing to rotate/);
    expect(fake.calls.filter((c) => c.account === 'noshared').map((c) => c.kind)).toEqual(['account']);
  });

  test("the fake's own refusal (listKeys on a shared-key-disabled account) maps to the same clear error", async () => {
    // Bypass the module's pre-check: call the SDK directly and sanitize its error.
    const { createBatchManagementClient, sanitizeAzureError } = await import('../../remote/azure/batch-keys');
    fake.addBatchAccount({ subscriptionId: SUB, resourceGroup: RG, name: 'noshared2', allowedAuthenticationModes: ['AAD'] });
    const client = createBatchManagementClient(credential(), SUB, opts);
    const raw = await rawError(client.batchAccountOperations.getKeys(RG, 'noshared2'));
    const clean = sanitizeAzureError(raw, 'listKeys', ref('noshared2'));
    expect(clean).toBeInstanceOf(InvalidInputError);
    expect(clean.message).toMatch(/^account noshared2 does not allow shared-key authentication; there is nothing to rotate/);
    expect(fake.callsOf('listKeys').filter((c) => c.account === 'noshared2').map((c) => c.status)).toEqual([409]);
  });

  test('unknown account: not found', async () => {
    const err = await caught(regenerateBatchKey(credential(), ref('ghostacct'), 'Primary', opts));
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err.message).toContain('Batch account ghostacct (resource group nf-rg, subscription');
    expect(err.message).toContain('not found (HTTP 404 ResourceNotFound)');
  });

  test('a bad keyName is refused locally; the fake answers 400 to one sent anyway', async () => {
    const acct = fake.addBatchAccount({ subscriptionId: SUB, resourceGroup: RG, name: 'badkeyname' });
    await expect(regenerateBatchKey(credential(), ref(acct), 'Tertiary' as 'Primary', opts)).rejects.toThrow(new InvalidInputError('keyName: must be Primary or Secondary'));
    // The SDK validates the enum too, so send the bad name over plain HTTPS with a real token.
    const token = await credential().getToken(`${fake.url}/.default`);
    const path = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Batch/batchAccounts/${acct.name}/regenerateKeys?api-version=2023-11-01`;
    const answer = await postJson(path, { authorization: `Bearer ${token?.token}` }, '{"keyName":"Tertiary"}');
    expect(answer).toEqual({ status: 400, body: { error: { code: 'InvalidRequestBody', message: expect.stringContaining('keyName') } } });
    expect(fake.callsOf('regenerateKeys').filter((c) => c.account === 'badkeyname').map((c) => c.status)).toEqual([400]);
    expect(acct.primary).toBe(fake.batchAccount(SUB, RG, 'badkeyname')?.primary);
  });

  test('ARM refuses calls without a valid bearer token or api-version', async () => {
    const acct = fake.addBatchAccount({ subscriptionId: SUB, resourceGroup: RG, name: 'rawacct' });
    const post = async (path: string, headers: Record<string, string>) => (await postJson(path, headers, '{"keyName":"Primary"}')).status;
    const base = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Batch/batchAccounts/${acct.name}/regenerateKeys`;
    const before = acct.primary;
    await expect(post(`${base}?api-version=2023-11-01`, {})).resolves.toBe(401);
    await expect(post(`${base}?api-version=2023-11-01`, { authorization: 'Bearer made-up' })).resolves.toBe(401);
    const token = await credential().getToken(`${fake.url}/.default`);
    await expect(post(base, { authorization: `Bearer ${token?.token}` })).resolves.toBe(400);
    expect(fake.batchAccount(SUB, RG, acct.name)?.primary).toBe(before);
    await expect(post(`${base}?api-version=2023-11-01`, { authorization: `Bearer ${token?.token}` })).resolves.toBe(200);
    expect(fake.batchAccount(SUB, RG, acct.name)?.primary).not.toBe(before);
  });
});

describe('fault injection for crash tests', () => {
  test('a regenerate whose answer is lost (afterApply + destroy): ConnectionError, yet the key did change', async () => {
    const acct = fake.addBatchAccount({ subscriptionId: SUB, resourceGroup: RG, name: 'lostanswer' });
    const { primary, secondary } = acct;
    fake.failNext(1, { kinds: ['regenerateKeys'], afterApply: true, destroy: true });
    const err = await caught(regenerateBatchKey(credential(), ref(acct), 'Secondary', opts));
    expect(err).toBeInstanceOf(ConnectionError);
    const now = fake.batchAccount(SUB, RG, 'lostanswer');
    expect(now?.primary).toBe(primary);
    expect(now?.secondary).not.toBe(secondary);
    expect(fake.callsOf('regenerateKeys').filter((c) => c.account === 'lostanswer').map((c) => [c.status, c.injected])).toEqual([[-1, true]]);
    // What a resuming workflow does: read the state again.
    await expect(describeBatchKeys(credential(), ref(acct), opts)).resolves.toMatchObject({ primary, secondary: now?.secondary });
  });

  test('failNext(n) fails exactly n counted calls, then the fake answers normally', async () => {
    const acct = fake.addBatchAccount({ subscriptionId: SUB, resourceGroup: RG, name: 'failtwice' });
    fake.failNext(2, { kinds: ['account'], status: 500, code: 'InternalServerError' });
    await expect(describeBatchKeys(credential(), ref(acct), opts)).rejects.toBeInstanceOf(ConnectionError);
    await expect(describeBatchKeys(credential(), ref(acct), opts)).rejects.toBeInstanceOf(ConnectionError);
    await expect(describeBatchKeys(credential(), ref(acct), opts)).resolves.toMatchObject({ sharedKeyAllowed: true });
    expect(fake.calls.filter((c) => c.account === 'failtwice').map((c) => [c.kind, c.status])).toEqual([
      ['account', 500],
      ['account', 500],
      ['account', 200],
      ['listKeys', 200],
    ]);
  });
});

describe('test CA trust for a spawned worker', () => {
  const probe = (env: Record<string, string>) =>
    new Promise<string>((resolve) => {
      const script = `require('node:https').get(process.argv[1], (r) => { r.resume(); r.on('end', () => console.log('status ' + r.statusCode)); }).on('error', (e) => console.log('error ' + e.code));`;
      execFile(process.execPath, ['-e', script, `${fake.url}/${TENANT}/v2.0/.well-known/openid-configuration`], { env: { PATH: process.env.PATH ?? '', ...env } }, (_err, stdout) => resolve(stdout.trim()));
    });

  test('NODE_EXTRA_CA_CERTS=fake.caFile makes a child process trust the fake; without it the handshake fails', async () => {
    await expect(probe({ NODE_EXTRA_CA_CERTS: fake.caFile })).resolves.toBe('status 200');
    await expect(probe({})).resolves.toMatch(/^error (UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/);
  });
});

describe('verifyBatchKey', () => {
  test('refuses non-base64 keys and non-https endpoints without a call', async () => {
    const before = fake.calls.length;
    await expect(verifyBatchKey(fake.batchEndpoint('x1x'), 'x1x', 'not a key!', { ca: fake.ca })).rejects.toThrow(new InvalidInputError('Batch account key: not a base64 string'));
    await expect(verifyBatchKey('http://127.0.0.1:1/batch/x1x', 'x1x', Buffer.alloc(64).toString('base64'))).rejects.toThrow('endpoint: must use https');
    expect(fake.calls.length).toBe(before);
  });

  test('an unreachable endpoint is a ConnectionError', async () => {
    const err = await caught(verifyBatchKey('https://127.0.0.1:1/batch/x1x', 'x1x', Buffer.alloc(64).toString('base64')));
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toContain('ECONNREFUSED');
  });

  test('a key of a shared-key-disabled account is refused by the data plane', async () => {
    const acct = fake.addBatchAccount({ subscriptionId: SUB, resourceGroup: RG, name: 'dpdisabled', allowedAuthenticationModes: ['AAD'] });
    await expect(verifyBatchKey(fake.batchEndpoint(acct.name), acct.name, acct.primary, { ca: fake.ca })).rejects.toBeInstanceOf(AuthenticationFailedError);
  });
});

describe('nothing sensitive leaks', () => {
  test('no key, token or client secret in any error message, SDK log line or console line', () => {
    expect(errors.length).toBeGreaterThanOrEqual(10);
    expect(logLines.length).toBeGreaterThan(20); // the capture works: the SDKs did log
    const secrets = [CLIENT_SECRET, 'wrong-secret~zyxwvutsrqponmlkjihgfedcba', ...fake.issuedTokens(), ...fake.issuedKeys()];
    expect(fake.issuedTokens().length).toBeGreaterThan(0);
    expect(fake.issuedKeys().length).toBeGreaterThan(20);
    const haystacks = [...errors.map((e) => `${e.message}\n${e.stack ?? ''}`), ...logLines, ...consoleLines];
    for (const s of secrets) {
      for (const h of haystacks) expect(h.includes(s)).toBe(false);
    }
  });
});
