/**
 * The real servers of a chaos run, each a separate process on loopback: PostgreSQL (the vault the
 * driver and the broker worker share), the Temporal dev server on a SQLite file (restartable on the
 * same port and file), moto behind the HTTP fault proxy, the Google Secret Manager emulator behind a
 * TCP fault proxy, sshd (stoppable), and the broker worker itself: `node lib/broker/main.js --role
 * worker`, SIGKILLed and started again by `BrokerWorkers`. The driver is the launch service: its
 * own Temporal client with the codec, and the vault opened on the same database with the same key.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from '@temporalio/client';
import type { SecretsManager } from '@aws-sdk/client-secrets-manager';
import type { IAM } from '@aws-sdk/client-iam';
import { connectTemporal } from '../../services/temporal';
import { PipelineRuns } from '../../services/pipeline-runs';
import { EncryptionCodec, createDataConverter, keyringFrom } from '../../codec/data-converter';
import { openVault } from '../../store/vault';
import type { VaultApi } from '../../store/types';
import type { Platform } from '../../domain/run';
import { startPostgres, type PostgresServer } from '../harness/postgres';
import { startTemporal, type TemporalServer } from '../harness/temporal';
import { adminIam, adminSecrets, setUpAccount, startMoto, type MotoServer } from '../harness/moto';
import { startFaultProxy, startTcpFaultProxy, type FaultProxy, type TcpFaultProxy } from '../harness/fault-proxy';
import { startGcpEmulator, type GcpEmulator } from '../harness/gcp-emulator';
import { startSshd, type Sshd } from '../harness/sshd';
import { restartablePort, spawnServer, type ServerProcess } from '../harness/process';
import { BROKER_MAIN, REPO_ROOT as ROOT } from '../harness/paths';
import { serviceAccountKeyText, TEST_PROJECT } from '../fixtures/gcp-service-account';

export const AWS_REGION = 'eu-central-1';
export const GCP_PARENT = `projects/${TEST_PROJECT}`;
export const TASK_QUEUE = 'secret-broker-chaos';

const now = () => Date.now();

export interface WorkerEvent {
  kind: 'spawned' | 'polling' | 'killed' | 'exited';
  at: number;
  n: number;
  detail?: string;
}

/**
 * The broker worker as a separate process, one at a time: `start` spawns one and waits until it
 * polls; `kill` SIGKILLs its whole process group. A worker that exits on its own (say, while the
 * dev server is down) is started again after two seconds, and its exit is recorded.
 */
export class BrokerWorkers {
  readonly events: WorkerEvent[] = [];
  private current?: { proc: ServerProcess; n: number; ready: boolean };
  private count = 0;
  private stopping = false;
  private restartTimer?: NodeJS.Timeout;

  constructor(
    private readonly env: () => NodeJS.ProcessEnv,
    private readonly logDir: string,
  ) {}

  get running(): boolean {
    return !!this.current;
  }

  get ready(): boolean {
    return !!this.current?.ready;
  }

  /** Spawn a worker and wait until it polls (bundling the workflows takes seconds). */
  async start(timeoutMs = 180_000): Promise<void> {
    if (this.current) return this.waitReady(timeoutMs);
    clearTimeout(this.restartTimer);
    const n = ++this.count;
    const proc = spawnServer(process.execPath, [BROKER_MAIN, '--role', 'worker'], { env: this.env() });
    const entry = { proc, n, ready: false };
    this.current = entry;
    this.events.push({ kind: 'spawned', at: now(), n });
    proc.child.once('exit', (code, signal) => {
      this.save(entry);
      this.events.push({ kind: 'exited', at: now(), n, detail: signal ?? `code ${code}` });
      if (this.current === entry) {
        this.current = undefined;
        // Not killed by us and not stopping: it stopped on its own; bring one back.
        if (!this.stopping && signal !== 'SIGKILL') this.restartTimer = setTimeout(() => void this.start().catch(() => undefined), 2_000);
      }
    });
    return this.waitReady(timeoutMs);
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = now() + timeoutMs;
    for (;;) {
      const c = this.current;
      if (!c) {
        // It exited while starting (the dev server was down): start() will be called again.
        if (this.stopping) throw new Error('broker workers are stopping');
        await sleep(200);
        if (now() > deadline) throw new Error('no broker worker came up');
        continue;
      }
      if (c.ready) return;
      if (/worker polling/.test(c.proc.output())) {
        c.ready = true;
        this.events.push({ kind: 'polling', at: now(), n: c.n });
        return;
      }
      if (now() > deadline) throw new Error(`broker worker ${c.n} did not poll within ${timeoutMs} ms:\n${c.proc.output().slice(-3000)}`);
      await sleep(100);
    }
  }

  /** SIGKILL the running worker's process group; resolves once it is gone. */
  async kill(): Promise<number> {
    const c = this.current;
    if (!c) throw new Error('no broker worker to kill');
    const at = now();
    this.events.push({ kind: 'killed', at, n: c.n });
    this.current = undefined;
    await c.proc.stop('SIGKILL');
    return at;
  }

