/**
 * What the bench runs against, all on loopback: the Temporal dev server exactly as the test harness
 * starts it (test/harness/temporal.ts, so a server option added there applies here too), PostgreSQL
 * for the vault (the broker's worker process and the bench both open it), sshd, moto and the Google
 * Secret Manager emulator (strict IAM, as test/integration/gcp.test.ts sets it up); one workspace, one
 * user, 50 secrets and one compute environment per platform; the broker's worker as its own process
 * (`node lib/broker/main.js --role worker`), the trivial workflow's worker as another; and the
 * clients: the launch service's library over the broker's codec, a plain one for the trivial workflow.
 */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { IAM } from '@aws-sdk/client-iam';
import { createDataConverter, keyringFrom } from '../codec/data-converter';
import { PipelineRuns } from '../services/pipeline-runs';
import { openVault } from '../store/vault';
import type { ComputeEnv, VaultApi } from '../store/types';
import { createTarget } from '../targets';
import type { SecretTarget, TargetDeps } from '../targets/types';
import type { Platform } from '../domain/run';
import { startTemporal, type TemporalServer } from '../test/harness/temporal';
import { postgresBinDir, startPostgres, type PostgresServer } from '../test/harness/postgres';
import { startSshd, type Sshd } from '../test/harness/sshd';
import { adminIam, setUpAccount, startMoto, type MotoServer } from '../test/harness/moto';
import { FIXTURES, startGcpEmulator, type GcpEmulator } from '../test/harness/gcp-emulator';
import { serviceAccountEmail, serviceAccountKeyText } from '../test/fixtures/gcp-service-account';
import { spawnServer, type ServerProcess } from '../test/harness/process';
import { tool } from '../test/harness/tools';

export const ROOT = path.join(__dirname, '..');
const BROKER_MAIN = path.join(ROOT, 'lib', 'broker', 'main.js');
const TRIVIAL_WORKER = path.join(ROOT, 'lib', 'bench', 'trivial-worker.js');
export const TARGETS: Platform[] = ['local', 'hpc', 'aws', 'gcp'];
const AWS_REGION = 'eu-central-1';
/** The most secrets a case asks for; S0_X ... S49_X. */
export const MAX_SECRETS = 50;

export const secretNames = (n: number) => Array.from({ length: n }, (_, i) => `S${i}_X`);
export const secretValue = (i: number) => `bench-value-${i}-${'v'.repeat(40)}`;

export interface BenchEnv {
  temporal: TemporalServer;
  postgres: PostgresServer;
  sshd: Sshd;
  moto: MotoServer;
  gcp: GcpEmulator;
  vault: VaultApi;
  workspaceId: string;
  userId: string;
  labels: { workspace: string; user: string };
  ces: Record<Platform, ComputeEnv>;
  /** The broker's worker process and the trivial workflow's. */
  brokerWorker: ServerProcess;
  trivialWorker: ServerProcess;
  taskQueue: string;
  trivialTaskQueue: string;
  runs: PipelineRuns;
  client: Client;
  trivialClient: Client;
  /** A target per platform, built once with its credential read once: the provider floor's. */
  providerTarget(platform: Platform): Promise<SecretTarget>;
  /** Versions of what runs, for the header. */
  versions: Record<string, string>;
  stop(): Promise<void>;
}

function versionOf(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] || 'unknown';
}

