/**
 * The broker's configuration, read once at startup from the environment through the settings table
 * (settings.ts: every variable, its rule, default and meaning). A value that breaks a rule stops the
 * process with a ConfigError naming the variable and the rule. Nothing else in the broker process
 * reads the environment: the vault, the codec and the targets get what is decided here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import type { RotatorDeps } from '../rotators/types';
import type { TargetDeps } from '../targets/types';
import type { LogLevel } from '../telemetry/logger';
import type { VersioningMode } from '../worker/versioning';
import { ConfigError, envconfigVariables, readSettings, settingsOf, type Settings } from './settings';

export { ConfigError } from './settings';

export type { VersioningMode } from '../worker/versioning';

export interface BrokerConfig {
  /** State of the embedded default: PGlite vault, key files, local compute environment runs. */
  dataDir: string;
  /** PostgreSQL server; unset means PGlite under dataDir. */
  databaseUrl?: string;
  /** How to reach Temporal: address, TLS, API key, gRPC metadata (through @temporalio/envconfig). */
  temporal: { connection: NativeConnectionOptions & { address: string }; namespace: string; tls: boolean };
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
  /** AWS writes per second per account and region, per worker process. */
  awsWritesPerSecond: number;
  /** Where credential rotations reach Azure and AWS (unset: the real clouds). */
  rotators: Omit<RotatorDeps, 'vault'>;
  /** The vault master key variables, exactly as set (the vault decides env or file mode from them). */
  masterKeyEnv: Record<string, string>;
  /** The payload codec key variables, exactly as set. */
  codecKeyEnv: Record<string, string>;
  logLevel: LogLevel;
  /** Serve /metrics here; undefined when BROKER_METRICS_PORT=0. */
  metrics?: { host: string; port: number };
  versioning: { mode: VersioningMode; behavior: 'auto-upgrade' | 'pinned'; deploymentName: string; buildId?: string };
}


function gcpEndpoint(s: Settings): BrokerConfig['endpoints']['gcp'] {
  const value = s.BROKER_GCP_ENDPOINT;
  if (!value) return undefined;
  const i = value.lastIndexOf(':');
  return { apiEndpoint: value.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(value.slice(i + 1)), insecure: s.BROKER_GCP_INSECURE };
}

/** Azure endpoint overrides (sovereign clouds, private endpoints, tests): BROKER_AZURE_*. */
function azureEndpoints(s: Settings): RotatorDeps['azure'] {
  const strip = (u: string | undefined) => u?.replace(/\/+$/, '');
  const authorityHost = strip(s.BROKER_AZURE_AUTHORITY_HOST);
  const armEndpoint = strip(s.BROKER_AZURE_ARM_ENDPOINT);
  const blobEndpoint = s.BROKER_AZURE_BLOB_ENDPOINT;
  const ca = s.BROKER_AZURE_CA_FILE ? fs.readFileSync(s.BROKER_AZURE_CA_FILE, 'utf8') : undefined;
  return { ...(authorityHost ? { authorityHost } : {}), ...(armEndpoint ? { armEndpoint } : {}), ...(blobEndpoint ? { blobEndpoint } : {}), ...(ca ? { ca } : {}) };
}

function present(env: NodeJS.ProcessEnv, names: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) if (env[n] !== undefined && env[n] !== '') out[n] = env[n]!;
  return out;
}

/**
 * Temporal connection settings through @temporalio/envconfig (the variables the temporal CLI reads,
 * and its TOML profiles), after the settings table checked each variable.
 */
function temporalConnection(env: NodeJS.ProcessEnv, s: Settings): BrokerConfig['temporal'] {
  const problems: string[] = [];
  const certPath = !!(s.TEMPORAL_TLS_CLIENT_CERT_PATH || s.TEMPORAL_TLS_CLIENT_CERT_DATA);
  const keyPath = !!(s.TEMPORAL_TLS_CLIENT_KEY_PATH || s.TEMPORAL_TLS_CLIENT_KEY_DATA);
  if (certPath !== keyPath) {
    problems.push('TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH: mTLS needs both the client certificate and its key (or neither)');
  }
  if (s.TEMPORAL_TLS === false && s.TEMPORAL_API_KEY) problems.push('TEMPORAL_TLS: an API key is only sent over TLS: unset TEMPORAL_TLS=false, or unset TEMPORAL_API_KEY');
  if (problems.length) throw new ConfigError(problems);
  const vars = envconfigVariables(env);
  let loaded;
  try {
    loaded = loadClientConnectConfig({ overrideEnvVars: vars, ...(s.TEMPORAL_PROFILE ? { profile: s.TEMPORAL_PROFILE } : {}) });
  } catch (err) {
    const where = s.TEMPORAL_CONFIG_FILE ? `TEMPORAL_CONFIG_FILE (${s.TEMPORAL_CONFIG_FILE})` : 'TEMPORAL_PROFILE / ~/.config/temporalio/temporal.toml';
    throw new ConfigError([`${where}: ${(err as Error).message}`]);
  }
  const opts = loaded.connectionOptions;
  const address = opts.address ?? s.TEMPORAL_ADDRESS;
  const connection: BrokerConfig['temporal']['connection'] = { address };
  if (typeof opts.tls === 'object' && opts.tls !== null) {
    // envconfig reads files as Uint8Array; the native connection wants Buffers.
    const buf = (b: Uint8Array | undefined) => (b ? Buffer.from(b) : undefined);
    const { serverNameOverride, serverRootCACertificate, clientCertPair } = opts.tls;
    connection.tls = {
      ...(serverNameOverride ? { serverNameOverride } : {}),
      ...(serverRootCACertificate ? { serverRootCACertificate: buf(serverRootCACertificate) } : {}),
      ...(clientCertPair ? { clientCertPair: { crt: buf(clientCertPair.crt)!, key: buf(clientCertPair.key)! } } : {}),
    };
  } else if (opts.tls !== undefined) connection.tls = opts.tls;
  if (opts.apiKey !== undefined) connection.apiKey = opts.apiKey;
  if (opts.metadata && Object.keys(opts.metadata).length) connection.metadata = opts.metadata;
  const tls = !!connection.tls;
  return { connection, namespace: loaded.namespace ?? s.TEMPORAL_NAMESPACE, tls };
}

