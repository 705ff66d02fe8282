/** Broker configuration from the environment, with the embedded defaults `make start` uses. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RotatorDeps } from '../rotators/types';
import type { TargetDeps } from '../targets/types';
import { DEFAULT_NAMESPACE, TASK_QUEUE } from '../domain/run';

export interface BrokerConfig {
  /** State of the embedded default: PGlite vault, key files, local compute environment runs. */
  dataDir: string;
  /** PostgreSQL server; unset means PGlite under dataDir. */
  databaseUrl?: string;
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  apiHost: string;
  apiPort: number;
  /** Where `local` compute environments without a workDir keep run directories. */
  localWorkDir: string;
  endpoints: NonNullable<TargetDeps['endpoints']>;
  /** Temporal Web UI origins allowed to call the codec endpoint. */
  uiOrigins: string[];
  /** Default bound on concurrent SSH connections per HPC host, per worker process. */
  hpcMaxConnections: number;
  /** How often the orphan sweep runs (a Temporal duration). */
  sweepEvery: string;
  /** How often the reaper looks for terminated runs (a Temporal duration). */
  reapEvery: string;
  /** Where credential rotations reach Azure and AWS (unset: the real clouds). */
  rotators: Omit<RotatorDeps, 'vault'>;
}

function port(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name}: must be a port number 0-65535, got "${value}"`);
  return n;
}

function positive(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: must be a whole number of at least 1, got "${value}"`);
  return n;
}

function gcpEndpoint(env: NodeJS.ProcessEnv): BrokerConfig['endpoints']['gcp'] {
  const value = env.BROKER_GCP_ENDPOINT;
  if (!value) return undefined;
  const m = /^([^:]+):(\d+)$/.exec(value);
  if (!m) throw new Error(`BROKER_GCP_ENDPOINT: must be host:port, got "${value}"`);
  return { apiEndpoint: m[1], port: Number(m[2]), insecure: env.BROKER_GCP_INSECURE === '1' || env.BROKER_GCP_INSECURE === 'true' };
}

function httpsUrl(value: string | undefined, name: string): string | undefined {
  if (!value) return undefined;
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new Error(`${name}: must be a URL, got "${value}"`);
  }
  if (u.protocol !== 'https:') throw new Error(`${name}: must be an https URL, got "${value}"`);
  return value.replace(/\/+$/, '');
}

/** Azure endpoint overrides (sovereign clouds, private endpoints, tests): BROKER_AZURE_*. */
function azureEndpoints(env: NodeJS.ProcessEnv): RotatorDeps['azure'] {
  const authorityHost = httpsUrl(env.BROKER_AZURE_AUTHORITY_HOST, 'BROKER_AZURE_AUTHORITY_HOST');
  const armEndpoint = httpsUrl(env.BROKER_AZURE_ARM_ENDPOINT, 'BROKER_AZURE_ARM_ENDPOINT');
  const blobEndpoint = env.BROKER_AZURE_BLOB_ENDPOINT || undefined;
  let ca: string | undefined;
  if (env.BROKER_AZURE_CA_FILE) {
    try {
      ca = fs.readFileSync(env.BROKER_AZURE_CA_FILE, 'utf8');
    } catch {
      throw new Error(`BROKER_AZURE_CA_FILE: cannot read "${env.BROKER_AZURE_CA_FILE}"`);
    }
  }
  return { ...(authorityHost ? { authorityHost } : {}), ...(armEndpoint ? { armEndpoint } : {}), ...(blobEndpoint ? { blobEndpoint } : {}), ...(ca ? { ca } : {}) };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): BrokerConfig {
  const dataDir = path.resolve(env.BROKER_DATA_DIR ?? '.data');
  const apiHost = env.BROKER_API_HOST ?? '127.0.0.1';
  if (apiHost !== '127.0.0.1' && apiHost !== 'localhost' && apiHost !== '::1' && env.BROKER_API_ALLOW_REMOTE !== '1') {
    throw new Error(`BROKER_API_HOST=${apiHost}: the API has no authentication yet and listens on loopback only`);
  }
  return {
    dataDir,
    databaseUrl: env.DATABASE_URL || undefined,
    temporalAddress: env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
    namespace: env.TEMPORAL_NAMESPACE ?? DEFAULT_NAMESPACE,
    taskQueue: env.BROKER_TASK_QUEUE ?? TASK_QUEUE,
    apiHost,
    apiPort: port(env.BROKER_API_PORT, 'BROKER_API_PORT', 8787),
    localWorkDir: path.resolve(env.BROKER_LOCAL_WORKDIR ?? path.join(dataDir, 'local-ce')),
    hpcMaxConnections: positive(env.BROKER_HPC_MAX_CONNECTIONS, 'BROKER_HPC_MAX_CONNECTIONS', 4),
    sweepEvery: env.BROKER_SWEEP_EVERY || '1h',
    reapEvery: env.BROKER_REAP_EVERY || '1m',
    uiOrigins: (env.BROKER_UI_ORIGINS ?? `http://127.0.0.1:${env.TEMPORAL_UI_PORT ?? 8233},http://localhost:${env.TEMPORAL_UI_PORT ?? 8233}`)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    endpoints: {
      ...(env.BROKER_AWS_ENDPOINT ? { aws: env.BROKER_AWS_ENDPOINT } : {}),
      ...(gcpEndpoint(env) ? { gcp: gcpEndpoint(env) } : {}),
    },
    rotators: {
      azure: azureEndpoints(env),
      ...(env.BROKER_AWS_ENDPOINT ? { aws: { endpoint: env.BROKER_AWS_ENDPOINT } } : {}),
    },
  };
}
