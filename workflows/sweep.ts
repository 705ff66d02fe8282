/**
 * The scheduled sweep: the net under a run workflow that an operator terminated. For every compute
 * environment, delete what the broker owns there for runs whose workflow is no longer running.
 */
import { log, proxyActivities } from '@temporalio/workflow';
import type { createSweepActivities } from '../activities/sweep';
import { cloudWrite, vaultRead } from './activity-options';
import { errorMessage } from './failures';

/** The activities this workflow calls, and nothing else (a test stubs exactly these). */
export type SweepActivities = ReturnType<typeof createSweepActivities>;

const { listComputeEnvIds } = proxyActivities<SweepActivities>(vaultRead);
const { sweepComputeEnv } = proxyActivities<SweepActivities>({ ...cloudWrite, startToCloseTimeout: '30m' });

export const SWEEP_SCHEDULE_ID = 'secret-broker-sweep';

export interface SweepSummary {
  computeEnvs: number;
  deleted: number;
  kept: number;
  failed: { computeEnvId: string; error: string }[];
}

export async function sweepOrphans(): Promise<SweepSummary> {
  const ids = await listComputeEnvIds();
  const summary: SweepSummary = { computeEnvs: ids.length, deleted: 0, kept: 0, failed: [] };
  // One environment at a time: a sweep is background work and must not compete with launches.
  for (const id of ids) {
    try {
      const r = await sweepComputeEnv(id);
      summary.deleted += r.deleted;
      summary.kept += r.kept;
    } catch (err) {
      // One unreachable environment does not stop the others; the next sweep tries again.
      summary.failed.push({ computeEnvId: id, error: errorMessage(err) });
      log.warn('sweep of a compute environment failed', { computeEnvId: id });
    }
  }
  return summary;
}
