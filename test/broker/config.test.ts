/** Broker configuration: sane defaults, and a clear error naming the variable for every bad value. */
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
