/**
 * The broker process's worker role: connect, load the workflow bundle `make build` made, build the
 * worker over the vault and the real targets and rotators (as a Worker Deployment version when
 * versioning is on), keep the sweep schedule, and run until stopped.
 */
import type { Client } from '@temporalio/client';
import type { DataConverter, Duration } from '@temporalio/common';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import { configureSsh } from '../remote/ssh/session';
import type { RotatorDeps } from '../rotators';
import type { VaultApi } from '../store/types';
import type { TargetDeps } from '../targets/types';
import type { BrokerLogger } from '../telemetry/logger';
import type { ActivityMetrics } from '../telemetry/metrics';
import { loadBundleInfo } from './bundle';
import { ensureReaperSchedule, ensureSweepSchedule } from './schedules';
import { deploymentOptions, promoteBuild, type VersioningBehaviorSetting, type VersioningMode } from './versioning';
import { createBrokerWorker } from './worker';

export interface WorkerRoleConfig {
  /** How to reach Temporal (address, TLS, API key, metadata). */
  temporal: { connection: NativeConnectionOptions & { address: string } };
  namespace: string;
  taskQueue: string;
  localWorkDir: string;
  endpoints: NonNullable<TargetDeps['endpoints']>;
  rotators: Omit<RotatorDeps, 'vault'>;
  hpcMaxConnections: number;
  awsWritesPerSecond: number;
  /** How often the orphan sweep runs (a Temporal duration: "1h", "30m" ...). */
  sweepEvery: string;
  /** How often the reaper looks for terminated runs (a Temporal duration; default 1m). */
  reapEvery?: string;
  versioning: { mode: VersioningMode; behavior: VersioningBehaviorSetting; deploymentName: string; buildId?: string };
}

export interface WorkerRoleOptions {
  config: WorkerRoleConfig;
  vault: VaultApi;
  client: Client;
  dataConverter: DataConverter;
  log: BrokerLogger;
  metrics: ActivityMetrics;
  /** The workflow bundle (lib/workflow-bundle.js by default). */
  bundlePath?: string;
  /** The worker stopped on its own (lost server, fatal error). */
  onFailure(err: Error): void;
}

export interface WorkerRole {
  buildId: string;
  stop(): Promise<void>;
}

export async function startWorkerRole(opts: WorkerRoleOptions): Promise<WorkerRole> {
  const { config, log } = opts;
  configureSsh({ maxConnections: config.hpcMaxConnections });
  // Built once by `make build`: the worker never bundles at start.
  const bundle = loadBundleInfo(opts.bundlePath);
  const versioning = { ...config.versioning, buildId: config.versioning.buildId ?? bundle.buildId };
  const deployment = deploymentOptions(versioning);
  const nativeConnection = await NativeConnection.connect(config.temporal.connection);
  const worker = await createBrokerWorker({
    workflowBundle: { codePath: bundle.codePath },
    client: opts.client,
    connection: nativeConnection,
    namespace: config.namespace,
    taskQueue: config.taskQueue,
    vault: opts.vault,
    targetDeps: { localWorkDir: config.localWorkDir, endpoints: config.endpoints, awsWritesPerSecond: config.awsWritesPerSecond },
    rotators: config.rotators,
    dataConverter: opts.dataConverter,
    metrics: opts.metrics,
    ...(deployment ? { deployment } : {}),
  });
  const running = worker.run();
  running.catch((err: Error) => {
    log.error('worker stopped', { error: err.message });
    opts.onFailure(err);
  });
  log.info('worker polling', {
    taskQueue: config.taskQueue,
    namespace: config.namespace,
    temporal: config.temporal.connection.address,
    buildId: versioning.buildId,
    versioning: versioning.mode,
    ...(deployment ? { deployment: versioning.deploymentName, behavior: versioning.behavior } : {}),
  });
  if (versioning.mode === 'promote') {
    const done = await promoteBuild(opts.client.connection, config.namespace, versioning, `secret-broker@${process.pid}`);
    log.info(done === 'promoted' ? 'this build is now the current version' : 'this build is already the current version', { deployment: versioning.deploymentName, buildId: versioning.buildId });
  } else if (versioning.mode === 'manual') {
    log.info('waiting to be made current or ramped', {
      deployment: versioning.deploymentName,
      buildId: versioning.buildId,
      command: `temporal worker deployment set-current-version --deployment-name ${versioning.deploymentName} --build-id ${versioning.buildId}`,
    });
  }
  const sweep = await ensureSweepSchedule(opts.client, config.taskQueue, config.sweepEvery as Duration);
  log.info('sweep schedule', { scheduleId: 'secret-broker-sweep', every: config.sweepEvery, state: sweep });
  const reapEvery = config.reapEvery ?? '1m';
  const reaper = await ensureReaperSchedule(opts.client, config.taskQueue, reapEvery as Duration);
  log.info('reaper schedule', { scheduleId: 'secret-broker-reaper', every: reapEvery, state: reaper });
  return {
    buildId: versioning.buildId,
    async stop() {
      worker.shutdown();
      await running.catch(() => undefined);
      await nativeConnection.close();
    },
  };
}
