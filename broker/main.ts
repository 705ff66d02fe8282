/**
 * The broker process. `--role all` (the embedded default that `make start` runs) owns the vault,
 * runs the Temporal worker and serves the HTTP API on loopback. In production the worker and the API
 * run as separate processes (`--role worker`, `--role api`) on one PostgreSQL server (DATABASE_URL).
 *
 * Startup order: configuration (every variable checked: settings.ts; a wrong one stops here, named),
 * the logger, the Temporal runtime (its logs into ours, /metrics), the vault, Temporal, then the roles.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from '@temporalio/client';
import { connectTemporal } from '../services/temporal';
import { buildApiServer } from '../api/server';
import { CredentialRotations } from '../services/rotations';
import { VaultKeyRotations } from '../services/vault-key';
import { PipelineRuns } from '../services/pipeline-runs';
import { EncryptionCodec, createDataConverter, loadCodecKeyring } from '../codec/data-converter';
import { openVault } from '../store/vault';
import { createLogger, type BrokerLogger, type LogLevel } from '../telemetry/logger';
import { createBrokerMetrics } from '../telemetry/metrics';
import { installTelemetry } from '../telemetry/runtime';
import { ConfigError, loadConfig } from './config';
import { settingsTable } from './settings';
import { authConfig, type AuthConfig } from './auth-config';
import { RunDirectory } from '../services/run-directory';
import type { VaultApi } from '../store/types';
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
  let access: AuthConfig;
  try {
    config = loadConfig();
    try {
      access = authConfig(process.env, { dataDir: config.dataDir, apiHost: config.apiHost });
    } catch (err) {
      // authConfig names the variable and its rule in each message.
      throw new ConfigError([(err as Error).message]);
    }
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
    await bootstrapAdminToken(vault, access, log);
    const app = buildApiServer({
      vault,
      runs: new PipelineRuns(client, config.taskQueue, { metrics }),
      runDirectory: new RunDirectory(client),
      rotations: new CredentialRotations(client, vault, config.taskQueue),
      vaultKeyRotations: new VaultKeyRotations(client, config.taskQueue),
      verifyDeps: config.rotators,
      codec: { codec: new EncryptionCodec(keyring), allowedOrigins: config.uiOrigins },
      logger: apiLog,
      fastifyLogger: apiLog.pino,
      auth: access.auth,
      webUi: { url: access.webUiUrl, namespace: config.namespace },
      ...(access.tls ? { tls: { cert: access.tls.cert, key: access.tls.key } } : {}),
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

/**
 * The first broker administrator (`make start`): when no broker administrator holds a usable token,
 * or the token file no longer authenticates one, make a token for BROKER_BOOTSTRAP_ADMIN (a user,
 * created if missing) and write it to BROKER_ADMIN_TOKEN_FILE with mode 0600, where the CLI finds
 * it. The token itself is never logged.
 */
async function bootstrapAdminToken(vault: VaultApi, cfg: AuthConfig, logger: BrokerLogger): Promise<void> {
  if (!cfg.bootstrapAdmin) return;
  const file = cfg.adminTokenFile;
  let force = false;
  if (fs.existsSync(file)) {
    const check = await vault.access.checkToken(fs.readFileSync(file, 'utf8').trim());
    if (check.ok && check.principal.brokerAdmin) return;
    force = true;
  }
  let made;
  try {
    made = await vault.access.bootstrapAdmin(cfg.bootstrapAdmin, cfg.bootstrapTokenTtlMs, { force });
  } catch (err) {
    throw new Error(`BROKER_BOOTSTRAP_ADMIN: ${(err as Error).message}`);
  }
  if (!made) {
    logger.info('broker administrators hold tokens already: no bootstrap token written', { file });
    return;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${made.token}\n`, { mode: 0o600, flag: 'wx' });
  fs.renameSync(tmp, file);
  logger.info('wrote a token of the broker administrator', { user: cfg.bootstrapAdmin, file, tokenId: made.meta.id, expiresAt: made.meta.expiresAt });
}

if (require.main === module) {
  main().catch((err: Error) => {
    createLogger({ base: { component: 'broker' } }).error('broker failed to start', { error: err.message });
    process.exit(1);
  });
}
