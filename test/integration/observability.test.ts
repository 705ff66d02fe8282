/**
 * What an operator sees of the broker process (`node lib/broker/main.js`, on a real Temporal dev
 * server, driven through the CLI): /metrics moves with a run (the broker's series and the Temporal
 * SDK's, on one endpoint), no label or log line carries a secret name or value, every log line is
 * JSON (Temporal's included), and a wrong setting stops the process naming the variable.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { eventually } from '../harness/broker';
import { freePort, spawnServer, waitForPort, type ServerProcess } from '../harness/process';
import { startTemporal, type TemporalServer } from '../harness/temporal';
import { OWN_BROKER_CLI_ENV } from '../harness/cli';
import { BROKER_MAIN as MAIN, CLI_BIN as CLI, REPO_ROOT as ROOT } from '../harness/paths';

const run = promisify(execFile);

let temporal: TemporalServer;
let dataDir: string;
let apiPort: number;
let metricsPort: number;
let broker: ServerProcess;

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    // The CLI acts as the administrator this broker bootstraps, not with the developer's own settings.
    ...OWN_BROKER_CLI_ENV,
    TEMPORAL_ADDRESS: temporal.address,
    BROKER_DATA_DIR: dataDir,
    BROKER_API_PORT: String(apiPort),
    BROKER_METRICS_PORT: String(metricsPort),
    BROKER_API_URL: `http://127.0.0.1:${apiPort}`,
    ...extra,
  };
}

async function cli(args: string[], stdin?: string): Promise<string> {
  const p = run(CLI, args, { env: env() });
  if (stdin !== undefined) p.child.stdin?.end(stdin);
  return (await p).stdout;
}

async function scrape(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** The value of one series (name and exact labels, in any order), 0 when absent. */
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return 0;
}

