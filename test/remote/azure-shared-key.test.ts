/**
 * The Batch SharedKey signer against a vector derived by hand from the spec (string-to-sign written
 * out literally, HMAC-SHA256 computed once with `openssl dgst -sha256 -mac HMAC` over the key bytes
 * 0x00..0x3f), and against the fake's independent implementation over HTTPS.
 */
import * as https from 'node:https';
import { batchAuthorization, batchSignature, batchStringToSign, decodeBatchKey } from '../../remote/azure/shared-key';
import { AzureFake } from '../harness/azure-fake';
import { InvalidInputError } from '../../domain/errors';

const KEY = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==';
const CT = 'application/json; odata=minimalmetadata; charset=utf-8';
const VECTOR = {
  method: 'get',
  url: "https://myaccount.westeurope.batch.azure.com/jobs?api-version=2024-07-01.20.0&%24filter=state%20eq%20'active'&MaxResults=10",
  headers: { 'Ocp-Zeta': 'z', 'Content-Type': CT, 'ocp-date': 'Fri, 20 Nov 2026 12:00:00 GMT', 'client-request-id': 'not-signed', Accept: 'application/json' },
};
const EXPECTED_STS =
  // VERB, Content-Encoding, Content-Language, Content-Length, Content-MD5, Content-Type, Date,
  // If-Modified-Since, If-Match, If-None-Match, If-Unmodified-Since, Range.
  ['GET', '', '', '', '', CT, '', '', '', '', '', ''].join('\n') +
  '\n' +
  'ocp-date:Fri, 20 Nov 2026 12:00:00 GMT\n' +
  'ocp-zeta:z\n' +
  '/myaccount/jobs\n' +
  "$filter:state eq 'active'\n" +
  'api-version:2024-07-01.20.0\n' +
  'maxresults:10';
const EXPECTED_SIG = '+ZEDGkV2zZpJHU+1FBPPRXvmXMei+WnOvBCJFm8rjkc=';

describe('Batch SharedKey signer', () => {
  test('string-to-sign: verb upper-cased, standard headers in order, ocp-* sorted and lower-cased, /account/path, sorted decoded query', () => {
    expect(batchStringToSign('myaccount', VECTOR)).toBe(EXPECTED_STS);
  });

  test('signature matches the openssl-computed vector', () => {
    expect(batchSignature('myaccount', KEY, VECTOR)).toBe(EXPECTED_SIG);
    expect(batchAuthorization('myaccount', KEY, VECTOR)).toBe(`SharedKey myaccount:${EXPECTED_SIG}`);
  });

  test('a different key, account, header or query changes the signature', () => {
    const other = Buffer.alloc(64, 7).toString('base64');
    expect(batchSignature('myaccount', other, VECTOR)).not.toBe(EXPECTED_SIG);
    expect(batchSignature('otheraccount', KEY, VECTOR)).not.toBe(EXPECTED_SIG);
    expect(batchSignature('myaccount', KEY, { ...VECTOR, headers: { ...VECTOR.headers, 'ocp-zeta': 'y' } })).not.toBe(EXPECTED_SIG);
    expect(batchSignature('myaccount', KEY, { ...VECTOR, url: VECTOR.url.replace('MaxResults=10', 'MaxResults=11') })).not.toBe(EXPECTED_SIG);
    // Headers outside the standard list and ocp-* are not signed.
    expect(batchSignature('myaccount', KEY, { ...VECTOR, headers: { ...VECTOR.headers, 'client-request-id': 'x' } })).toBe(EXPECTED_SIG);
  });

  test('Content-Length 0 signs as empty; a real length is signed', () => {
    const base = { method: 'POST', url: 'https://a.b/jobs', headers: { 'ocp-date': 'd' } };
    const lines = (h: Record<string, string>) => batchStringToSign('acct', { ...base, headers: { ...base.headers, ...h } }).split('\n');
    expect(lines({ 'Content-Length': '0' })[3]).toBe('');
    expect(lines({ 'Content-Length': '12' })[3]).toBe('12');
  });

  test('non-base64 keys are refused without echoing them', () => {
    for (const bad of ['', 'not base64!', 'abc', 'QUJD\nRA==']) {
      let err: unknown;
      try {
        decodeBatchKey(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InvalidInputError);
      if (bad) expect((err as Error).message).not.toContain(bad);
    }
    expect(decodeBatchKey(KEY)).toEqual(Buffer.from(Array.from({ length: 64 }, (_, i) => i)));
  });

  describe('against the fake data plane', () => {
    let fake: AzureFake;
    beforeAll(async () => {
      fake = await AzureFake.start();
    });
    afterAll(async () => {
      await fake.stop();
    });

    function call(account: string, key: string, extraHeaders: Record<string, string> = {}, query = 'api-version=2024-07-01.20.0&maxresults=1'): Promise<number> {
      const url = new URL(`${fake.batchEndpoint(account)}/applications?${query}`);
      const headers: Record<string, string> = { 'ocp-date': new Date().toUTCString(), 'Ocp-Custom': 'v', ...extraHeaders };
      headers.authorization = batchAuthorization(account, key, { method: 'GET', url, headers });
      return new Promise((resolve, reject) => {
        https
          .request(url, { method: 'GET', headers, ca: fake.ca }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          })
          .on('error', reject)
          .end();
      });
    }

    test('the fake accepts the signer for both keys and refuses a wrong key', async () => {
      const acct = fake.addBatchAccount({ subscriptionId: '00000000-0000-0000-0000-000000000001', resourceGroup: 'rg', name: 'signeracct' });
      await expect(call('signeracct', acct.primary)).resolves.toBe(200);
      await expect(call('signeracct', acct.secondary, { 'Content-Type': 'application/json' }, 'MaxResults=1&api-version=2024-07-01.20.0&%24filter=x%20eq%201')).resolves.toBe(200);
      await expect(call('signeracct', Buffer.alloc(64, 1).toString('base64'))).resolves.toBe(403);
      const dp = fake.callsOf('dataplane');
      expect(dp.map((c) => [c.status, c.detail])).toEqual([
        [200, 'primary'],
        [200, 'secondary'],
        [403, 'none'],
      ]);
    });

    test('a signature over other headers than were sent is refused', async () => {
      const acct = fake.addBatchAccount({ subscriptionId: '00000000-0000-0000-0000-000000000001', resourceGroup: 'rg', name: 'tamperacct' });
      const url = new URL(`${fake.batchEndpoint('tamperacct')}/applications?api-version=2024-07-01.20.0`);
      const date = new Date().toUTCString();
      const auth = batchAuthorization('tamperacct', acct.primary, { method: 'GET', url, headers: { 'ocp-date': date } });
      const status = await new Promise<number>((resolve, reject) => {
        https
          .request(url, { method: 'GET', headers: { 'ocp-date': date, 'ocp-extra': 'added-after-signing', authorization: auth }, ca: fake.ca }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          })
          .on('error', reject)
          .end();
      });
      expect(status).toBe(403);
    });
  });
});
