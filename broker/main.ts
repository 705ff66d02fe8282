/**
 * The broker process. `--role all` (the embedded default that `make start` runs) owns the vault,
 * runs the Temporal worker and serves the HTTP API on loopback. In production the worker and the API
 * run as separate processes (`--role worker`, `--role api`) on one PostgreSQL server (DATABASE_URL).
 *
 * Startup order: configuration (every variable checked: settings.ts; a wrong one stops here, named),
 * the logger, the Temporal runtime (its logs into ours, /metrics), the vault, Temporal, then the roles.
 */
import * as fs from 'node:fs';
import { Client } from '@temporalio/client';
import { connectTemporal } from '../services/temporal';
import { buildApiServer } from '../api/server';
import { CredentialRotations } from '../services/rotations';
import { VaultKeyRotations } from '../services/vault-key';
import { PipelineRuns } from '../services/pipeline-runs';
import { EncryptionCodec, createDataConverter, loadCodecKeyring } from '../codec/data-converter';
import { openVault } from '../store/vault';
import { createLogger, type LogLevel } from '../telemetry/logger';
import { createBrokerMetrics } from '../telemetry/metrics';
import { installTelemetry } from '../telemetry/runtime';
import { ConfigError, loadConfig } from './config';
import { settingsTable } from './settings';
import { ensureSearchAttributes } from '../worker/search-attributes';

type Role = 'all' | 'worker' | 'api';

const USAGE = `usage: node lib/broker/main.js [--role all|worker|api]

Every setting is an environment variable; a value that breaks its rule stops the broker, naming it.
`;

function parseRole(argv: string[]): Role {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(`${USAGE}\n${settingsTable()}`);
    process.exit(0);
  }
  const i = argv.indexOf('--role');
  const role = i >= 0 ? argv[i + 1] : 'all';
  if (role !== 'all' && role !== 'worker' && role !== 'api') {
    console.error(`--role must be all, worker or api (got ${role ?? 'nothing'})\n\n${USAGE}`);
    process.exit(2);
  }
  return role;
}

const CORE_LEVEL: Record<LogLevel, 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR'> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
  fatal: 'ERROR',
  silent: 'ERROR',
};

async function main(): Promise<void> {
  const role = parseRole(process.argv.slice(2));
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    createLogger({ base: { component: 'broker', role } }).error(err.message, { problems: err.problems });
    process.exit(2);
  }
  const root = createLogger({ level: config.logLevel, base: { role } });
  const log = root.child({ component: 'broker' });
  const telemetry = installTelemetry({ logger: root.pino, coreLogLevel: CORE_LEVEL[config.logLevel], ...(config.metrics ? { metrics: config.metrics } : {}) });
  const metrics = createBrokerMetrics(telemetry.meter);
  if (telemetry.metricsUrl) log.info('metrics', { url: telemetry.metricsUrl });
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });

  const vault = await openVault({ dataDir: config.dataDir, ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}), env: config.masterKeyEnv });
  log.info('vault open', { backend: config.databaseUrl ? 'postgresql' : 'pglite', dataDir: config.dataDir });
  const keyring = loadCodecKeyring({ dataDir: config.dataDir, env: config.codecKeyEnv });
  const dataConverter = createDataConverter(keyring);

  const connection = await connectTemporal(config.temporal.connection);
  log.info('temporal connected', { address: config.temporalAddress, namespace: config.namespace, tls: config.temporal.tls, apiKey: !!config.temporal.connection.apiKey });
  await ensureSearchAttributes(connection, config.namespace);
  const client = new Client({ connection, namespace: config.namespace, dataConverter });

  const stops: (() => Promise<void>)[] = [];
  let stopping = false;
  let buildId = config.versioning.buildId ?? 'none';

  if (role === 'all' || role === 'worker') {
    // Loaded only here: the worker brings the cloud SDKs, which an API-only process never needs.
    const { startWorkerRole } = await import('../worker/run');
    const worker = await startWorkerRole({
      config,
      vault,
      client,
      dataConverter,
      log: root.child({ component: 'worker' }),
      metrics,
      onFailure: () => void stop('worker-failed'),
    });
    buildId = worker.buildId;
    stops.push(worker.stop);
  }

  if (role === 'all' || role === 'api') {
    const apiLog = root.child({ component: 'api' });
    const app = buildApiServer({
      vault,
      runs: new PipelineRuns(client, config.taskQueue, { metrics }),
      rotations: new CredentialRotations(client, vault, config.taskQueue),
      vaultKeyRotations: new VaultKeyRotations(client, config.taskQueue),
      verifyDeps: config.rotators,
      codec: { codec: new EncryptionCodec(keyring), allowedOrigins: config.uiOrigins },
      logger: apiLog,
      fastifyLogger: apiLog.pino,
    });
    const address = await app.listen({ host: config.apiHost, port: config.apiPort });
    stops.push(() => app.close());
    log.info('api listening', { url: address });
  }
  metrics.buildInfo({ buildId, deployment: config.versioning.deploymentName, versioning: config.versioning.mode, role });

  async function stop(signal: string): Promise<void> {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    for (const s of stops.reverse()) await s().catch((err: Error) => log.error('stop failed', { error: err.message }));
    await connection.close();
    await vault.close();
    process.exit(signal === 'worker-failed' ? 1 : 0);
  }
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

if (require.main === module) {
  main().catch((err: Error) => {
    createLogger({ base: { component: 'broker' } }).error('broker failed to start', { error: err.message });
    process.exit(1);
  });
}