/** The sum of every series of a metric. */
function sum(text: string, name: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

beforeAll(async () => {
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (make build; make test does)`);
  temporal = await startTemporal();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-observe-'));
  apiPort = await freePort();
  metricsPort = await freePort();
  broker = spawnServer(process.execPath, [MAIN, '--role', 'all'], { env: env() });
  await waitForPort(apiPort, 90_000);
});

afterAll(async () => {
  await broker?.stop();
  await temporal?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

const value1 = `obs-value-${randomBytes(8).toString('hex')}`;
const value2 = `obs-value-${randomBytes(8).toString('hex')}`;

test('a run moves the figures on /metrics; the SDK metrics are there too; no label names a secret', async () => {
  await cli(['workspaces', 'create', 'observatory']);
  await cli(['secrets', 'set', 'OBS_DB_PASSWORD', '--workspace', 'observatory'], value1);
  await cli(['secrets', 'set', 'OBS_API_TOKEN', '--workspace', 'observatory'], value2);
  const ce = JSON.parse(await cli(['compute-envs', 'create', 'here', '--workspace', 'observatory', '--platform', 'local', '--json'])) as { id: string };
  const local = { compute_env: ce.id, platform: 'local' };

  const before = await scrape();
  const runId = `obs${randomBytes(4).toString('hex')}`;
  await cli(['runs', 'launch', '--workspace', 'observatory', '--compute-env', 'here', '--secret', 'OBS_DB_PASSWORD', '--secret', 'OBS_API_TOKEN', '--run-id', runId]);
  const ready = await scrape();
  expect(value(ready, 'secret_broker_launches_total', { ...local, outcome: 'ready' }) - value(before, 'secret_broker_launches_total', { ...local, outcome: 'ready' })).toBe(1);
  expect(value(ready, 'secret_broker_launch_latency_seconds_count', { outcome: 'ready', platform: 'local' })).toBeGreaterThanOrEqual(1);
  expect(value(ready, 'secret_broker_pushes_total', { ...local, outcome: 'pushed' })).toBe(2);
  expect(value(ready, 'secret_broker_secrets_pushed', local)).toBe(2);

  await cli(['runs', 'complete', runId, '--status', 'succeeded']);
  await eventually(async () => value(await scrape(), 'secret_broker_deletes_total', { ...local, outcome: 'deleted' }) === 2, 'two deletes on /metrics');
  const after = await scrape();
  expect(value(after, 'secret_broker_secrets_pushed', local)).toBe(0);

  // A launch that fails (a secret that does not exist) counts as failed, and pushes nothing.
  await expect(cli(['runs', 'launch', '--workspace', 'observatory', '--compute-env', 'here', '--secret', 'OBS_MISSING', '--run-id', `${runId}x`])).rejects.toThrow();
  const failed = await scrape();
  expect(value(failed, 'secret_broker_launches_total', { ...local, outcome: 'failed' })).toBe(1);
  expect(value(failed, 'secret_broker_pushes_total', { ...local, outcome: 'pushed' })).toBe(2);

  // The Temporal SDK's own metrics, on the same endpoint.
  expect(sum(failed, 'temporal_workflow_completed_total')).toBeGreaterThanOrEqual(1);
  // The short launch: resolveRun as a local activity, then placeSecrets and deleteSecrets (two runs resolved).
  expect(sum(failed, 'temporal_activity_execution_latency_count')).toBeGreaterThanOrEqual(2);
  expect(sum(failed, 'temporal_local_activity_execution_latency_count')).toBeGreaterThanOrEqual(2);
  expect(failed).toMatch(/^secret_broker_build_info\{.*build_id="0\.1\.0-[0-9a-f]{12}".*\} 1$/m);

  // Labels hold compute environment ids, platforms and fixed words: never names, values, run ids or people.
  for (const secret of ['OBS_DB_PASSWORD', 'OBS_API_TOKEN', 'OBS_MISSING', value1, value2, runId, 'observatory']) expect(failed).not.toContain(secret);
});

test('every log line is JSON, Temporal core and SDK lines included; none holds a value', async () => {
  const lines = broker.output().trim().split('\n');
  const parsed = lines.map((l) => JSON.parse(l) as { level: string; time: string; msg: string; component?: string; sdkComponent?: string });
  for (const p of parsed) expect(p).toEqual(expect.objectContaining({ level: expect.any(String), time: expect.any(String), msg: expect.any(String) }));
  const temporalLines = parsed.filter((p) => p.component === 'temporal');
  expect(temporalLines.map((p) => p.sdkComponent)).toEqual(expect.arrayContaining(['core', 'worker', 'workflow']));
  expect(parsed.some((p) => p.component === 'api' && p.msg === 'request')).toBe(true);
  const out = broker.output();
  expect(out).not.toContain(value1);
  expect(out).not.toContain(value2);
});

/** Run main.js to its exit; what it printed. */
function runToExit(extra: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, '--role', 'worker'], { env: env(extra), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

test.each([
  { reason: 'a port out of range', extra: { BROKER_METRICS_PORT: '99999' }, message: 'BROKER_METRICS_PORT: must be a port number 0-65535 (got \\"99999\\")', code: 2 },
  { reason: 'two wrong values at once', extra: { BROKER_LOG_LEVEL: 'loud', TEMPORAL_TLS: 'maybe' }, message: 'TEMPORAL_TLS: must be one of 1, 0, true, false', code: 2 },
  { reason: 'a secret value, never repeated', extra: { BROKER_CODEC_KEY: 'hunter2-not-a-key' }, message: 'BROKER_CODEC_KEY: must be 32 bytes encoded as base64', code: 2 },
])('a wrong setting stops the process naming it: $reason', async ({ extra, message, code }) => {
  const r = await runToExit(extra);
  expect(r.code).toBe(code);
  expect(r.out).toContain(message);
  expect(r.out).not.toContain('hunter2');
  for (const line of r.out.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
});

test('a metrics port in use stops the process naming BROKER_METRICS_PORT', async () => {
  const r = await runToExit({ BROKER_METRICS_PORT: String(metricsPort) });
  expect(r.code).toBe(1);
  expect(r.out).toMatch(/BROKER_METRICS_PORT: cannot serve metrics on 127\.0\.0\.1:\d+: .*[Aa]ddress already in use/);
});

test("the containers' healthchecks: the API answers /healthz, the worker polls (read from /metrics)", async () => {
  const check = (role: string, extra: NodeJS.ProcessEnv = {}) =>
    run(process.execPath, [path.join(ROOT, 'lib', 'broker', 'healthcheck.js'), role], { env: env(extra) }).then(
      (r) => ({ code: 0, out: r.stdout.trim() }),
      (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout.trim() }),
    );
  expect(await check('api')).toEqual({ code: 0, out: 'api healthy' });
  expect(await check('worker')).toEqual({ code: 0, out: expect.stringMatching(/^worker polling \(workflow pollers [1-9]\d*, activity pollers [1-9]\d*\)$/) });
  const nothing = String(await freePort());
  expect(await check('worker', { BROKER_METRICS_PORT: nothing })).toEqual({ code: 1, out: 'unhealthy: fetch failed' });
  expect(await check('api', { BROKER_API_PORT: nothing })).toEqual({ code: 1, out: 'unhealthy: fetch failed' });
});
