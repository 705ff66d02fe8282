/**
 * Worker Deployment versioning (Temporal 1.28+ server, SDK 1.24): a worker polls as version
 * `{ deploymentName, buildId }`, and the server routes new workflows to the deployment's current
 * version; each workflow stays on the build that ran it (`pinned`) or moves to the current one at its
 * next task (`auto-upgrade`). README.md (Worker versioning) says how a workflow change ships.
 *
 * - `off`: no versioning (the embedded default and the tests: one worker per task queue, replaced with the code).
 * - `promote`: once this worker polls, its build becomes the current version (replace-in-place deploys,
 *   like docker compose up with a new image): new and auto-upgrade workflows move to it.
 * - `manual`: the worker polls as its version and waits to be made current or ramped by an operator
 *   (`temporal worker deployment set-current-version --deployment-name D --build-id B`): blue/green.
 */
import type { Connection } from '@temporalio/client';
import type { WorkerDeploymentOptions } from '@temporalio/worker';

export type VersioningMode = 'off' | 'promote' | 'manual';
export type VersioningBehaviorSetting = 'auto-upgrade' | 'pinned';

export interface VersioningSettings {
  mode: VersioningMode;
  behavior: VersioningBehaviorSetting;
  deploymentName: string;
  buildId: string;
}

export function deploymentOptions(v: VersioningSettings): WorkerDeploymentOptions | undefined {
  if (v.mode === 'off') return undefined;
  return {
    useWorkerVersioning: true,
    version: { deploymentName: v.deploymentName, buildId: v.buildId },
    defaultVersioningBehavior: v.behavior === 'pinned' ? 'PINNED' : 'AUTO_UPGRADE',
  };
}

/** The deployment's current build id, or undefined (no deployment yet, or no current version). */
export async function currentBuildId(connection: Pick<Connection, 'workflowService'>, namespace: string, deploymentName: string): Promise<string | undefined> {
  try {
    const d = await connection.workflowService.describeWorkerDeployment({ namespace, deploymentName });
    return d.workerDeploymentInfo?.routingConfig?.currentDeploymentVersion?.buildId ?? undefined;
  } catch (err) {
    if ((err as { code?: number }).code === 5 /* NOT_FOUND */) return undefined;
    throw err;
  }
}

/**
 * Make this build the deployment's current version, once the server has registered it (a version
 * exists once one of its workers has polled). Returns what it did.
 */
export async function promoteBuild(
  connection: Pick<Connection, 'workflowService'>,
  namespace: string,
  v: VersioningSettings,
  identity: string,
  timeoutMs = 60_000,
): Promise<'already-current' | 'promoted'> {
  if ((await currentBuildId(connection, namespace, v.deploymentName)) === v.buildId) return 'already-current';
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await connection.workflowService.setWorkerDeploymentCurrentVersion({ namespace, deploymentName: v.deploymentName, buildId: v.buildId, identity });
      return 'promoted';
    } catch (err) {
      // Not registered yet (the first poll is on its way): try again shortly.
      const code = (err as { code?: number }).code;
      if (Date.now() > deadline || (code !== 5 /* NOT_FOUND */ && code !== 9 /* FAILED_PRECONDITION */)) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
