/** The identity and access settings (broker/auth-config.ts): defaults, and every bad value refused naming its variable. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { authConfig } from '../../broker/auth-config';
import { makeTestCerts, type TestCerts } from '../harness/test-ca';

const where = { dataDir: '/var/lib/sb', apiHost: '127.0.0.1' };
let tmp: string;
let certs: TestCerts;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-auth-config-'));
  certs = makeTestCerts(tmp, 'auth-config test CA');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('defaults: no OIDC, no TLS, the token file in the data dir, bootstrap as admin, the dev server UI', () => {
  const c = authConfig({}, where);
  expect(c).toEqual({
    auth: { failureLimit: { max: 20, windowMs: 60_000 }, codecLoopbackOpen: true },
    adminTokenFile: '/var/lib/sb/admin.token',
    bootstrapAdmin: 'admin',
    bootstrapTokenTtlMs: 90 * 86_400_000,
    webUiUrl: 'http://127.0.0.1:8233',
  });
});

test('everything set', () => {
  const c = authConfig(
    {
      BROKER_TLS_CERT_FILE: certs.certFile,
      BROKER_TLS_KEY_FILE: certs.keyFile,
      BROKER_OIDC_ISSUER: 'https://login.example.org/realms/lab',
      BROKER_OIDC_AUDIENCE: 'secret-broker',
      BROKER_OIDC_JWKS_URL: 'https://login.example.org/realms/lab/certs',
      BROKER_OIDC_ALGORITHMS: 'ES256, EdDSA',
      BROKER_OIDC_CLOCK_TOLERANCE: '5',
      BROKER_AUTH_FAILURES_PER_MINUTE: '7',
      BROKER_CODEC_REQUIRE_TOKEN: '1',
      BROKER_ADMIN_TOKEN_FILE: '/run/secrets/admin.token',
      BROKER_BOOTSTRAP_ADMIN: '',
      BROKER_BOOTSTRAP_TOKEN_TTL: '12h',
      BROKER_UI_URL: 'https://temporal.example.org/',
      BROKER_API_HOST: '0.0.0.0',
    },
    { ...where, apiHost: '0.0.0.0' },
  );
  expect(c.auth).toEqual({
    oidc: { issuer: 'https://login.example.org/realms/lab', audience: 'secret-broker', jwksUrl: 'https://login.example.org/realms/lab/certs', algorithms: ['ES256', 'EdDSA'], clockToleranceSeconds: 5 },
    failureLimit: { max: 7, windowMs: 60_000 },
    codecLoopbackOpen: false,
  });
  expect(c.tls?.cert.toString()).toContain('BEGIN CERTIFICATE');
  expect(c).toMatchObject({ adminTokenFile: '/run/secrets/admin.token', bootstrapTokenTtlMs: 12 * 3_600_000, webUiUrl: 'https://temporal.example.org' });
  expect(c.bootstrapAdmin).toBeUndefined();
});

test.each([
  { reason: 'beyond loopback without TLS', env: {}, host: '0.0.0.0', error: /BROKER_API_HOST=0\.0\.0\.0: beyond loopback the API needs TLS .*BROKER_API_ALLOW_REMOTE=1/ },
  { reason: 'a certificate without its key', env: { BROKER_TLS_CERT_FILE: 'x' }, error: /BROKER_TLS_CERT_FILE and BROKER_TLS_KEY_FILE: give both/ },
  { reason: 'an unreadable certificate', env: { BROKER_TLS_CERT_FILE: '/nope/cert.pem', BROKER_TLS_KEY_FILE: '/nope/key.pem' }, error: /BROKER_TLS_CERT_FILE: cannot read "\/nope\/cert\.pem" \(ENOENT\)/ },
  { reason: 'a key that is a certificate', env: () => ({ BROKER_TLS_CERT_FILE: certs.certFile, BROKER_TLS_KEY_FILE: certs.caFile }), error: /BROKER_TLS_KEY_FILE: .* is not a PEM file of the expected kind/ },
  { reason: 'an issuer over plain http elsewhere', env: { BROKER_OIDC_ISSUER: 'http://idp.example.org', BROKER_OIDC_AUDIENCE: 'a' }, error: /BROKER_OIDC_ISSUER: must be an https URL/ },
  { reason: 'an issuer without an audience', env: { BROKER_OIDC_ISSUER: 'https://idp.example.org' }, error: /BROKER_OIDC_AUDIENCE: required with BROKER_OIDC_ISSUER/ },
  { reason: 'an unknown algorithm', env: { BROKER_OIDC_ISSUER: 'https://idp.example.org', BROKER_OIDC_AUDIENCE: 'a', BROKER_OIDC_ALGORITHMS: 'HS256' }, error: /BROKER_OIDC_ALGORITHMS: "HS256" is not one of/ },
  { reason: 'an audience without an issuer', env: { BROKER_OIDC_AUDIENCE: 'a' }, error: /BROKER_OIDC_AUDIENCE: set BROKER_OIDC_ISSUER too/ },
  { reason: 'a failure limit of 0', env: { BROKER_AUTH_FAILURES_PER_MINUTE: '0' }, error: /BROKER_AUTH_FAILURES_PER_MINUTE: must be a whole number from 1/ },
  { reason: 'a bootstrap name with a space', env: { BROKER_BOOTSTRAP_ADMIN: 'the admin' }, error: /BROKER_BOOTSTRAP_ADMIN: must be 1 to 100 letters/ },
  { reason: 'a bootstrap token living 2 years', env: { BROKER_BOOTSTRAP_TOKEN_TTL: '730d' }, error: /BROKER_BOOTSTRAP_TOKEN_TTL: must be at most 365d/ },
  { reason: 'a codec flag that is not 0 or 1', env: { BROKER_CODEC_REQUIRE_TOKEN: 'yes' }, error: /BROKER_CODEC_REQUIRE_TOKEN: must be 1 or 0/ },
  { reason: 'a UI URL that is not http', env: { BROKER_UI_URL: 'ftp://ui' }, error: /BROKER_UI_URL: must be an http or https URL/ },
])('refused: $reason', ({ env, host, error }) => {
  const e = typeof env === 'function' ? env() : env;
  expect(() => authConfig(e as NodeJS.ProcessEnv, { ...where, apiHost: host ?? '127.0.0.1' })).toThrow(error);
});

test('beyond loopback: with TLS, or plaintext behind a TLS proxy when said so', () => {
  expect(() => authConfig({ BROKER_TLS_CERT_FILE: certs.certFile, BROKER_TLS_KEY_FILE: certs.keyFile }, { ...where, apiHost: '0.0.0.0' })).not.toThrow();
  expect(() => authConfig({ BROKER_API_ALLOW_REMOTE: '1' }, { ...where, apiHost: '0.0.0.0' })).not.toThrow();
  expect(() => authConfig({ BROKER_OIDC_ISSUER: 'http://127.0.0.1:9999', BROKER_OIDC_AUDIENCE: 'a' }, where)).not.toThrow();
});
