/**
 * The broker process. `--role all` (the embedded default that `make start` runs) owns the vault,
 * runs the Temporal worker and serves the HTTP API on loopback. In production the worker and the API
 * run as separate processes (`--role worker`, `--role api`) on one PostgreSQL server (DATABASE_URL).
 */
import * as fs from 'node:fs';
import { Client } from '@temporalio/client';
import { connectTemporal } from '../services/temporal';
import { buildApiServer, stderrLogger } from '../api/server';
import { CredentialRotations } from '../services/rotations';
import { VaultKeyRotations } from '../services/vault-key';
import { PipelineRuns } from '../services/pipeline-runs';
import { EncryptionCodec, createDataConverter, loadCodecKeyring } from '../codec/data-converter';
import { openVault } from '../store/vault';
import { loadConfig } from './config';
import { ensureSearchAttributes } from '../worker/search-attributes';

type Role = 'all' | 'worker' | 'api';

const USAGE = `usage: node lib/broker/main.js [--role all|worker|api]

Environment:
  TEMPORAL_ADDRESS        Temporal frontend (default 127.0.0.1:7233)
  TEMPORAL_NAMESPACE      namespace (default "default")
  BROKER_DATA_DIR         embedded state: PGlite vault, key files, local runs (default ./.data)
  DATABASE_URL            PostgreSQL server for the vault (default: PGlite under BROKER_DATA_DIR)
  BROKER_MASTER_KEY[_FILE] vault master key (default: BROKER_DATA_DIR/master.key, created 0600 on first start)
  BROKER_CODEC_KEY[_FILE]  payload codec key (default: BROKER_DATA_DIR/codec.key, created 0600 on first start)
  BROKER_API_PORT         HTTP API port on 127.0.0.1 (default 8787)
  BROKER_HPC_MAX_CONNECTIONS  concurrent SSH connections per HPC host, per worker (default 4)
  BROKER_SWEEP_EVERY      how often the orphan sweep runs (default 1h)
  BROKER_AWS_ENDPOINT, BROKER_GCP_ENDPOINT, BROKER_GCP_INSECURE  emulator endpoints (tests only)`;

function parseRole(argv: string[]): Role {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
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

function log(message: string, fields: Record<string, unknown> = {}): void {
  stderrLogger.info(message, { component: 'broker', ...fields });
}

async function main(): Promise<void> {
  const role = parseRole(process.argv.slice(2));
  const config = loadConfig();
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });

  const vault = await openVault({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  log('vault open', { backend: config.databaseUrl ? 'postgresql' : 'pglite', dataDir: config.dataDir });
  const keyring = loadCodecKeyring({ dataDir: config.dataDir });
  const dataConverter = createDataConverter(keyring);

  const connection = await connectTemporal({ address: config.temporalAddress });
  await ensureSearchAttributes(connection, config.namespace);
  const client = new Client({ connection, namespace: config.namespace, dataConverter });

  const stops: (() => Promise<void>)[] = [];
  let stopping = false;

  if (role === 'all' || role === 'worker') {
    // Loaded only here: the worker brings the cloud SDKs, which an API-only process never needs.
    const { startWorkerRole } = await import('../worker/run');
    const worker = await startWorkerRole({ config, vault, client, dataConverter, log, onFailure: () => void stop('worker-failed') });
    stops.push(worker.stop);
  }

  if (role === 'all' || role === 'api') {
    const app = buildApiServer({
      vault,
      runs: new PipelineRuns(client, config.taskQueue),
      rotations: new CredentialRotations(client, vault, config.taskQueue),
      vaultKeyRotations: new VaultKeyRotations(client, config.taskQueue),
      verifyDeps: config.rotators,
      codec: { codec: new EncryptionCodec(keyring), allowedOrigins: config.uiOrigins },
    });
    const address = await app.listen({ host: config.apiHost, port: config.apiPort });
    stops.push(() => app.close());
    log('api listening', { url: address });
  }

  async function stop(signal: string): Promise<void> {
    if (stopping) return;
    stopping = true;
    log('stopping', { signal });
    for (const s of stops.reverse()) await s().catch((err: Error) => stderrLogger.error('stop failed', { error: err.message }));
    await connection.close();
    await vault.close();
    process.exit(signal === 'worker-failed' ? 1 : 0);
  }
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

if (require.main === module) {
  main().catch((err: Error) => {
    stderrLogger.error('broker failed to start', { error: err.message });
    process.exit(1);
  });
}
