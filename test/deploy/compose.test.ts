/**
 * docker-compose.yml against the code (no Docker engine here to run it): every variable a broker
 * service sets is one the broker reads (broker/settings.ts), every ${VARIABLE} the file needs is
 * documented, each service waits for what it needs to be healthy (or, for the setup jobs, finished),
 * images are pinned, and the wiring between services agrees (addresses, ports, the codec endpoint).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { SETTINGS, readSettings } from '../../broker/settings';

const ROOT = path.resolve(__dirname, '../..');
const text = fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  restart?: string;
}
const compose = parse(text, { merge: true }) as { services: Record<string, Service>; secrets: Record<string, { file: string }> };
const services = compose.services;
const brokers = Object.entries(services).filter(([, s]) => s.command?.includes('lib/broker/main.js'));

test('the file parses and holds the whole topology', () => {
  expect(Object.keys(services).sort()).toEqual(['broker-api', 'broker-worker', 'postgresql', 'temporal', 'temporal-namespace', 'temporal-schema', 'temporal-ui']);
  expect(brokers.map(([n, s]) => `${n}: ${s.command!.at(-1)}`)).toEqual(['broker-worker: worker', 'broker-api: api']);
});

test('every variable a broker service sets is a setting the broker reads', () => {
  const known = new Set(Object.keys(SETTINGS));
  for (const [name, s] of brokers) {
    const unknown = Object.keys(s.environment ?? {}).filter((v) => !known.has(v));
    expect({ name, unknown }).toEqual({ name, unknown: [] });
  }
});

test('every setting a broker service sets passes its rule (interpolated with sample values)', () => {
  for (const [, s] of brokers) {
    const env = Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, v.replace(/\$\{([A-Z_]+)[^}]*\}/g, 'c0ffee')]));
    // Files that exist only in the container are checked there; everything else here.
    for (const k of Object.keys(env)) if (/_FILE$/.test(k)) delete env[k];
    expect(() => readSettings(env)).not.toThrow();
  }
});

test("every ${VARIABLE} the file needs is documented (README.md's Production section and deploy/env.example)", () => {
  const yamlOnly = text.replace(/^\s*#.*$/gm, '');
  const needed = new Set([...yamlOnly.matchAll(/\$\{([A-Z_]+)/g)].map((m) => m[1]));
  expect([...needed].sort()).toEqual(['BROKER_DB_PASSWORD', 'TEMPORAL_DB_PASSWORD']);
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const production = readme.slice(readme.indexOf('## Production'));
  const example = fs.readFileSync(path.join(ROOT, 'deploy/env.example'), 'utf8');
  for (const v of needed) {
    expect(production).toContain(v);
    expect(example).toMatch(new RegExp(`^${v}=`, 'm'));
  }
});

test('images are pinned; Temporal is temporalio/server with its schema set up by admin-tools, not auto-setup', () => {
  for (const [name, s] of Object.entries(services)) {
    if (s.build) continue;
    expect({ name, image: s.image }).toEqual({ name, image: expect.stringMatching(/^[a-z0-9/._-]+:\d+\.\d+[\w.-]*$/) });
  }
  expect(text).not.toContain('auto-setup');
  expect(services.temporal.image).toMatch(/^temporalio\/server:/);
  expect(services['temporal-schema'].image).toMatch(/^temporalio\/admin-tools:/);
  expect(services['temporal-schema'].command).toEqual(['/deploy/temporal-schema.sh']);
  expect(services.temporal.depends_on).toEqual({ 'temporal-schema': { condition: 'service_completed_successfully' } });
});

test('every long-running service has a healthcheck; every dependency waits on health or on a finished job', () => {
  const jobs = ['temporal-schema', 'temporal-namespace'];
  for (const [name, s] of Object.entries(services)) {
    if (!jobs.includes(name) && name !== 'temporal-ui') expect({ name, healthcheck: !!s.healthcheck }).toEqual({ name, healthcheck: true });
    for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
      const want = jobs.includes(dep) ? 'service_completed_successfully' : 'service_healthy';
      expect({ name, dep, condition }).toEqual({ name, dep, condition: want });
      if (want === 'service_healthy') expect(services[dep].healthcheck).toBeDefined();
    }
  }
  for (const [, s] of brokers) expect(Object.keys(s.depends_on ?? {}).sort()).toEqual(['postgresql', 'temporal-namespace']);
});

test('the wiring agrees: addresses, namespace, ports, the codec endpoint, the healthchecks', () => {
  for (const [, s] of brokers) {
    const env = s.environment!;
    expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(env.TEMPORAL_NAMESPACE).toBe(services['temporal-namespace'].environment!.TEMPORAL_NAMESPACE);
    expect(env.DATABASE_URL).toMatch(/^postgres:\/\/broker:\$\{BROKER_DB_PASSWORD[^}]*\}@postgresql:5432\/broker$/);
    expect(env.BROKER_MASTER_KEY_FILE).toBe('/run/secrets/broker_master_key');
    expect(env.BROKER_CODEC_KEY_FILE).toBe('/run/secrets/broker_codec_key');
  }
  const api = services['broker-api'];
  const [published] = api.ports!;
  expect(published).toBe(`127.0.0.1:${api.environment!.BROKER_API_PORT}:${api.environment!.BROKER_API_PORT}`);
  const ui = services['temporal-ui'];
  expect(ui.environment!.TEMPORAL_CODEC_ENDPOINT).toBe(`http://127.0.0.1:${api.environment!.BROKER_API_PORT}/codec`);
  const uiPort = ui.ports![0].split(':')[1];
  expect(api.environment!.BROKER_UI_ORIGINS.split(',')).toContain(`http://127.0.0.1:${uiPort}`);
  expect(services['broker-worker'].healthcheck!.test).toEqual(['CMD', 'node', 'lib/broker/healthcheck.js', 'worker']);
  expect(api.healthcheck!.test).toEqual(['CMD', 'node', 'lib/broker/healthcheck.js', 'api']);
  expect(fs.existsSync(path.join(ROOT, 'broker/healthcheck.ts'))).toBe(true);
});

test('mounted files exist, scripts executable; key files come from deploy/secrets (ignored by git)', () => {
  for (const s of Object.values(services)) {
    for (const v of s.volumes ?? []) {
      const src = v.split(':')[0];
      if (!src.startsWith('./')) continue;
      const st = fs.statSync(path.join(ROOT, src));
      if (!src.endsWith('.sh')) continue;
      expect({ src, executable: (st.mode & 0o111) !== 0 }).toEqual({ src, executable: true });
    }
  }
  for (const { file } of Object.values(compose.secrets)) expect(file).toMatch(/^\.\/deploy\/secrets\//);
  expect(fs.readFileSync(path.join(ROOT, '.gitignore'), 'utf8')).toMatch(/^deploy\/secrets\/$/m);
});

test("Temporal runs with the dev server's dynamic configuration (scripts/temporal-dev.args within deploy/dynamicconfig.yaml)", () => {
  const temporal = services.temporal;
  const file = temporal.environment!.DYNAMIC_CONFIG_FILE_PATH;
  expect(temporal.volumes).toContain(`./deploy/dynamicconfig.yaml:${file}:ro`);
  const dynamic = parse(fs.readFileSync(path.join(ROOT, 'deploy/dynamicconfig.yaml'), 'utf8')) as Record<string, { value: unknown }[]>;
  const fromYaml = Object.entries(dynamic).map(([k, [v]]) => `${k}=${String(v.value)}`);
  const fromArgs = fs
    .readFileSync(path.join(ROOT, 'scripts/temporal-dev.args'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  // Every value the dev server gets, the cluster gets too; the file may state more (defaults pinned).
  expect(fromYaml).toEqual(expect.arrayContaining(fromArgs));
});
