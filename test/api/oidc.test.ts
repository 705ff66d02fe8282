/**
 * OIDC bearer tokens against a local issuer with a throwaway key pair (discovery and JWKS over
 * HTTP): a good token maps to its user or service by subject; a wrong issuer, audience, algorithm,
 * key, expiry or subject is a 401 that says which and never echoes the token; an unreachable
 * issuer is a 503. The codec endpoint takes the Temporal Web UI's access token.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { defaultPayloadConverter } from '@temporalio/common';
import { buildApiServer } from '../../api/server';
import { EncryptionCodec, keyringFrom } from '../../codec/data-converter';
import { startOidcIssuer, type OidcIssuer } from '../harness/oidc-issuer';
import { CapturingLogger, FakeRuns, grant, harnessIdentity, httpRequest, openTestVault, type TestVault } from './helpers';

let issuer: OidcIssuer;
let tv: TestVault;
let app: ReturnType<typeof buildApiServer>;
let port: number;
const codec = new EncryptionCodec(keyringFrom(randomBytes(32)));

beforeAll(async () => {
  issuer = await startOidcIssuer();
  tv = await openTestVault();
  const alice = await tv.vault.access.createPrincipal('user', 'alice', { oidc: { issuer: issuer.issuer, subject: 'subject-1' } });
  await tv.vault.access.createPrincipal('service', 'launcher', { oidc: { issuer: issuer.issuer, subject: 'client-launcher' } });
  await tv.vault.access.createPrincipal('user', 'nobody', { oidc: { issuer: issuer.issuer, subject: 'subject-no-role' } });
  const ws = await tv.vault.createWorkspace('genomics', { id: alice.id, kind: 'user', name: 'alice' });
  await grant(tv.vault, ws.id, 'launcher', 'launch', true);
  await harnessIdentity(tv.vault);
  // No JWKS URL: found through the issuer's discovery document. The codec needs a token even from
  // loopback here, as it does anywhere beyond the embedded default.
  app = buildApiServer({
    vault: tv.vault,
    runs: new FakeRuns(tv.vault),
    logger: new CapturingLogger(),
    auth: { oidc: { issuer: issuer.issuer, audience: issuer.audience }, codecLoopbackOpen: false, failureLimit: { max: 1000, windowMs: 60_000 } },
    codec: { codec, allowedOrigins: ['http://127.0.0.1:8233'] },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await app?.close();
  await tv?.close();
  await issuer?.close();
});

async function as(token: string, url = '/v1/me') {
  const r = await httpRequest(port, 'GET', url, undefined, { authorization: `Bearer ${token}` });
  expect(r.text).not.toContain(token);
  return { status: r.status, body: JSON.parse(r.text) as Record<string, unknown> };
}

test('a good token is its mapped user (RS256 and ES256) or service', async () => {
  expect(await as(await issuer.sign())).toMatchObject({ status: 200, body: { identity: { name: 'alice', kind: 'user' }, via: 'oidc', memberships: [{ workspace: { name: 'genomics' }, role: 'owner' }] } });
  expect(await as(await issuer.sign({ alg: 'ES256' }))).toMatchObject({ status: 200, body: { identity: { name: 'alice' } } });
  expect(await as(await issuer.sign({ sub: 'client-launcher' }))).toMatchObject({ status: 200, body: { identity: { name: 'launcher', kind: 'service' } } });
  // The identity's roles apply: alice sees her workspace.
  expect((await as(await issuer.sign(), '/v1/workspaces/genomics/secrets')).status).toBe(200);
});

test.each<[string, () => Promise<string>, RegExp]>([
  ['a wrong issuer', () => issuer.sign({ iss: 'https://evil.example.org' }), /"iss" claim is not accepted/],
  ['a wrong audience', () => issuer.sign({ aud: 'another-service' }), /"aud" claim is not accepted/],
  ['an expired token', () => issuer.sign({ expiresIn: -120 }), /has expired/],
  ['no expiry at all', () => issuer.sign({ expiresIn: null }), /"exp" claim is not accepted/],
  ['HS256 with the public key as secret (algorithm confusion)', () => issuer.signHs256(), /signing algorithm is not accepted/],
  ['alg none', async () => issuer.unsigned(), /not a valid signed JWT|algorithm is not accepted/],
  ['a key the issuer does not publish', () => issuer.sign({ foreignKey: true }), /signature does not verify/],
  ['an unknown key id', () => issuer.sign({ kid: 'rotated-away' }), /no key of the issuer matches/],
  ['no subject', () => issuer.sign({ sub: '' }), /"sub" claim is not accepted|no subject/],
  ['a subject no identity is mapped to', () => issuer.sign({ sub: 'stranger' }), /no broker identity is mapped to this OIDC subject/],
  ['a tampered payload', async () => {
    const [h, , s] = (await issuer.sign()).split('.');
    return `${h}.${Buffer.from(JSON.stringify({ sub: 'client-launcher', iss: issuer.issuer, aud: issuer.audience, exp: 9_999_999_999 })).toString('base64url')}.${s}`;
  }, /signature does not verify/],
  ['not a JWT', async () => 'eyJhbGciOiJSUzI1NiJ9.not-base64!.sig', /neither a broker API token/],
])('refused: %s', async (_what, token, message) => {
  const r = await as(await token());
  expect(r).toEqual({ status: 401, body: { error: expect.stringMatching(message), code: 'unauthenticated' } });
});

test('the JWKS is fetched once and reused', async () => {
  const before = issuer.jwksFetches();
  for (let i = 0; i < 5; i++) await as(await issuer.sign());
  expect(issuer.jwksFetches()).toBe(before);
});

test('a broker without an OIDC issuer refuses JWTs, saying so; an unreachable issuer is a 503', async () => {
  const tv2 = await openTestVault();
  const plain = buildApiServer({ vault: tv2.vault, runs: new FakeRuns(tv2.vault), logger: new CapturingLogger() });
  const down = buildApiServer({ vault: tv2.vault, runs: new FakeRuns(tv2.vault), logger: new CapturingLogger(), auth: { oidc: { issuer: 'http://127.0.0.1:1', audience: 'a' } } });
  try {
    await plain.listen({ host: '127.0.0.1', port: 0 });
    await down.listen({ host: '127.0.0.1', port: 0 });
    const token = await issuer.sign();
    const r = await httpRequest((plain.server.address() as AddressInfo).port, 'GET', '/v1/me', undefined, { authorization: `Bearer ${token}` });
    expect(JSON.parse(r.text)).toEqual({ error: 'OIDC tokens are not accepted: this broker has no OIDC issuer configured', code: 'unauthenticated' });
    const d = await httpRequest((down.server.address() as AddressInfo).port, 'GET', '/v1/me', undefined, { authorization: `Bearer ${token}` });
    expect([d.status, JSON.parse(d.text).code]).toEqual([503, 'unavailable']);
  } finally {
    await plain.close();
    await down.close();
    await tv2.close();
  }
});

describe('the codec endpoint for a Temporal Web UI behind OIDC', () => {
  const payloadBody = async () => {
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload({ phase: 'ready' })]);
    const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');
    return JSON.stringify({ payloads: [{ metadata: Object.fromEntries(Object.entries(enc!.metadata!).map(([k, v]) => [k, b64(v)])), data: b64(enc!.data!) }] });
  };
  const decode = async (headers: Record<string, string>) => httpRequest(port, 'POST', '/codec/decode', await payloadBody(), { 'content-type': 'application/json', origin: 'http://127.0.0.1:8233', ...headers });

  test("the UI's access token of a member decodes; none is 401, a token of an identity with no role 403; CORS either way", async () => {
    const ok = await decode({ authorization: `Bearer ${await issuer.sign()}` });
    expect(ok.status).toBe(200);
    expect(JSON.parse(Buffer.from((JSON.parse(ok.text) as { payloads: { data: string }[] }).payloads[0]!.data, 'base64').toString())).toEqual({ phase: 'ready' });
    const none = await decode({});
    expect(none.status).toBe(401);
    const norole = await decode({ authorization: `Bearer ${await issuer.sign({ sub: 'subject-no-role' })}` });
    expect([norole.status, JSON.parse(norole.text).code]).toEqual([403, 'forbidden']);
    const bad = await decode({ authorization: `Bearer ${await issuer.sign({ aud: 'x' })}` });
    expect(bad.status).toBe(401);
  });

  test('the CORS preflight needs no token (browsers send none)', async () => {
    const r = await httpRequest(port, 'OPTIONS', '/codec/decode', undefined, { origin: 'http://127.0.0.1:8233', 'access-control-request-method': 'POST' });
    expect(r.status).toBe(204);
  });
});

test('OIDC callers are audited as such', async () => {
  await httpRequest(port, 'PUT', '/v1/workspaces/genomics/secrets/FROM_SSO', JSON.stringify({ value: 'sso-set-value' }), { 'content-type': 'application/json', authorization: `Bearer ${await issuer.sign()}` });
  const records = await tv.vault.audit.list({ limit: 1000, action: 'setWorkspaceSecret' });
  expect(records.at(-1)).toMatchObject({ actor: { name: 'alice' }, via: 'oidc', outcome: 'ok', target: { workspace: 'genomics', name: 'FROM_SSO' } });
  expect(JSON.stringify(records)).not.toContain('sso-set-value');
});
