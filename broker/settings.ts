/**
 * Every environment variable the broker reads, in one table: its name, its rule (a zod schema over
 * the raw string), its default and its meaning. README.md's Configuration table is this table
 * (test/broker/settings.test.ts checks it, and writes it with UPDATE_README=1); `--help` prints it.
 *
 * To add a setting, add a row here (keep the groups) and read it through readSettings() in
 * config.ts or a loader of your own beside it. A value that breaks its rule stops the process with
 * `NAME: rule (got "value")`, or `NAME: rule` alone for a secret.
 */
import * as fs from 'node:fs';
import { z } from 'zod';
import { msToNumber, type Duration } from '@temporalio/common';
import { DEFAULT_NAMESPACE, TASK_QUEUE } from '../domain/run';

/** Who reads a variable: every broker role, one of them, the CLI, or scripts/start.sh. */
export type Scope = 'broker' | 'worker' | 'api' | 'cli' | 'make start';

export interface Setting<T = unknown> {
  /** Parses the raw value (undefined when unset; the default when there is one). */
  schema: z.ZodType<T>;
  /** The raw default, applied when the variable is unset or empty. */
  default?: string;
  /** The default as the README says it (when it is not simply `default`, or is derived). */
  defaultText?: string;
  meaning: string;
  scope: Scope[];
  /** The value is secret: errors never repeat it. */
  secret?: boolean;
  /** Read by @temporalio/envconfig (passed to it after validation). */
  envconfig?: boolean;
}

function setting<T>(s: Setting<T>): Setting<T> {
  return s;
}

// ---- rules -----------------------------------------------------------------------------------

const PORT_RULE = 'must be a port number 0-65535';
const port = z
  .string()
  .regex(/^\d{1,5}$/, PORT_RULE)
  .transform(Number)
  .refine((n) => n <= 65535, PORT_RULE);

const atLeastOne = z
  .string()
  .regex(/^\d+$/, 'must be a whole number of at least 1')
  .transform(Number)
  .refine((n) => n >= 1, 'must be a whole number of at least 1');

const positiveNumber = z
  .string()
  .regex(/^\d+(\.\d+)?$/, 'must be a positive number')
  .transform(Number)
  .refine((n) => n > 0, 'must be a positive number');

const BOOL_RULE = 'must be one of 1, 0, true, false';
const bool = z
  .string()
  .refine((v) => ['1', '0', 'true', 'false'].includes(v), BOOL_RULE)
  .transform((v) => v === '1' || v === 'true');

const nonEmpty = z.string().min(1, 'must not be empty');

const hostPort = z.string().regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be host:port');

const duration = z.string().refine((v) => {
  try {
    return msToNumber(v as Duration) >= 1_000;
  } catch {
    return false;
  }
}, 'must be a duration of at least 1s, such as 30m, 1h or 1d');

