/**
 * The broker process itself (`node lib/broker/main.js`, what `make start` runs), driven through the
 * CLI: a process killed with SIGKILL between push and delete still deletes once it is back, and
 * nothing it printed, nor its database files, holds a secret value.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { PipelineRuns } from '../../services/pipeline-runs';
import { createDataConverter, loadCodecKeyring } from '../../codec/data-converter';
import { eventually } from '../harness/broker';
import { freePort, spawnServer, waitForPort, type ServerProcess } from '../harness/process';
import { startTemporal, type TemporalServer } from '../harness/temporal';
import { OWN_BROKER_CLI_ENV } from '../harness/cli';
import { BROKER_MAIN as MAIN, CLI_BIN as CLI } from '../harness/paths';

const run = promisify(execFile);

let temporal: TemporalServer;
let dataDir: string;
let apiPort: number;
let broker: ServerProcess | undefined;
let printed = '';

function env(): NodeJS.ProcessEnv {
  // Isolated from the developer's own CLI settings (a token in the environment, a config file).
  return { ...process.env, ...OWN_BROKER_CLI_ENV, TEMPORAL_ADDRESS: temporal.address, BROKER_DATA_DIR: dataDir, BROKER_API_PORT: String(apiPort), BROKER_METRICS_PORT: '0', BROKER_API_URL: `http://127.0.0.1:${apiPort}` };
}

async function startBroker(): Promise<void> {
  broker = spawnServer(process.execPath, [MAIN, '--role', 'all'], { env: env() });
  await waitForPort(apiPort, 90_000);
}

async function cli(args: string[], stdin?: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
  const p = run(CLI, args, { env: { ...env(), ...extraEnv } });
  if (stdin !== undefined) {
    p.child.stdin?.end(stdin);
  }
  const { stdout, stderr } = await p;
  printed += stdout + stderr;
  return stdout;
}

beforeAll(async () => {
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npx tsc -p tsconfig.build.json; make test does)`);
  temporal = await startTemporal();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-process-'));
  apiPort = await freePort();
  await startBroker();
});

afterAll(async () => {
  await broker?.stop();
  await temporal?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

test('a broker killed between push and delete deletes once restarted; no value in its output or database', async () => {
  const value = `process-secret-${randomBytes(8).toString('hex')}`;
  const runId = `proc${randomBytes(4).toString('hex')}`;
  await cli(['workspaces', 'create', 'lab']);
  await cli(['users', 'create', 'bob']);
  await cli(['secrets', 'set', 'DB_PASSWORD', '--workspace', 'lab'], value + '\n');
  await cli(['compute-envs', 'create', 'here', '--workspace', 'lab', '--platform', 'local']);
  // The CLI above acted as the broker's first administrator (the token the broker wrote to its data
  // directory, 0600); bob launches his own run with a token of his.
  expect(fs.statSync(path.join(dataDir, 'admin.token')).mode & 0o777).toBe(0o600);
  await cli(['members', 'set', 'bob', '--workspace', 'lab', '--role', 'launch']);
  const bob = { BROKER_TOKEN: (await cli(['tokens', 'create', '--user', 'bob'])).trim() };
  const exported = await cli(['runs', 'launch', '--workspace', 'lab', '--user', 'bob', '--compute-env', 'here', '--secret', 'DB_PASSWORD', '--run-id', runId, '--env'], undefined, bob);
  const file = /NXF_SECRETS_FILE=(\S+)/.exec(exported)![1];
  expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual([{ name: 'DB_PASSWORD', value }]);

  // Killed outright: no shutdown, no cleanup.
  broker!.child.kill('SIGKILL');
  await new Promise((r) => broker!.child.once('exit', r));
  printed += broker!.output();

  // The launch service reports the end while no broker runs (straight to Temporal, with the broker's codec key).
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection, dataConverter: createDataConverter(loadCodecKeyring({ dataDir, env: {} })) });
  await new PipelineRuns(client).complete(runId, 'succeeded');
  await new Promise((r) => setTimeout(r, 1_000));
  expect(fs.existsSync(file)).toBe(true);

  await startBroker();
  await eventually(() => !fs.existsSync(path.dirname(file)), 'the run directory to be deleted by the restarted broker');
  const final = await new PipelineRuns(client).waitClosed(runId);
  expect(final).toMatchObject({ phase: 'deleted', outcome: 'succeeded' });
  await connection.close();
  await broker!.stop();
  printed += broker!.output() + (await cli(['--version']).catch(() => ''));

  // Nothing the process printed, and no byte of its data directory, holds the value; controls show the searches work.
  expect(printed).not.toContain(value);
  expect(printed).toContain(runId);
  const bytes: Buffer[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) bytes.push(fs.readFileSync(p));
    }
  };
  walk(dataDir);
  const all = Buffer.concat(bytes);
  expect(all.includes(Buffer.from(value))).toBe(false);
  expect(all.includes(Buffer.from('DB_PASSWORD'))).toBe(true);
});
