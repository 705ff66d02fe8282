/** Broker configuration: sane defaults, and a clear error naming the variable for every bad value. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../../broker/config';

test('defaults are the embedded ones make start uses', () => {
  const c = loadConfig({});
  expect(c).toMatchObject({
    temporalAddress: '127.0.0.1:7233',
    namespace: 'default',
    taskQueue: 'secret-broker',
    apiHost: '127.0.0.1',
    apiPort: 8787,
    hpcMaxConnections: 4,
    dataDir: path.resolve('.data'),
    localWorkDir: path.resolve('.data/local-ce'),
    endpoints: {},
  });
  expect(c.databaseUrl).toBeUndefined();
  expect(c.uiOrigins).toContain('http://127.0.0.1:8233');
});

test('emulator endpoints are read when set', () => {
  const c = loadConfig({ BROKER_AWS_ENDPOINT: 'http://127.0.0.1:5000', BROKER_GCP_ENDPOINT: 'localhost:9090', BROKER_GCP_INSECURE: '1' });
  expect(c.endpoints).toEqual({ aws: 'http://127.0.0.1:5000', gcp: { apiEndpoint: 'localhost', port: 9090, insecure: true } });
});

test.each([
  { reason: 'port out of range', env: { BROKER_API_PORT: '70000' }, error: /BROKER_API_PORT: must be a port/ },
  { reason: 'port not a number', env: { BROKER_API_PORT: 'http' }, error: /BROKER_API_PORT/ },
  { reason: 'gcp endpoint without port', env: { BROKER_GCP_ENDPOINT: 'localhost' }, error: /BROKER_GCP_ENDPOINT: must be host:port/ },
  { reason: 'zero ssh connections', env: { BROKER_HPC_MAX_CONNECTIONS: '0' }, error: /BROKER_HPC_MAX_CONNECTIONS: must be a whole number/ },
])('refused: $reason', ({ env, error }) => {
  expect(() => loadConfig(env)).toThrow(error);
});

test("the broker checks only its own variables: the CLI's and make start's alone do not stop it, its own still do", () => {
  const cliOnly = { BROKER_CA_FILE: '/nonexistent/ca.pem', BROKER_API_URL: 'ftp://x', BROKER_TOKEN_FILE: '', TEMPORAL_PORT: 'http' };
  expect(() => loadConfig(cliOnly)).not.toThrow();
  // A row the broker shares with the CLI is still the broker's.
  expect(() => loadConfig({ ...cliOnly, DATABASE_URL: 'mysql://db' })).toThrow(/^DATABASE_URL: must be a postgres/);
});

describe('Temporal connection (through @temporalio/envconfig)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-config-'));
  const pem = (name: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, `-----BEGIN CERTIFICATE-----\n${name}\n-----END CERTIFICATE-----\n`);
    return f;
  };
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('plain by default', () => {
    const c = loadConfig({});
    expect(c.temporal).toEqual({ connection: { address: '127.0.0.1:7233' }, namespace: 'default', tls: false });
  });

  test('an API key turns TLS on (Temporal Cloud)', () => {
    const c = loadConfig({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_NAMESPACE: 'ns.acct', TEMPORAL_API_KEY: 'k3y' });
    expect(c.temporal).toMatchObject({ connection: { address: 'ns.acct.tmprl.cloud:7233', apiKey: 'k3y', tls: true }, namespace: 'ns.acct', tls: true });
  });

  test('mTLS with a private CA and a server name', () => {
    const c = loadConfig({
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_TLS_CLIENT_CERT_PATH: pem('client.pem'),
      TEMPORAL_TLS_CLIENT_KEY_PATH: pem('client.key'),
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: pem('ca.pem'),
      TEMPORAL_TLS_SERVER_NAME: 'frontend.temporal',
      TEMPORAL_GRPC_META_X_TENANT: 'lab',
    });
    const tls = c.temporal.connection.tls as { serverNameOverride: string; serverRootCACertificate: Buffer; clientCertPair: { crt: Buffer; key: Buffer } };
    expect(tls.serverNameOverride).toBe('frontend.temporal');
    expect(tls.serverRootCACertificate.toString()).toContain('ca.pem');
    expect(tls.clientCertPair.crt.toString()).toContain('client.pem');
    expect(tls.clientCertPair.key.toString()).toContain('client.key');
    expect(c.temporal.connection.metadata).toEqual({ 'x-tenant': 'lab' });
    expect(c.temporal.tls).toBe(true);
  });

  test('a TOML profile, overridden by the variables', () => {
    const file = path.join(dir, 'temporal.toml');
    fs.writeFileSync(file, '[profile.prod]\naddress = "prod.example:7233"\nnamespace = "prod"\n[profile.prod.tls]\n');
    const c = loadConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod', TEMPORAL_NAMESPACE: 'override' });
    expect(c.temporal.connection.address).toBe('prod.example:7233');
    expect(c.temporal.namespace).toBe('override');
    expect(c.temporal.tls).toBe(true);
  });

  test.each([
    { reason: 'a certificate without its key', env: () => ({ TEMPORAL_TLS_CLIENT_CERT_PATH: pem('only.pem') }), error: /mTLS needs both the client certificate and its key/ },
    { reason: 'an API key with TLS off', env: () => ({ TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' }), error: /^TEMPORAL_TLS: an API key is only sent over TLS/ },
    { reason: 'a profile the file lacks', env: () => ({ TEMPORAL_CONFIG_FILE: path.join(dir, 'temporal.toml'), TEMPORAL_PROFILE: 'nope' }), error: /^TEMPORAL_CONFIG_FILE .*Profile 'nope' not found/ },
  ])('refused: $reason', ({ env, error }) => {
    expect(() => loadConfig(env())).toThrow(error);
  });
});

test.each([
  { reason: 'a master key both inline and in a file', env: { BROKER_MASTER_KEY: Buffer.alloc(32).toString('base64'), BROKER_MASTER_KEY_FILE: '/k' }, error: /BROKER_MASTER_KEY, BROKER_MASTER_KEY_FILE: both are set/ },
  { reason: 'a codec key both inline and in a file', env: { BROKER_CODEC_KEY: Buffer.alloc(32).toString('base64'), BROKER_CODEC_KEY_FILE: '/k' }, error: /BROKER_CODEC_KEY, BROKER_CODEC_KEY_FILE: both are set/ },
])('refused: $reason', ({ env, error }) => {
  expect(() => loadConfig(env)).toThrow(error);
});

test('metrics: on 127.0.0.1:9464 by default, off with port 0; the key variables are handed on as set', () => {
  expect(loadConfig({}).metrics).toEqual({ host: '127.0.0.1', port: 9464 });
  expect(loadConfig({ BROKER_METRICS_PORT: '0' }).metrics).toBeUndefined();
  const c = loadConfig({ BROKER_MASTER_KEY_FILE: '/run/secrets/m', BROKER_CODEC_KEY_FILE: '/run/secrets/c', PATH: '/bin' });
  expect(c.masterKeyEnv).toEqual({ BROKER_MASTER_KEY_FILE: '/run/secrets/m' });
  expect(c.codecKeyEnv).toEqual({ BROKER_CODEC_KEY_FILE: '/run/secrets/c' });
});
