/**
 * The settings table (broker/settings.ts) is the one list of variables: README.md's Configuration
 * table is generated from it, every variable the code reads is in it, and every rule refuses a wrong
 * value naming the variable (and never repeating a secret one).
 *
 * UPDATE_README=1 scripts/test.sh test/broker/settings.test.ts rewrites the README table.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, SETTINGS, readSettings, settingsTable, type SettingName } from '../../broker/settings';

const ROOT = path.resolve(__dirname, '../..');
const README = path.join(ROOT, 'README.md');
const BEGIN = '<!-- settings:begin (generated from broker/settings.ts by test/broker/settings.test.ts) -->';
const END = '<!-- settings:end -->';

test("README.md's Configuration table is the settings table", () => {
  const text = fs.readFileSync(README, 'utf8');
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  expect(a).toBeGreaterThan(0);
  expect(b).toBeGreaterThan(a);
  const want = `${BEGIN}\n${settingsTable()}\n${END}`;
  if (process.env.UPDATE_README === '1') fs.writeFileSync(README, text.slice(0, a) + want + text.slice(b + END.length));
  expect(text.slice(a, b + END.length)).toBe(want);
});

/** Runtime code (what lib/ holds) and the scripts that start it. */
function runtimeSources(): string[] {
  const include = (JSON.parse(fs.readFileSync(path.join(ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[] }).include;
  const files: string[] = [];
  for (const dir of include) {
    for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })) {
      if (e.isFile() && e.name.endsWith('.ts')) files.push(path.join(e.parentPath, e.name));
    }
  }
  return [...files, path.join(ROOT, 'scripts/start.sh')];
}