/** Wait until a process prints `pattern`; fail with its output if it exits or takes too long. */
async function printed(proc: ServerProcess, pattern: RegExp, what: string, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(proc.output())) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) throw new Error(`${what} exited: ${proc.output().slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`${what} did not start within ${timeoutMs / 1000} s: ${proc.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startBenchEnv(log: (s: string) => void): Promise<BenchEnv> {
  for (const f of [BROKER_MAIN, path.join(ROOT, 'lib', 'workflow-bundle.js'), TRIVIAL_WORKER]) {
    if (!fs.existsSync(f)) throw new Error(`${f} is missing: scripts/bench.sh builds it (npx tsc -p tsconfig.bench.json, node lib/worker/bundle.js)`);
  }
  const stops: (() => Promise<unknown>)[] = [];
  const stopAll = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    log('starting peers: Temporal dev server, PostgreSQL, sshd, moto, Google Secret Manager emulator');
    const [temporal, postgres, sshd, moto, gcp] = await Promise.all([
      startTemporal(),
      startPostgres({ database: 'vault' }),
      startSshd(),
      startMoto(),
      startGcpEmulator({ strictIamPolicy: path.join(FIXTURES, 'gcp-iam-policy.yaml') }),
    ]);
    stops.push(() => temporal.stop(), () => postgres.stop(), () => sshd.close(), () => moto.stop(), () => gcp.stop());

    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bench-'));
    stops.push(async () => fs.rmSync(dataDir, { recursive: true, force: true }));
    const localWorkDir = path.join(dataDir, 'local-ce');
    const masterKey = randomBytes(32);
    const codecKey = randomBytes(32);

    // The vault: seeded here, read by the worker process too.
    const vault = await openVault({ dataDir: path.join(dataDir, 'bench-vault'), databaseUrl: postgres.url, masterKey });
    stops.push(() => vault.close());
    const ws = await vault.createWorkspace('bench');
    const user = await vault.createUser('bench-user');
    for (let i = 0; i < MAX_SECRETS; i++) await vault.setSecret({ scope: 'workspace', ownerId: ws.id, name: `S${i}_X`, value: secretValue(i) });

    const local = await vault.createComputeEnv({ workspaceId: ws.id, name: 'bench-local', platform: 'local', config: {} });

    const sshCred = await vault.createCredential({
      workspaceId: ws.id,
      name: 'bench-ssh',
      kind: 'ssh',
      fields: { privateKey: sshd.keys.ed25519.privateKey, passphrase: sshd.keys.ed25519.passphrase },
    });
    const hpcConfig = { host: sshd.host, port: sshd.port, user: sshd.user, hostKeyFingerprint: sshd.hostKeyFingerprint, workDir: sshd.makeWorkDir() };
    const hpc = await vault.createComputeEnv({ workspaceId: ws.id, name: 'bench-hpc', platform: 'hpc', config: hpcConfig, credentialId: sshCred.id });

    const iam: IAM = adminIam(moto.endpoint);
    const account = await setUpAccount(iam, AWS_REGION);
    iam.destroy();
    const awsCred = await vault.createCredential({
      workspaceId: ws.id,
      name: 'bench-aws',
      kind: 'aws',
      fields: { accessKeyId: account.broker.accessKeyId, secretAccessKey: account.broker.secretAccessKey },
    });
    const aws = await vault.createComputeEnv({
      workspaceId: ws.id,
      name: 'bench-aws',
      platform: 'aws',
      config: { region: AWS_REGION, headJobRoleArn: account.headJobRoleArn, executionRoleArn: account.executionRoleArn },
      credentialId: awsCred.id,
    });

    const gcpCred = await vault.createCredential({ workspaceId: ws.id, name: 'bench-google', kind: 'google', fields: { serviceAccountKey: serviceAccountKeyText({ name: 'broker' }) } });
    const gcpCe = await vault.createComputeEnv({
      workspaceId: ws.id,
      name: 'bench-gcp',
      platform: 'gcp',
      config: { location: 'europe-west4', batchServiceAccount: serviceAccountEmail('batch') },
      credentialId: gcpCred.id,
    });

    // The broker's worker: its own process, configured by environment as in production.
    const taskQueue = `secret-broker-bench-${randomBytes(3).toString('hex')}`;
    const trivialTaskQueue = `trivial-bench-${randomBytes(3).toString('hex')}`;
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.NODE_OPTIONS; // jest's --experimental-vm-modules is the bench's, not the broker's
    const brokerWorker = spawnServer(process.execPath, [BROKER_MAIN, '--role', 'worker'], {
      cwd: dataDir,
      env: {
        ...env,
        TEMPORAL_ADDRESS: temporal.address,
        TEMPORAL_NAMESPACE: temporal.namespace,
        BROKER_DATA_DIR: path.join(dataDir, 'worker'),
        DATABASE_URL: postgres.url,
        BROKER_MASTER_KEY: masterKey.toString('base64'),
        BROKER_CODEC_KEY: codecKey.toString('base64'),
        BROKER_TASK_QUEUE: taskQueue,
        BROKER_LOCAL_WORKDIR: localWorkDir,
        BROKER_AWS_ENDPOINT: moto.endpoint,
        BROKER_GCP_ENDPOINT: `${gcp.endpoint.apiEndpoint}:${gcp.endpoint.port}`,
        BROKER_GCP_INSECURE: '1',
        // No /metrics: the default port (9464) may be a running broker's.
        BROKER_METRICS_PORT: '0',
      },
    });
    stops.push(() => brokerWorker.stop());
    const trivialWorker = spawnServer(process.execPath, [TRIVIAL_WORKER], {
      cwd: dataDir,
      env: { ...env, TEMPORAL_ADDRESS: temporal.address, BENCH_TRIVIAL_TASK_QUEUE: trivialTaskQueue },
    });
    stops.push(() => trivialWorker.stop());
    log('starting the broker worker process and the trivial workflow worker process');
    await Promise.all([printed(brokerWorker, /worker polling/, 'the broker worker process'), printed(trivialWorker, /trivial worker polling/, 'the trivial worker process')]);

    const connection = await Connection.connect({ address: temporal.address });
    stops.push(() => connection.close());
    const client = new Client({ connection, namespace: temporal.namespace, dataConverter: createDataConverter(keyringFrom(codecKey)) });
    const trivialClient = new Client({ connection, namespace: temporal.namespace });
    const runs = new PipelineRuns(client, taskQueue);

    const ces: Record<Platform, ComputeEnv> = { local, hpc, aws, gcp: gcpCe };
    // The provider floor's targets: the real target code, with credentials read once (no vault in the loop).
    const credentials = new Map<string, Awaited<ReturnType<VaultApi['readCredential']>>>();
    for (const c of [sshCred, awsCred, gcpCred]) credentials.set(c.id, await vault.readCredential(c.id));
    const deps: TargetDeps = {
      localWorkDir: path.join(dataDir, 'floor-local-ce'),
      endpoints: { aws: moto.endpoint, gcp: gcp.endpoint },
      readCredential: async (id) => credentials.get(id)!,
    };
    const targets = new Map<Platform, Promise<SecretTarget>>();
    stops.push(async () => {
      for (const t of targets.values()) await (await t).close();
    });

    const versions = {
      node: process.version,
      temporal: versionOf(tool('temporal'), ['--version']),
      moto: versionOf(tool('python3'), ['-c', 'import moto; print(moto.__version__)']),
      postgres: versionOf(path.join(postgresBinDir(), 'postgres'), ['--version']),
      openssh: versionOf('ssh', ['-V']),
    };
    return {
      temporal,
      postgres,
      sshd,
      moto,
      gcp,
      vault,
      workspaceId: ws.id,
      userId: user.id,
      labels: { workspace: ws.name, user: user.name },
      ces,
      brokerWorker,
      trivialWorker,
      taskQueue,
      trivialTaskQueue,
      runs,
      client,
      trivialClient,
      providerTarget(platform) {
        let t = targets.get(platform);
        if (!t) {
          t = createTarget(ces[platform], deps);
          targets.set(platform, t);
        }
        return t;
      },
      versions,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** VmRSS and VmHWM of a process, in MB (from /proc/<pid>/status). */
export function memoryOf(pid: number): { rssMb: number; hwmMb: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}