  /** Stop the running worker gracefully (SIGTERM) and start no other. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const c = this.current;
    this.current = undefined;
    await c?.proc.stop('SIGTERM');
  }

  private save(entry: { proc: ServerProcess; n: number }): void {
    fs.writeFileSync(path.join(this.logDir, `worker-${String(entry.n).padStart(2, '0')}.log`), entry.proc.output(), { mode: 0o600 });
  }

  logFiles(): string[] {
    return fs.readdirSync(this.logDir).filter((f) => f.startsWith('worker-')).map((f) => path.join(this.logDir, f));
  }
}

export interface ComputeEnvs {
  /** One environment per platform in each workspace. */
  byWorkspace: Record<string, Record<Platform, string>>;
  /** An aws environment whose execution role cannot read secrets: its launches fail verification. */
  awsNoRead: { workspaceId: string; id: string };
}

export interface World {
  dir: string;
  logDir: string;
  localWorkDir: string;
  hpcWorkDir: string;
  pg: PostgresServer;
  temporal: TemporalServer;
  temporalDb: string;
  temporalPort: number;
  /** Outputs of dev server instances that have stopped. */
  temporalOutputs: string[];
  moto: MotoServer;
  awsProxy: FaultProxy;
  gcp: GcpEmulator;
  gcpProxy: TcpFaultProxy;
  sshd: Sshd;
  vault: VaultApi;
  client: Client;
  runs: PipelineRuns;
  codec: EncryptionCodec;
  workers: BrokerWorkers;
  /** Admin clients straight to moto (not through the proxy), for checks. */
  sm: SecretsManager;
  iam: IAM;
  /** Every credential secret the driver stored (searched for like secret values). */
  credentialSecrets: string[];
  restartTemporal(pauseMs: number): Promise<{ downAt: number; upAt: number }>;
  close(keep: boolean): Promise<void>;
}

export interface WorldOptions {
  seed: number;
  reapEvery: string;
  workspaces: string[];
}