const url = (protocols: string[], rule: string) =>
  z.string().refine((v) => {
    try {
      return protocols.includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, rule);

const readableFile = z.string().refine((p) => {
  try {
    fs.accessSync(p, fs.constants.R_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}, 'must name a readable file');

const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.string().refine((v): v is T[number] => (values as readonly string[]).includes(v), `must be one of ${values.join(', ')}`) as unknown as z.ZodType<T[number], string>;

/** Base64 of exactly 32 bytes (AES-256 keys). */
const KEY_RULE = 'must be 32 bytes encoded as base64 (44 characters); generate one with: openssl rand -base64 32';
const key32 = z.string().refine((v) => {
  const t = v.trim();
  return /^[A-Za-z0-9+/]+={0,2}$/.test(t) && Buffer.from(t, 'base64').length === 32;
}, KEY_RULE);
const keyList = z.string().refine(
  (v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .every((s) => key32.safeParse(s).success),
  `must be a comma-separated list of keys, each ${KEY_RULE.replace('must be ', '')}`,
);

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;

// ---- the table -------------------------------------------------------------------------------

export const SETTINGS = {
  // Temporal: read through @temporalio/envconfig (the same variables as the temporal CLI).
  TEMPORAL_ADDRESS: setting({ schema: hostPort, default: '127.0.0.1:7233', meaning: 'Temporal frontend (host:port); Temporal Cloud: `<namespace>.<account>.tmprl.cloud:7233` or the regional API key endpoint', scope: ['broker'], envconfig: true }),
  TEMPORAL_NAMESPACE: setting({ schema: nonEmpty, default: DEFAULT_NAMESPACE, meaning: 'namespace', scope: ['broker'], envconfig: true }),
  TEMPORAL_API_KEY: setting({ schema: nonEmpty.optional(), defaultText: 'unset', meaning: 'API key (Temporal Cloud); turns TLS on', scope: ['broker'], secret: true, envconfig: true }),
  TEMPORAL_TLS: setting({ schema: bool.optional(), defaultText: 'unset: off, unless an API key or a TLS file is set', meaning: 'TLS to the frontend (`1`/`true`, `0`/`false`)', scope: ['broker'], envconfig: true }),
  TEMPORAL_TLS_CLIENT_CERT_PATH: setting({ schema: readableFile.optional(), defaultText: 'unset', meaning: 'mTLS client certificate (PEM file), with `TEMPORAL_TLS_CLIENT_KEY_PATH`', scope: ['broker'], envconfig: true }),
  TEMPORAL_TLS_CLIENT_KEY_PATH: setting({ schema: readableFile.optional(), defaultText: 'unset', meaning: 'mTLS client private key (PEM file)', scope: ['broker'], envconfig: true }),
  TEMPORAL_TLS_CLIENT_CERT_DATA: setting({ schema: nonEmpty.optional(), defaultText: 'unset', meaning: 'the client certificate itself (PEM), instead of a path', scope: ['broker'], envconfig: true }),
  TEMPORAL_TLS_CLIENT_KEY_DATA: setting({ schema: nonEmpty.optional(), defaultText: 'unset', meaning: 'the client private key itself (PEM), instead of a path', scope: ['broker'], secret: true, envconfig: true }),
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: setting({ schema: readableFile.optional(), defaultText: 'the system roots', meaning: 'CA that signed the frontend\'s certificate (PEM file)', scope: ['broker'], envconfig: true }),
  TEMPORAL_TLS_SERVER_CA_CERT_DATA: setting({ schema: nonEmpty.optional(), defaultText: 'unset', meaning: 'that CA itself (PEM), instead of a path', scope: ['broker'], envconfig: true }),
  TEMPORAL_TLS_SERVER_NAME: setting({ schema: nonEmpty.optional(), defaultText: 'the address\'s host', meaning: 'server name to verify the frontend\'s certificate against (SNI)', scope: ['broker'], envconfig: true }),
  TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: setting({ schema: z.undefined({ error: 'is not supported by the TypeScript SDK: set TEMPORAL_TLS_SERVER_NAME to the name in the certificate instead' }).optional(), defaultText: 'unset', meaning: 'refused when set (the TypeScript SDK cannot skip host verification)', scope: ['broker'], envconfig: true }),
  TEMPORAL_CONFIG_FILE: setting({ schema: readableFile.optional(), defaultText: 'unset: no file (not even `~/.config/temporalio/temporal.toml`)', meaning: 'Temporal client config file (TOML profiles, as the temporal CLI writes them); the variables above override it', scope: ['broker'], envconfig: true }),
  TEMPORAL_PROFILE: setting({ schema: nonEmpty.optional(), defaultText: '`default`', meaning: 'the profile of `TEMPORAL_CONFIG_FILE` to use', scope: ['broker'], envconfig: true }),
  'TEMPORAL_GRPC_META_<NAME>': setting({ schema: z.string().optional(), defaultText: 'unset', meaning: 'gRPC header `<name>` on every call to Temporal (`_` becomes `-`)', scope: ['broker'], secret: true, envconfig: true }),
  TEMPORAL_UI_PORT: setting({ schema: port, default: '8233', meaning: 'the Web UI\'s port: `make start` serves it there; the codec endpoint\'s default allowed origins use it', scope: ['api', 'make start'] }),
  TEMPORAL_PORT: setting({ schema: port, default: '7233', meaning: 'the port `make start` gives the dev server', scope: ['make start'] }),

  // The broker process.
  BROKER_DATA_DIR: setting({ schema: nonEmpty, default: '.data', defaultText: '`./.data`', meaning: 'embedded state: PGlite vault, key files, `temporal.db`, local runs, logs', scope: ['broker', 'cli'] }),
  DATABASE_URL: setting({ schema: url(['postgres:', 'postgresql:'], 'must be a postgres:// or postgresql:// URL').optional(), defaultText: 'unset (PGlite)', meaning: 'PostgreSQL server for the vault', scope: ['broker', 'cli'], secret: true }),
  BROKER_MASTER_KEY: setting({ schema: key32.optional(), defaultText: 'unset', meaning: 'vault master key (base64, 32 bytes); or:', scope: ['broker', 'cli'], secret: true }),
  BROKER_MASTER_KEY_FILE: setting({ schema: nonEmpty.optional(), defaultText: '`$BROKER_DATA_DIR/master.key`', meaning: 'file holding it (mode 0600; created on first start when the vault is empty)', scope: ['broker', 'cli'] }),
  BROKER_MASTER_KEY_NEXT: setting({ schema: key32.optional(), defaultText: 'unset', meaning: 'the key a rewrap moves to, when the master key comes from `BROKER_MASTER_KEY`', scope: ['broker', 'cli'], secret: true }),
  BROKER_CODEC_KEY: setting({ schema: key32.optional(), defaultText: 'unset', meaning: 'payload codec key (base64, 32 bytes); or:', scope: ['broker'], secret: true }),
  BROKER_CODEC_KEY_FILE: setting({ schema: nonEmpty.optional(), defaultText: '`$BROKER_DATA_DIR/codec.key`', meaning: 'file holding it (mode 0600, created on first start)', scope: ['broker'] }),
  BROKER_CODEC_PREVIOUS_KEYS: setting({ schema: keyList.optional(), defaultText: 'unset', meaning: 'earlier codec keys (comma-separated base64), to read history written before a rotation', scope: ['broker'], secret: true }),
  BROKER_TASK_QUEUE: setting({ schema: nonEmpty, default: TASK_QUEUE, meaning: 'the task queue the worker polls and the API starts workflows on', scope: ['broker'] }),
  BROKER_LOG_LEVEL: setting({ schema: oneOf(LOG_LEVELS), default: 'info', meaning: `JSON log level on stderr, Temporal's core and SDK logs included: ${LOG_LEVELS.join(', ')}`, scope: ['broker'] }),
  BROKER_METRICS_HOST: setting({ schema: nonEmpty, default: '127.0.0.1', meaning: 'address `/metrics` listens on (`0.0.0.0` for a scraper on another host)', scope: ['broker'] }),
  BROKER_METRICS_PORT: setting({ schema: port, default: '9464', meaning: 'Prometheus `/metrics` (the SDK\'s metrics and the broker\'s); `0` turns it off', scope: ['broker'] }),
  BROKER_API_HOST: setting({ schema: nonEmpty, default: '127.0.0.1', meaning: 'address the HTTP API listens on; anything but loopback needs TLS (`BROKER_TLS_CERT_FILE`) or `BROKER_API_ALLOW_REMOTE=1`', scope: ['api'] }),
  BROKER_API_ALLOW_REMOTE: setting({ schema: bool, default: '0', meaning: 'allow a non-loopback `BROKER_API_HOST` without TLS (only behind a TLS-terminating proxy)', scope: ['api'] }),
  BROKER_TLS_CERT_FILE: setting({ schema: readableFile.optional(), defaultText: 'unset: plain HTTP', meaning: 'serve the API over HTTPS: its certificate chain (PEM file), with `BROKER_TLS_KEY_FILE`', scope: ['api', 'make start'] }),
  BROKER_TLS_KEY_FILE: setting({ schema: readableFile.optional(), defaultText: 'unset', meaning: 'the private key of that certificate (PEM file)', scope: ['api'] }),
  BROKER_OIDC_ISSUER: setting({ schema: url(['http:', 'https:'], 'must be an http(s) URL').optional(), defaultText: 'unset: API tokens only', meaning: 'accept OIDC access tokens from this issuer (https; http only on loopback), mapped to identities by subject (docs/access.md)', scope: ['api'] }),
  BROKER_OIDC_AUDIENCE: setting({ schema: nonEmpty.optional(), defaultText: 'unset', meaning: 'the `aud` those tokens must name (required with the issuer)', scope: ['api'] }),
  BROKER_OIDC_JWKS_URL: setting({ schema: url(['http:', 'https:'], 'must be an http(s) URL').optional(), defaultText: "the issuer's discovery document", meaning: 'where the issuer publishes its signing keys', scope: ['api'] }),
  BROKER_OIDC_ALGORITHMS: setting({ schema: nonEmpty.optional(), defaultText: '`RS256,ES256`', meaning: 'signature algorithms accepted (comma-separated)', scope: ['api'] }),
  BROKER_OIDC_CLOCK_TOLERANCE: setting({ schema: z.string().regex(/^\d{1,3}$/, 'must be a whole number of seconds').optional(), defaultText: '`30`', meaning: 'seconds of clock skew allowed when checking a token (0-300)', scope: ['api'] }),
  BROKER_BOOTSTRAP_ADMIN: setting({ schema: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'must be 1 to 100 letters, digits, dashes or underscores').optional(), defaultText: '`admin` (set empty: no bootstrap)', meaning: 'the first broker administrator: when none holds a usable token, one is made and written to `BROKER_ADMIN_TOKEN_FILE`', scope: ['api'] }),
  BROKER_ADMIN_TOKEN_FILE: setting({ schema: nonEmpty.optional(), defaultText: '`$BROKER_DATA_DIR/admin.token`', meaning: "where that administrator's token is written (mode 0600; the CLI reads it when `BROKER_TOKEN` is unset)", scope: ['api', 'cli', 'make start'] }),
  BROKER_BOOTSTRAP_TOKEN_TTL: setting({ schema: duration.optional(), defaultText: '`90d`', meaning: "how long that token lives (at most 365d)", scope: ['api'] }),
  BROKER_AUTH_FAILURES_PER_MINUTE: setting({ schema: atLeastOne.optional(), defaultText: '`20`', meaning: 'failed authentications per client address in a minute before the API answers 429', scope: ['api'] }),
  BROKER_CODEC_REQUIRE_TOKEN: setting({ schema: bool, default: '0', meaning: 'the codec endpoint wants a token from loopback too (beyond loopback it always does)', scope: ['api'] }),
  BROKER_UI_URL: setting({ schema: url(['http:', 'https:'], 'must be an http(s) URL').optional(), defaultText: '`http://127.0.0.1:$TEMPORAL_UI_PORT`', meaning: 'the Temporal Web UI that links to runs in API answers point to', scope: ['api'] }),
  BROKER_API_PORT: setting({ schema: port, default: '8787', meaning: 'HTTP API port', scope: ['api', 'make start'] }),
  BROKER_UI_ORIGINS: setting({ schema: nonEmpty.optional(), defaultText: '`http://127.0.0.1:$TEMPORAL_UI_PORT,http://localhost:$TEMPORAL_UI_PORT`', meaning: 'Web UI origins (comma-separated) allowed to call the codec endpoint', scope: ['api'] }),
  BROKER_LOCAL_WORKDIR: setting({ schema: nonEmpty.optional(), defaultText: '`$BROKER_DATA_DIR/local-ce`', meaning: 'run directories of `local` compute environments without a `workDir`', scope: ['worker'] }),
  BROKER_HPC_MAX_CONNECTIONS: setting({ schema: atLeastOne, default: '4', meaning: 'concurrent SSH connections per HPC host, per worker process', scope: ['worker'] }),
  BROKER_SWEEP_EVERY: setting({ schema: duration, default: '1h', meaning: 'how often the sweep deletes what terminated runs left behind', scope: ['worker'] }),
  BROKER_REAP_EVERY: setting({ schema: duration, default: '1m', meaning: 'how often the reaper looks for runs terminated (or timed out) before they deleted their secrets, and starts their cleanup', scope: ['worker'] }),
  BROKER_AWS_WRITES_PER_SECOND: setting({ schema: positiveNumber, default: '50', meaning: 'AWS Secrets Manager creates (and deletes) per second per account and region: for all workers together on PostgreSQL (the vault holds the rate slots), per worker process on PGlite', scope: ['worker'] }),
  BROKER_AWS_ENDPOINT: setting({ schema: url(['http:', 'https:'], 'must be an http(s) URL').optional(), defaultText: 'the real AWS', meaning: 'one endpoint for every AWS call (an emulator: moto)', scope: ['worker', 'api'] }),
  BROKER_GCP_ENDPOINT: setting({ schema: hostPort.optional(), defaultText: 'the real Google Cloud', meaning: 'Secret Manager endpoint host:port (an emulator)', scope: ['worker'] }),
  BROKER_GCP_INSECURE: setting({ schema: bool, default: '0', meaning: 'reach `BROKER_GCP_ENDPOINT` without TLS', scope: ['worker'] }),
  BROKER_AZURE_AUTHORITY_HOST: setting({ schema: url(['https:'], 'must be an https URL').optional(), defaultText: 'the public Azure cloud', meaning: 'Entra ID authority (sovereign clouds, tests)', scope: ['worker', 'api'] }),
  BROKER_AZURE_ARM_ENDPOINT: setting({ schema: url(['https:'], 'must be an https URL').optional(), defaultText: 'the public Azure cloud', meaning: 'Azure Resource Manager endpoint', scope: ['worker', 'api'] }),
  BROKER_AZURE_BLOB_ENDPOINT: setting({ schema: url(['http:', 'https:'], 'must be an http(s) URL').optional(), defaultText: 'the public Azure cloud', meaning: 'Blob storage endpoint (private endpoints, Azurite)', scope: ['worker', 'api'] }),
  BROKER_AZURE_CA_FILE: setting({ schema: readableFile.optional(), defaultText: 'the system roots', meaning: 'CA for those Azure endpoints (PEM file)', scope: ['worker', 'api'] }),
  BROKER_WORKER_VERSIONING: setting({ schema: oneOf(['off', 'promote', 'manual'] as const), default: 'off', meaning: 'Worker Deployment versioning: `off`; `promote` (this build becomes the current version when it starts: replace-in-place deploys); `manual` (you promote with `temporal worker deployment set-current-version`). See Worker versioning', scope: ['worker'] }),
  BROKER_VERSIONING_BEHAVIOR: setting({ schema: oneOf(['auto-upgrade', 'pinned'] as const), default: 'auto-upgrade', meaning: 'with versioning on: workflows move to the current build (`auto-upgrade`) or stay on the build that started them (`pinned`)', scope: ['worker'] }),
  BROKER_DEPLOYMENT_NAME: setting({ schema: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'must be 1-100 letters, digits, - or _'), default: 'secret-broker', meaning: 'the Worker Deployment\'s name', scope: ['worker'] }),
  BROKER_BUILD_ID: setting({ schema: z.string().regex(/^[A-Za-z0-9_.+-]{1,100}$/, 'must be 1-100 letters, digits, . + - or _').optional(), defaultText: '`lib/workflow-bundle.json`\'s (`<version>-<bundle hash>`)', meaning: 'this worker\'s build id', scope: ['worker'] }),

  // The CLI.
  BROKER_API_URL: setting({ schema: url(['http:', 'https:'], 'must be an http(s) URL'), default: 'http://127.0.0.1:8787', meaning: 'the API the `secret-broker` command talks to', scope: ['cli'] }),
  BROKER_TOKEN: setting({ schema: nonEmpty.optional(), defaultText: 'unset', meaning: 'the API token the CLI sends (or `BROKER_TOKEN_FILE`, or the administrator token file); docs/cli.md', scope: ['cli'], secret: true }),
  BROKER_TOKEN_FILE: setting({ schema: nonEmpty.optional(), defaultText: '`$BROKER_ADMIN_TOKEN_FILE`', meaning: 'a file holding that token', scope: ['cli'] }),
  BROKER_WORKSPACE: setting({ schema: nonEmpty.optional(), defaultText: 'unset', meaning: "the CLI's default workspace (`--workspace` overrides it)", scope: ['cli'] }),
  BROKER_CA_FILE: setting({ schema: readableFile.optional(), defaultText: 'the system roots', meaning: "CA that signed the API's certificate (PEM file), for an API served over TLS with a private CA", scope: ['cli'] }),
} satisfies Record<string, Setting<never> | Setting<unknown>>;

export type SettingName = keyof typeof SETTINGS;
type Out<S> = S extends Setting<infer T> ? T : never;
export type Settings = { [K in SettingName]: Out<(typeof SETTINGS)[K]> };

/** A configuration value broke its rule: the message names every variable and rule. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? problems[0] : `configuration refused:\n  ${problems.join('\n  ')}`);
  }
}

const isPattern = (name: string) => name.includes('<');

/** The raw value as the reader sees it: unset and empty are the same, and take the default. */
function rawOf(env: NodeJS.ProcessEnv, name: string, s: Setting): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? s.default : v;
}

function problem(name: string, s: Setting, raw: string | undefined, message: string): string {
  if (s.secret || raw === undefined) return `${name}: ${message}`;
  return `${name}: ${message} (got "${raw.length > 200 ? `${raw.slice(0, 200)}...` : raw}")`;
}

/**
 * Read and check every setting (or the named ones). Collects every problem before throwing one
 * ConfigError, so a wrong deployment hears about all its mistakes at once.
 */
export function readSettings(env: NodeJS.ProcessEnv, names?: readonly SettingName[]): Settings {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const name of names ?? (Object.keys(SETTINGS) as SettingName[])) {
    if (isPattern(name)) continue;
    const s = SETTINGS[name] as Setting;
    const raw = rawOf(env, name, s);
    const r = s.schema.safeParse(raw);
    if (r.success) out[name] = r.data;
    else problems.push(problem(name, s, raw, r.error.issues[0]?.message ?? 'is not valid'));
  }
  if (problems.length) throw new ConfigError(problems);
  return out as Settings;
}

/**
 * The rows some process reads: those whose scope names one of `scopes`. The broker process checks
 * only its own (`broker`, `worker`, `api`), so a CLI-only variable such as a broken `BROKER_CA_FILE`
 * left in its environment does not stop it.
 */
export function settingsOf(scopes: readonly Scope[]): SettingName[] {
  return (Object.keys(SETTINGS) as SettingName[]).filter((n) => (SETTINGS[n] as Setting).scope.some((sc) => scopes.includes(sc)));
}

/** The variables @temporalio/envconfig reads, as set (no defaults: a TOML profile fills the gaps first). */
export function envconfigVariables(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, s] of Object.entries(SETTINGS) as [string, Setting][]) {
    if (!s.envconfig) continue;
    if (isPattern(name)) {
      const prefix = name.slice(0, name.indexOf('<'));
      for (const [k, v] of Object.entries(env)) if (k.startsWith(prefix) && v !== undefined) out[k] = v;
    } else if (env[name] !== undefined && env[name] !== '') {
      out[name] = env[name]!;
    }
  }
  return out;
}

/** README.md's Configuration table, generated from SETTINGS. */
export function settingsTable(): string {
  const rows = (Object.entries(SETTINGS) as [string, Setting][]).map(([name, s]) => {
    const def = s.defaultText ?? (s.default !== undefined ? `\`${s.default}\`` : 'unset');
    return `| \`${name}\` | ${def} | ${s.scope.join(', ')} | ${s.meaning.replace(/\|/g, '\\|')} |`;
  });
  return ['| variable | default | read by | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