/** Every BROKER_* / TEMPORAL_* / DATABASE_URL the file reads (env.X, env['X'], a string 'X', shell $X), not identifiers. */
function namesIn(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:env\.|env\[\s*['"]|['"`]|\$\{?)((?:BROKER|TEMPORAL)_[A-Z0-9_]*[A-Z0-9]|DATABASE_URL)\b/g)].map((m) => m[1]);
}

test('every variable the code names is in the table (so in the README)', () => {
  const known = new Set(Object.keys(SETTINGS));
  const prefixes = Object.keys(SETTINGS)
    .filter((n) => n.includes('<'))
    .map((n) => n.slice(0, n.indexOf('<')));
  // Names that are not variables the broker reads: its own identifiers and the Web UI's.
  const notVariables = new Set(['BROKER_VENV', 'BROKER_GOBIN', 'BROKER_NODE_FROM', 'BROKER_NODE_HOME', 'BROKER_NODE_BIN', 'BROKER_NODE_PREFIX']);
  const missing = new Set<string>();
  const files = runtimeSources();
  expect(files.length).toBeGreaterThan(100);
  for (const f of files) {
    for (const n of namesIn(f)) {
      if (known.has(n) || notVariables.has(n) || prefixes.some((p) => n.startsWith(p))) continue;
      missing.add(`${n} (${path.relative(ROOT, f)})`);
    }
  }
  expect([...missing].sort()).toEqual([]);
});

test('the scan finds what it is meant to find', () => {
  expect(namesIn(path.join(ROOT, 'codec/keys.ts'))).toContain('BROKER_CODEC_PREVIOUS_KEYS');
  expect(namesIn(path.join(ROOT, 'store/master-key.ts')).length).toBeGreaterThan(0);
  expect(namesIn(path.join(ROOT, 'cli/settings.ts'))).toContain('BROKER_API_URL');
});

test('defaults: every setting reads with an empty environment', () => {
  const s = readSettings({});
  expect(s).toMatchObject({
    TEMPORAL_ADDRESS: '127.0.0.1:7233',
    TEMPORAL_NAMESPACE: 'default',
    BROKER_METRICS_PORT: 9464,
    BROKER_METRICS_HOST: '127.0.0.1',
    BROKER_LOG_LEVEL: 'info',
    BROKER_API_ALLOW_REMOTE: false,
    BROKER_WORKER_VERSIONING: 'off',
    BROKER_AWS_WRITES_PER_SECOND: 50,
  });
});

const KEY = Buffer.alloc(32, 7).toString('base64');

// One wrong value per rule; every row must be refused naming the variable and its rule.
const wrong: { name: SettingName; value: string; rule: RegExp }[] = [
  { name: 'TEMPORAL_ADDRESS', value: 'temporal', rule: /must be host:port/ },
  { name: 'TEMPORAL_TLS', value: 'yes', rule: /must be one of 1, 0, true, false/ },
  { name: 'TEMPORAL_TLS_CLIENT_CERT_PATH', value: '/nonexistent/client.pem', rule: /must name a readable file/ },
  { name: 'TEMPORAL_TLS_CLIENT_KEY_PATH', value: '/etc', rule: /must name a readable file/ },
  { name: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH', value: '/nonexistent/ca.pem', rule: /must name a readable file/ },
  { name: 'TEMPORAL_UI_PORT', value: '8233x', rule: /must be a port number/ },
  { name: 'TEMPORAL_PORT', value: '65536', rule: /must be a port number/ },
  { name: 'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION', value: 'true', rule: /not supported by the TypeScript SDK/ },
  { name: 'TEMPORAL_CONFIG_FILE', value: '/nonexistent.toml', rule: /must name a readable file/ },
  { name: 'DATABASE_URL', value: 'mysql://u:p@h/db', rule: /must be a postgres/ },
  { name: 'BROKER_MASTER_KEY', value: 'c2hvcnQ=', rule: /must be 32 bytes encoded as base64/ },
  { name: 'BROKER_MASTER_KEY_NEXT', value: Buffer.alloc(31).toString('base64'), rule: /must be 32 bytes/ },
  { name: 'BROKER_CODEC_KEY', value: 'not base64!', rule: /must be 32 bytes/ },
  { name: 'BROKER_CODEC_PREVIOUS_KEYS', value: `${KEY},short`, rule: /comma-separated list of keys/ },
  { name: 'BROKER_LOG_LEVEL', value: 'verbose', rule: /must be one of trace, debug, info, warn, error, silent/ },
  { name: 'BROKER_METRICS_PORT', value: '99999', rule: /must be a port number 0-65535/ },
  { name: 'BROKER_API_PORT', value: 'http', rule: /must be a port number/ },
  { name: 'BROKER_API_ALLOW_REMOTE', value: 'sure', rule: /must be one of 1, 0, true, false/ },
  { name: 'BROKER_HPC_MAX_CONNECTIONS', value: '0', rule: /must be a whole number of at least 1/ },
  { name: 'BROKER_SWEEP_EVERY', value: 'hourly', rule: /must be a duration/ },
  { name: 'BROKER_REAP_EVERY', value: 'often', rule: /must be a duration/ },
  { name: 'BROKER_AWS_WRITES_PER_SECOND', value: '-3', rule: /must be a positive number/ },
  { name: 'BROKER_AWS_ENDPOINT', value: 'moto:5000', rule: /must be an http\(s\) URL/ },
  { name: 'BROKER_GCP_ENDPOINT', value: 'localhost', rule: /must be host:port/ },
  { name: 'BROKER_GCP_INSECURE', value: 'yes', rule: /must be one of 1, 0, true, false/ },
  { name: 'BROKER_AZURE_AUTHORITY_HOST', value: 'login.microsoftonline.com', rule: /must be an https URL/ },
  { name: 'BROKER_AZURE_BLOB_ENDPOINT', value: 'ftp://blob', rule: /must be an http\(s\) URL/ },
  { name: 'BROKER_AZURE_ARM_ENDPOINT', value: 'http://arm.example', rule: /must be an https URL/ },
  { name: 'BROKER_AZURE_CA_FILE', value: '/nonexistent/ca.pem', rule: /must name a readable file/ },
  { name: 'BROKER_WORKER_VERSIONING', value: 'on', rule: /must be one of off, promote, manual/ },
  { name: 'BROKER_VERSIONING_BEHAVIOR', value: 'sticky', rule: /must be one of auto-upgrade, pinned/ },
  { name: 'BROKER_DEPLOYMENT_NAME', value: 'a.b', rule: /must be 1-100 letters/ },
  { name: 'BROKER_BUILD_ID', value: 'a b', rule: /must be 1-100 letters/ },
  { name: 'BROKER_API_URL', value: '127.0.0.1:8787', rule: /must be an http\(s\) URL/ },
  { name: 'BROKER_TLS_CERT_FILE', value: '/nonexistent/api.pem', rule: /must name a readable file/ },
  { name: 'BROKER_TLS_KEY_FILE', value: '/nonexistent/api.key', rule: /must name a readable file/ },
  { name: 'BROKER_OIDC_ISSUER', value: 'issuer.example', rule: /must be an http\(s\) URL/ },
  { name: 'BROKER_OIDC_JWKS_URL', value: 'jwks.json', rule: /must be an http\(s\) URL/ },
  { name: 'BROKER_OIDC_CLOCK_TOLERANCE', value: '30s', rule: /must be a whole number of seconds/ },
  { name: 'BROKER_BOOTSTRAP_ADMIN', value: 'the admin', rule: /must be 1 to 100 letters/ },
  { name: 'BROKER_BOOTSTRAP_TOKEN_TTL', value: 'forever', rule: /must be a duration/ },
  { name: 'BROKER_AUTH_FAILURES_PER_MINUTE', value: '0', rule: /must be a whole number of at least 1/ },
  { name: 'BROKER_CODEC_REQUIRE_TOKEN', value: 'yes', rule: /must be one of 1, 0, true, false/ },
  { name: 'BROKER_UI_URL', value: 'ui:8233', rule: /must be an http\(s\) URL/ },
  { name: 'BROKER_CA_FILE', value: '/nonexistent/ca.pem', rule: /must name a readable file/ },
];

test.each(wrong)('$name=$value is refused, naming the variable and the rule', ({ name, value, rule }) => {
  let err: unknown;
  try {
    readSettings({ [name]: value });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  const message = (err as Error).message;
  expect(message.startsWith(`${name}: `)).toBe(true);
  expect(message).toMatch(rule);
  // A secret's value is never repeated; any other value is, so the operator sees what was read.
  if ((SETTINGS[name] as { secret?: boolean }).secret) expect(message).not.toContain(value);
  else expect(message).toContain(`(got "${value}")`);
});

test('every rule in the table has a wrong value above', () => {
  const checked = new Set(wrong.map((w) => w.name));
  const unchecked = (Object.keys(SETTINGS) as SettingName[]).filter((n) => {
    const s = SETTINGS[n] as { schema: { safeParse(v: unknown): { success: boolean } } };
    // Settings that take any non-empty text have no wrong value to show.
    return !checked.has(n) && !s.schema.safeParse('\u0000 a b ; ../ :').success;
  });
  expect(unchecked).toEqual([]);
});

test('every problem at once', () => {
  expect(() => readSettings({ BROKER_API_PORT: 'x', BROKER_METRICS_PORT: 'y', BROKER_LOG_LEVEL: 'loud' })).toThrow(
    /configuration refused:\n {2}BROKER_LOG_LEVEL: .*\n {2}BROKER_METRICS_PORT: .*\n {2}BROKER_API_PORT: /,
  );
});

test('unset and empty are the same: the default', () => {
  expect(readSettings({ BROKER_API_PORT: '' }).BROKER_API_PORT).toBe(8787);
  expect(readSettings({ BROKER_METRICS_PORT: '0' }).BROKER_METRICS_PORT).toBe(0);
});
