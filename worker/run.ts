/**
 * The broker process's worker role: connect, bundle the workflows, build the worker over the vault
 * and the real targets and rotators, keep the sweep schedule, and run until stopped.
 */
import type { Client } from '@temporalio/client';
import type { DataConverter, Duration } from '@temporalio/common';
import { NativeConnection, bundleWorkflowCode } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../codec/data-converter';
import { configureSsh } from '../remote/ssh/session';
import type { RotatorDeps } from '../rotators';
import type { VaultApi } from '../store/types';
import type { TargetDeps } from '../targets/types';
import { ensureReaperSchedule, ensureSweepSchedule } from './schedules';
import { WORKFLOWS_PATH, createBrokerWorker } from './worker';

export interface WorkerRoleConfig {
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  localWorkDir: string;
  endpoints: NonNullable<TargetDeps['endpoints']>;
  rotators: Omit<RotatorDeps, 'vault'>;
  hpcMaxConnections: number;
  /** How often the orphan sweep runs (a Temporal duration: "1h", "30m" ...). */
  sweepEvery: string;
  /** How often the reaper looks for terminated runs (a Temporal duration; default 1m). */
  reapEvery?: string;
}

export interface WorkerRoleOptions {
  config: WorkerRoleConfig;
  vault: VaultApi;
  client: Client;
  dataConverter: DataConverter;
  log(message: string, fields?: Record<string, unknown>): void;
  /** The worker stopped on its own (lost server, fatal error). */
  onFailure(err: Error): void;
}

export async function startWorkerRole(opts: WorkerRoleOptions): Promise<{ stop(): Promise<void> }> {
  const { config, log } = opts;
  configureSsh({ maxConnections: config.hpcMaxConnections });
  const nativeConnection = await NativeConnection.connect({ address: config.temporalAddress });
  // Bundle here with a quiet logger: webpack's module list is noise on a console.
  const quiet = { trace() {}, debug() {}, info() {}, log() {}, warn: (m: string) => log(m), error: (m: string) => log(m) };
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, failureConverterPath: FAILURE_CONVERTER_PATH, logger: quiet });
  const worker = await createBrokerWorker({
    workflowBundle: { code },
    client: opts.client,
    connection: nativeConnection,
    namespace: config.namespace,
    taskQueue: config.taskQueue,
    vault: opts.vault,
    targetDeps: { localWorkDir: config.localWorkDir, endpoints: config.endpoints },
    rotators: config.rotators,
    dataConverter: opts.dataConverter,
  });
  const running = worker.run();
  running.catch((err: Error) => {
    log('worker stopped', { error: err.message });
    opts.onFailure(err);
  });
  const sweep = await ensureSweepSchedule(opts.client, config.taskQueue, config.sweepEvery as Duration);
  log('sweep schedule', { scheduleId: 'secret-broker-sweep', every: config.sweepEvery, state: sweep });
  const reapEvery = config.reapEvery ?? '1m';
  const reaper = await ensureReaperSchedule(opts.client, config.taskQueue, reapEvery as Duration);
  log('reaper schedule', { scheduleId: 'secret-broker-reaper', every: reapEvery, state: reaper });
  log('worker polling', { taskQueue: config.taskQueue, namespace: config.namespace, temporal: config.temporalAddress });
  return {
    async stop() {
      worker.shutdown();
      await running.catch(() => undefined);
      await nativeConnection.close();
    },
  };
}