/** What the broker process reads: its roles' rows, not the CLI's or `make start`'s alone. */
const BROKER_PROCESS_SETTINGS = settingsOf(['broker', 'worker', 'api']);

export function loadConfig(env: NodeJS.ProcessEnv = process.env): BrokerConfig {
  const s = readSettings(env, BROKER_PROCESS_SETTINGS);
  const dataDir = path.resolve(s.BROKER_DATA_DIR);
  // Who may listen beyond loopback (TLS, or a TLS proxy in front) is authConfig's rule (broker/auth-config.ts).
  const apiHost = s.BROKER_API_HOST;
  if (s.BROKER_MASTER_KEY && env.BROKER_MASTER_KEY_FILE) throw new ConfigError(['BROKER_MASTER_KEY, BROKER_MASTER_KEY_FILE: both are set: set only one']);
  if (s.BROKER_CODEC_KEY && env.BROKER_CODEC_KEY_FILE) throw new ConfigError(['BROKER_CODEC_KEY, BROKER_CODEC_KEY_FILE: both are set: set only one']);
  const temporal = temporalConnection(env, s);
  const gcp = gcpEndpoint(s);
  const uiPort = s.TEMPORAL_UI_PORT;
  return {
    dataDir,
    ...(s.DATABASE_URL ? { databaseUrl: s.DATABASE_URL } : {}),
    temporal,
    temporalAddress: temporal.connection.address,
    namespace: temporal.namespace,
    taskQueue: s.BROKER_TASK_QUEUE,
    apiHost,
    apiPort: s.BROKER_API_PORT,
    localWorkDir: path.resolve(s.BROKER_LOCAL_WORKDIR ?? path.join(dataDir, 'local-ce')),
    hpcMaxConnections: s.BROKER_HPC_MAX_CONNECTIONS,
    sweepEvery: s.BROKER_SWEEP_EVERY,
    reapEvery: s.BROKER_REAP_EVERY,
    awsWritesPerSecond: s.BROKER_AWS_WRITES_PER_SECOND,
    uiOrigins: (s.BROKER_UI_ORIGINS ?? `http://127.0.0.1:${uiPort},http://localhost:${uiPort}`)
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean),
    endpoints: {
      ...(s.BROKER_AWS_ENDPOINT ? { aws: s.BROKER_AWS_ENDPOINT } : {}),
      ...(gcp ? { gcp } : {}),
    },
    rotators: {
      azure: azureEndpoints(s),
      ...(s.BROKER_AWS_ENDPOINT ? { aws: { endpoint: s.BROKER_AWS_ENDPOINT } } : {}),
    },
    masterKeyEnv: present(env, ['BROKER_MASTER_KEY', 'BROKER_MASTER_KEY_FILE', 'BROKER_MASTER_KEY_NEXT']),
    codecKeyEnv: present(env, ['BROKER_CODEC_KEY', 'BROKER_CODEC_KEY_FILE', 'BROKER_CODEC_PREVIOUS_KEYS']),
    logLevel: s.BROKER_LOG_LEVEL,
    ...(s.BROKER_METRICS_PORT ? { metrics: { host: s.BROKER_METRICS_HOST, port: s.BROKER_METRICS_PORT } } : {}),
    versioning: {
      mode: s.BROKER_WORKER_VERSIONING,
      behavior: s.BROKER_VERSIONING_BEHAVIOR,
      deploymentName: s.BROKER_DEPLOYMENT_NAME,
      ...(s.BROKER_BUILD_ID ? { buildId: s.BROKER_BUILD_ID } : {}),
    },
  };
}
