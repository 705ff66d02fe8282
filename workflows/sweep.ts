/**
 * The scheduled sweep: the net under a run workflow that an operator terminated, or whose history
 * is gone. For every compute environment, delete what the broker owns there for runs whose
 * workflow is no longer running. A fleet of compute environments continues as new every few hundred
 * of them, carrying what is left and the counts so far, so its history stays bounded.
 */
import { continueAsNew, log, proxyActivities, workflowInfo } from '@temporalio/workflow';
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

/** What a sweep carries into its next run when it continues as new. */
export interface SweepResume {
  /** Compute environments not swept yet. */
  left: string[];
  summary: SweepSummary;
}

/** Continue as new once history has this many events (each environment takes about six). */
const HISTORY_LIMIT = 2_000;

export async function sweepOrphans(resume?: SweepResume, historyLimit = HISTORY_LIMIT): Promise<SweepSummary> {
  const ids = resume ? resume.left : await listComputeEnvIds();
  const summary: SweepSummary = resume ? resume.summary : { computeEnvs: ids.length, deleted: 0, kept: 0, failed: [] };
  // One environment at a time: a sweep is background work and must not compete with launches.
  for (const [i, id] of ids.entries()) {
    if (i > 0 && (workflowInfo().historyLength >= historyLimit || workflowInfo().continueAsNewSuggested)) {
      log.info('sweep continues as new to keep history bounded', { left: ids.length - i });
      return continueAsNew<typeof sweepOrphans>({ left: ids.slice(i), summary }, historyLimit);
    }
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
