/**
 * A whole broker for tests: a real Temporal dev server, a real vault on PGlite in a temp dir, the
 * real worker in this process (stoppable and restartable), and the real client library.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type LogEntry, type Worker, type WorkerOptions } from '@temporalio/worker';
import type { RotationDeps } from '../../activities';
import { PipelineRuns } from '../../services/pipeline-runs';
import { EncryptionCodec, createDataConverter, keyringFrom } from '../../codec/data-converter';
import type { TargetDeps } from '../../targets/types';
import { openVault } from '../../store/vault';
import type { VaultApi } from '../../store/types';
import { createBrokerWorker } from '../../worker/worker';
import { startTemporal, type TemporalServer } from './temporal';

/** Everything the SDK and the workflows logged in this process, as text. */
const logLines: string[] = [];
let runtimeInstalled = false;
function installCapturingRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const logger = new DefaultLogger('DEBUG', (entry: LogEntry) => {
    logLines.push(`${entry.level} ${entry.message} ${JSON.stringify(entry.meta ?? {})}`);
  });
  try {
    Runtime.install({ logger, telemetryOptions: { logging: { forward: {}, filter: 'INFO' } } });
  } catch {
    /* another suite in this process installed one first */
  }
}

export interface TestBroker {
  temporal: TemporalServer;
  vault: VaultApi;
  runs: PipelineRuns;
  client: Client;
  /** The payload codec the worker and client share, to decode history in assertions. */
  codec: EncryptionCodec;
  taskQueue: string;
  dataDir: string;
  localWorkDir: string;
  startWorker(): Promise<void>;
  stopWorker(): Promise<void>;
  workerLogs(): string;
  /** Create a workspace and a user with unique names. */
  seed(): Promise<{ workspaceId: string; userId: string; workspaceName: string; userName: string }>;
  stop(): Promise<void>;
}

export interface TestBrokerOptions {
  localWorkDir?: string;
  endpoints?: TargetDeps['endpoints'];
  /** Reuse a running server instead of starting one. */
  temporal?: TemporalServer;
  /** Endpoint and CA overrides for credential rotations (the Azure fake, moto ...). */
  rotators?: RotationDeps['rotators'];
  /** Worker interceptors (fault injection after an activity's effect, in rotation tests). */
  interceptors?: WorkerOptions['interceptors'];
  /**
   * Open the vault in key file mode (`<dataDir>/vault/master.key`, created 0600 on first open) instead
   * of with an explicit key, so it can rotate its own master key (vault key rotation tests).
   */
  vaultKeyFile?: boolean;
}

let seq = 0;

export async function startTestBroker(opts: TestBrokerOptions = {}): Promise<TestBroker> {
  installCapturingRuntime();
  const ownTemporal = !opts.temporal;
  const temporal = opts.temporal ?? (await startTemporal());
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-broker-'));
  const localWorkDir = opts.localWorkDir ?? path.join(dataDir, 'local-ce');
  const vault = await openVault(
    opts.vaultKeyFile ? { dataDir: path.join(dataDir, 'vault'), env: {} } : { dataDir: path.join(dataDir, 'vault'), masterKey: randomBytes(32) },
  );
  const keyring = keyringFrom(randomBytes(32));
  const dataConverter = createDataConverter(keyring);
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection, namespace: temporal.namespace, dataConverter });
  const taskQueue = `secret-broker-test-${process.pid}-${++seq}-${randomBytes(3).toString('hex')}`;
  const runs = new PipelineRuns(client, taskQueue);
  const bundle = process.env.BROKER_TEST_WORKFLOW_BUNDLE;

  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  let nativeConnection: NativeConnection | undefined;

  const broker: TestBroker = {
    temporal,
    vault,
    runs,
    client,
    codec: new EncryptionCodec(keyring),
    taskQueue,
    dataDir,
    localWorkDir,
    async startWorker() {
      if (worker) return;
      nativeConnection = await NativeConnection.connect({ address: temporal.address });
      worker = await createBrokerWorker({
        connection: nativeConnection,
        namespace: temporal.namespace,
        taskQueue,
        vault,
        client,
        targetDeps: { localWorkDir, endpoints: opts.endpoints },
        rotators: opts.rotators,
        dataConverter,
        ...(opts.interceptors ? { tuning: { interceptors: opts.interceptors } } : {}),
        ...(bundle ? { workflowBundle: { codePath: bundle } } : {}),
      });
      running = worker.run();
    },
    async stopWorker() {
      if (!worker) return;
      worker.shutdown();
      await running;
      await nativeConnection?.close();
      worker = undefined;
      running = undefined;
      nativeConnection = undefined;
    },
    workerLogs: () => logLines.join('\n'),
    async seed() {
      const tag = `${process.pid}-${++seq}-${randomBytes(2).toString('hex')}`;
      const ws = await vault.createWorkspace(`ws-${tag}`);
      const user = await vault.createUser(`user-${tag}`);
      return { workspaceId: ws.id, userId: user.id, workspaceName: ws.name, userName: user.name };
    },
    async stop() {
      await broker.stopWorker();
      await connection.close();
      await vault.close();
      if (ownTemporal) await temporal.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  await broker.startWorker();
  return broker;
}

/** A run id nobody else uses. */
export function uniqueRunId(prefix = 'run'): string {
  return `${prefix}${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
}

/**
 * Poll until `fn` returns true, or fail after `timeoutMs` with `what`. An error from `fn` (say, a
 * query before the workflow exists) counts as "not yet"; the last one is reported on timeout.
 */
export async function eventually(fn: () => Promise<boolean> | boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await fn()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const last = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}${last}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
