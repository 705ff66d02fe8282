/** Build the broker's Temporal worker over a vault and the providers. */
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { DataConverter } from '@temporalio/common';
import { createActivities, type RotationDeps } from '../activities';
import { createTarget } from '../targets';
import type { TargetDeps } from '../targets/types';
import type { VaultApi } from '../store/types';
import { TASK_QUEUE } from '../domain/run';
import { runLivenessFrom, runsReaderFrom } from './runs-reader';

export interface BrokerWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue?: string;
  vault: VaultApi;
  /** A Temporal client: the sweep asks it whether a run's workflow still runs. */
  client: Client;
  targetDeps: Omit<TargetDeps, 'readCredential'>;
  /** Endpoint and CA overrides for credential rotations (unset: the real clouds). */
  rotators?: RotationDeps['rotators'];
  dataConverter: DataConverter;
  /** A prebuilt workflow bundle (tests bundle once); otherwise workflows are bundled at start. */
  workflowBundle?: { codePath: string } | { code: string };
  /** Extra worker options (limits, identity). */
  tuning?: Partial<Pick<WorkerOptions, 'maxConcurrentActivityTaskExecutions' | 'maxActivitiesPerSecond' | 'maxTaskQueueActivitiesPerSecond' | 'identity' | 'interceptors'>>;
}

export const WORKFLOWS_PATH = require.resolve('../workflows');

export async function createBrokerWorker(opts: BrokerWorkerOptions): Promise<Worker> {
  const { vault } = opts;
  const deps: TargetDeps = { ...opts.targetDeps, ...(vault.rateSlots ? { rateSlots: vault.rateSlots } : {}), readCredential: (id) => vault.readCredential(id) };
  const activities = createActivities({ vault, target: (ce) => createTarget(ce, deps), runLiveness: runLivenessFrom(opts.client), runsReader: runsReaderFrom(opts.client), rotators: opts.rotators });
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue ?? TASK_QUEUE,
    activities,
    dataConverter: opts.dataConverter,
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    ...opts.tuning,
  });
}
