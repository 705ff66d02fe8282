/**
 * The API over TLS (a throwaway CA): the CLI reaches it with BROKER_CA_FILE and refuses it
 * without; and the failed-authentication limit: past it an address is answered 429 with
 * Retry-After, before any token is looked at (a good one included), and the refusals are audited.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeTestCerts } from '../harness/test-ca';
import { runCliCaptured } from '../harness/cli';
import { httpRequest, startTestApi, type TestApi } from './helpers';

describe('TLS', () => {
  let api: TestApi;
  let dir: string;
  let caFile: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-api-tls-'));
    const certs = makeTestCerts(dir, 'secret-broker test CA');
    caFile = certs.caFile;
    api = await startTestApi({ tls: { cert: fs.readFileSync(certs.certFile), key: fs.readFileSync(certs.keyFile) } });
  });
  afterAll(async () => {
    await api?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const https = () => `https://127.0.0.1:${api.port}`;

  test('the CLI trusts the CA it is given, and then authenticates over https', async () => {
    const r = await runCliCaptured(['--api', https(), 'whoami'], { BROKER_TOKEN: api.harness.token, BROKER_CA_FILE: caFile });
    expect(r).toMatchObject({ code: 0, stdout: expect.stringContaining(api.harness.name) });
  });

  test('without the CA the certificate is refused, and nothing is sent in the clear', async () => {
    const r = await runCliCaptured(['--api', https(), 'whoami'], { BROKER_TOKEN: api.harness.token });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/presented a TLS certificate this CLI does not trust \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\): set BROKER_CA_FILE/);
    expect(r.stderr).not.toContain(api.harness.token);
    // Plain HTTP to the TLS port gets no answer of the API.
    const plain = await httpRequest(api.port, 'GET', '/healthz').catch(() => undefined);
    expect(plain?.status).not.toBe(200);
  });
});

describe('the failed-authentication limit', () => {
  let api: TestApi;

  beforeAll(async () => {
    api = await startTestApi({ auth: { failureLimit: { max: 3, windowMs: 60_000 } } });
  });
  afterAll(async () => {
    await api?.close();
  });

  test('three failures, then 429 with Retry-After for every request of the address, a good token too', async () => {
    const forged = { authorization: `Bearer sbt_${'A'.repeat(43)}` };
    for (let i = 0; i < 3; i++) expect((await httpRequest(api.port, 'GET', '/v1/me', undefined, forged)).status).toBe(401);
    const limited = await httpRequest(api.port, 'GET', '/v1/me', undefined, forged);
    expect(limited.status).toBe(429);
    expect(JSON.parse(limited.text)).toMatchObject({ code: 'rate-limited', error: expect.stringMatching(/too many failed authentications/) });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    const good = await httpRequest(api.port, 'GET', '/v1/me', undefined, { authorization: `Bearer ${api.harness.token}` });
    expect(good.status).toBe(429);
    const refused = await api.vault.audit.list({ limit: 100, outcome: 'refused' });
    expect(refused.filter((r) => r.code === 'unauthenticated').length).toBeGreaterThanOrEqual(3);
    expect(JSON.stringify(refused)).not.toContain('A'.repeat(43));
  });
});