/** Start every server, the vault, the driver's client and the first broker worker. */
export async function startWorld(opts: WorldOptions): Promise<World & { envs: ComputeEnvs; workspaceIds: Record<string, string> }> {
  for (const f of [BROKER_MAIN, path.join(ROOT, 'lib', 'workflow-bundle.js')]) {
    if (!fs.existsSync(f)) throw new Error(`${f} is missing: build first (make build; make test and make chaos do)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-chaos-'));
  fs.chmodSync(dir, 0o755); // the hpc work dir's parent is elsewhere; this one holds the broker's files
  const logDir = path.join(dir, 'logs');
  const localWorkDir = path.join(dir, 'local-ce');
  const workerData = path.join(dir, 'worker-data');
  for (const d of [logDir, localWorkDir, workerData]) fs.mkdirSync(d, { mode: 0o700 });
  const cleanups: (() => Promise<void>)[] = [];
  try {
    const [pg, moto, gcp, sshd] = await Promise.all([startPostgres(), startMoto(), startGcpEmulator(), startSshd()]);
    cleanups.push(() => pg.stop(), () => moto.stop(), () => gcp.stop(), () => sshd.close());
    const temporalDb = path.join(dir, 'temporal.db');
    // Restarted on the same port below: one outside the ephemeral range, which nothing takes meanwhile.
    const temporalPort = await restartablePort();
    let temporal = await startTemporal({ dbFile: temporalDb, port: temporalPort });
    const temporalOutputs: string[] = [];
    cleanups.push(async () => {
      await temporal.stop();
      temporalOutputs.push(temporal.process.output());
    });

    // Every AWS call the broker makes (Secrets Manager, IAM, STS) is eligible for faults.
    const awsProxy = await startFaultProxy({ target: moto.endpoint, share: 0, seed: opts.seed, eligible: () => true });
    const gcpProxy = await startTcpFaultProxy({ target: { host: '127.0.0.1', port: gcp.grpcPort }, seed: opts.seed + 1 });
    cleanups.push(() => awsProxy.stop(), () => gcpProxy.stop());

    const masterKey = randomBytes(32);
    const codecKey = randomBytes(32);
    const vault = await openVault({ dataDir: path.join(dir, 'driver-vault'), databaseUrl: pg.url, masterKey });
    cleanups.push(() => vault.close());
    const keyring = keyringFrom(codecKey);
    const connection = await connectTemporal({ address: temporal.address });
    cleanups.push(() => connection.close());
    const client = new Client({ connection, namespace: temporal.namespace, dataConverter: createDataConverter(keyring) });
    const runs = new PipelineRuns(client, TASK_QUEUE);

    // The vault's contents: workspaces, credentials and compute environments on every platform.
    const sm = adminSecrets(moto.endpoint, AWS_REGION);
    const iam = adminIam(moto.endpoint);
    const hpcWorkDir = sshd.makeWorkDir();
    const credentialSecrets: string[] = [sshd.keys.ed25519.passphrase!];
    const workspaceIds: Record<string, string> = {};
    const byWorkspace: ComputeEnvs['byWorkspace'] = {};
    let awsNoRead: ComputeEnvs['awsNoRead'] | undefined;
    const good = await setUpAccount(iam, AWS_REGION);
    const noRead = await setUpAccount(iam, AWS_REGION, { executionRead: true });
    credentialSecrets.push(good.broker.secretAccessKey, noRead.broker.secretAccessKey);
    for (const name of opts.workspaces) {
      const ws = await vault.createWorkspace(name);
      workspaceIds[name] = ws.id;
      const aws = await vault.createCredential({ workspaceId: ws.id, name: 'aws', kind: 'aws', fields: { accessKeyId: good.broker.accessKeyId, secretAccessKey: good.broker.secretAccessKey } });
      const google = await vault.createCredential({ workspaceId: ws.id, name: 'google', kind: 'google', fields: { serviceAccountKey: serviceAccountKeyText({ name: 'broker' }) } });
      const ssh = await vault.createCredential({
        workspaceId: ws.id,
        name: 'cluster',
        kind: 'ssh',
        fields: { privateKey: sshd.keys.ed25519.privateKey, passphrase: sshd.keys.ed25519.passphrase },
      });
      const mk = async (platform: Platform, config: Record<string, unknown>, credentialId?: string) =>
        (await vault.createComputeEnv({ workspaceId: ws.id, name: `${platform}-ce`, platform, config, ...(credentialId ? { credentialId } : {}) })).id;
      byWorkspace[ws.id] = {
        local: await mk('local', { workDir: localWorkDir }),
        hpc: await mk('hpc', { host: sshd.host, port: sshd.port, user: sshd.user, hostKeyFingerprint: sshd.hostKeyFingerprint, workDir: hpcWorkDir }, ssh.id),
        aws: await mk('aws', { region: AWS_REGION, headJobRoleArn: good.headJobRoleArn, executionRoleArn: good.executionRoleArn }, aws.id),
        gcp: await mk('gcp', { location: 'europe-west4' }, google.id),
      };
      if (!awsNoRead) {
        const cred = await vault.createCredential({ workspaceId: ws.id, name: 'aws-noread', kind: 'aws', fields: { accessKeyId: noRead.broker.accessKeyId, secretAccessKey: noRead.broker.secretAccessKey } });
        const id = (await vault.createComputeEnv({ workspaceId: ws.id, name: 'aws-noread', platform: 'aws', config: { region: AWS_REGION, headJobRoleArn: noRead.headJobRoleArn, executionRoleArn: noRead.executionRoleArn }, credentialId: cred.id })).id;
        awsNoRead = { workspaceId: ws.id, id };
      }
    }

    const workerEnv = (): NodeJS.ProcessEnv => ({
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      // No configuration file of the user's, no metrics port (suites run beside it).
      SECRET_BROKER_CONFIG: path.join(workerData, 'no-config.json'),
      BROKER_METRICS_PORT: '0',
      TEMPORAL_ADDRESS: temporal.address,
      DATABASE_URL: pg.url,
      BROKER_MASTER_KEY: masterKey.toString('base64'),
      BROKER_CODEC_KEY: codecKey.toString('base64'),
      BROKER_TASK_QUEUE: TASK_QUEUE,
      BROKER_DATA_DIR: workerData,
      BROKER_LOCAL_WORKDIR: localWorkDir,
      BROKER_AWS_ENDPOINT: awsProxy.endpoint,
      BROKER_GCP_ENDPOINT: `127.0.0.1:${gcpProxy.port}`,
      BROKER_GCP_INSECURE: '1',
      // The sweep is paused by the driver and run once at the end: what it finds is what the runs and
      // the reaper left behind. The reaper runs often, so terminated runs are cleaned up quickly.
      BROKER_SWEEP_EVERY: '1h',
      BROKER_REAP_EVERY: opts.reapEvery,
    });
    const workers = new BrokerWorkers(workerEnv, logDir);
    cleanups.push(() => workers.stop());
    await workers.start();

    const world = {
      dir,
      logDir,
      localWorkDir,
      hpcWorkDir,
      pg,
      get temporal() {
        return temporal;
      },
      temporalDb,
      temporalPort,
      temporalOutputs,
      moto,
      awsProxy,
      gcp,
      gcpProxy,
      sshd,
      vault,
      client,
      runs,
      codec: new EncryptionCodec(keyring),
      workers,
      sm,
      iam,
      credentialSecrets,
      envs: { byWorkspace, awsNoRead: awsNoRead! },
      workspaceIds,
      async restartTemporal(pauseMs: number) {
        const downAt = now();
        await temporal.process.stop('SIGKILL');
        temporalOutputs.push(temporal.process.output());
        await sleep(pauseMs);
        temporal = await startTemporal({ dbFile: temporalDb, port: temporalPort });
        return { downAt, upAt: now() };
      },
      async close(keep: boolean) {
        for (const c of cleanups.reverse()) await c().catch(() => undefined);
        sm.destroy();
        iam.destroy();
        if (!keep) fs.rmSync(dir, { recursive: true, force: true });
      },
    };
    return world as unknown as World & { envs: ComputeEnvs; workspaceIds: Record<string, string> };
  } catch (err) {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (so a bound left unused holds nothing open). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}
